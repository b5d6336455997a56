import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostTemplates } from './layout.js';
import { renderTemplate } from './render.js';
import type { ReplicaState } from './state.js';

// Lower-case DNS name with at least two labels: nothing that could break out of an nginx directive.
const domainPattern = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Writes the HTTPS server block for `domain` (and `www.<domain>`) into the replica's sites directory
 * and returns its path. Does not reload nginx: the caller installs the certificate first.
 */
export function writeSite(state: ReplicaState, domain: string): string {
  if (!domainPattern.test(domain)) throw new Error(`${domain}: writing nginx site: not a valid domain name`);
  const text = renderTemplate(readFileSync(hostTemplates.site, 'utf8'), {
    HTTPS_LISTEN: `127.0.0.1:${state.nginx.httpsPort}`,
    DOMAIN: domain,
    CERTS_DIR: state.nginx.certsDir,
  });
  const file = join(state.nginx.sitesDir, `${domain}.conf`);
  writeFileSync(file, text);
  return file;
}
