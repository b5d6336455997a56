/**
 * `sync-agent.js render TEMPLATE [--output FILE] NAME=VALUE...`: fills in a host template
 * (core/host-templates.ts) and writes it whole or not at all (a temporary file renamed into place).
 */

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ConfigurationError } from '../core/errors.js';
import { describeTemplateValues, renderTemplate, type HostFacts } from '../core/host-templates.js';

/** Where install.sh puts the templates; a bare template name is looked up here. */
export const INSTALLED_TEMPLATES_DIR = '/opt/acme-sync/templates';

/** Renders the template and writes it (or prints it, without --output); returns the exit status. */
export async function renderCommand(command: { template: string; output: string | null; values: Record<string, string> }): Promise<number> {
  const { name, text } = readTemplate(command.template);
  const rendered = renderTemplate(name, text, command.values, hostFacts());
  if (command.output === null) {
    process.stdout.write(rendered);
    return 0;
  }
  const temporary = join(dirname(command.output), `.${basename(command.output)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temporary, rendered, { mode: 0o644, flag: 'wx' });
    await rename(temporary, command.output);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new ConfigurationError(`render: writing ${command.output}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  console.error(`acme-sync: wrote ${command.output}`);
  return 0;
}

/** Returns the values a template takes, with their defaults on this host. */
export function renderHelp(template: string): string {
  const name = basename(template);
  return [`values of ${name} (NAME=VALUE):`, ...describeTemplateValues(name, hostFacts())].join('\n');
}

/** Reads a template by path, or by bare name from the installed templates. */
function readTemplate(template: string): { name: string; text: string } {
  const path = template.includes('/') ? template : join(INSTALLED_TEMPLATES_DIR, template);
  try {
    return { name: basename(path), text: readFileSync(path, 'utf8') };
  } catch (error) {
    throw new ConfigurationError(`render: reading ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** The nameservers of /etc/resolv.conf (the default for nginx's resolver). */
function hostFacts(): HostFacts {
  let text = '';
  try {
    text = readFileSync('/etc/resolv.conf', 'utf8');
  } catch {
    // no resolv.conf: RESOLVER must be given
  }
  const nameservers = [...text.matchAll(/^\s*nameserver\s+(\S+)/gm)].map((match) => (match[1] as string).replace(/%.*$/, ''));
  return { nameservers };
}
