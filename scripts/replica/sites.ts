import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderTemplate } from '../../functions/core/host-templates.js';
import { hostTemplates } from './layout.js';

/** The nginx an HTTPS site is written for: its sites directory, TLS port and certificates directory. */
export interface SiteHost {
  sitesDir: string;
  httpsPort: number;
  certsDir: string;
}

/**
 * Writes the HTTPS server block for `domain` (and `www.<domain>`), rendered from the committed
 * site template with the agent's renderer (which refuses anything but a domain name), into the
 * sites directory of `nginx` and returns its path. Does not reload nginx: the caller installs the
 * certificate first.
 */
export function writeSite(nginx: SiteHost, domain: string): string {
  const documentRoot = join(dirname(nginx.sitesDir), 'www', domain);
  const text = renderTemplate('site.conf.template', readFileSync(hostTemplates.site, 'utf8'), {
    HTTPS_LISTEN: `127.0.0.1:${nginx.httpsPort}`,
    DOMAIN: domain,
    CERTS_DIR: nginx.certsDir,
    DOCUMENT_ROOT: documentRoot,
  }, { nameservers: [] });
  mkdirSync(documentRoot, { recursive: true });
  writeFileSync(join(documentRoot, 'index.html'), `${domain}\n`);
  const file = join(nginx.sitesDir, `${domain}.conf`);
  writeFileSync(file, text);
  return file;
}
