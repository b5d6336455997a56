/**
 * Reading nginx's own account of its configuration: `nginx -T` tests the configuration and then
 * prints every file it loaded, each after a `# configuration file <path>:` line. The agent reads
 * which certificate files the server blocks use from it, so that it neither reloads nginx for a
 * pair no server block uses nor prunes a pair one still does.
 */

import { posix } from 'node:path';
import type { References } from './sync-plan.js';

const FILE_HEADER = /^# configuration file (.+):$/;

/** Returns true when `output` holds an `nginx -T` configuration dump. */
export function isConfigurationDump(output: string): boolean {
  return output.split('\n').some((line) => FILE_HEADER.test(line));
}

/**
 * Returns the value of every `ssl_certificate` directive in an `nginx -T` dump, in order, with
 * relative paths resolved against `confDir` (nginx's configuration prefix). Comments and quoted
 * values are handled; `ssl_certificate_key` and other directives are not returned.
 */
export function certificatePaths(dump: string, confDir: string): string[] {
  // The file headers are comments, so the whole dump parses as one text.
  return directives(dump)
    .filter(([name, value]) => name === 'ssl_certificate' && value !== undefined)
    .map(([, value]) => (value as string))
    .map((value) => (value.startsWith('/') || value.includes('$') ? value : posix.join(confDir, value)));
}

/**
 * Returns which of `domains` the configuration uses: `all` when a certificate path holds a
 * variable (`/etc/nginx/certs/$ssl_server_name/domain.crt` could be any of them), otherwise the
 * domains one of whose certificate paths (`certificatePaths(domain)`: as configured, and with
 * symlinks resolved) is among `paths` (likewise given as written and resolved).
 */
export function referencedDomains(paths: readonly string[], domains: readonly string[], certificatePaths: (domain: string) => readonly string[]): References {
  if (paths.some((path) => path.includes('$'))) return { kind: 'all' };
  const used = new Set(paths.map((path) => posix.normalize(path)));
  return { kind: 'some', domains: new Set(domains.filter((domain) => certificatePaths(domain).some((path) => used.has(posix.normalize(path))))) };
}

/** Splits nginx configuration text into directives (name and arguments), ignoring comments and block braces. */
function directives(text: string): string[][] {
  const result: string[][] = [];
  let words: string[] = [];
  let word = '';
  let quote: string | null = null;
  let inWord = false;
  const endWord = () => {
    if (inWord) words.push(word);
    word = '';
    inWord = false;
  };
  let comment = false;
  for (let i = 0; i < text.length; i += 1) {
    const char = text[i] as string;
    if (comment) {
      comment = char !== '\n';
      continue;
    }
    if (quote) {
      if (char === '\\' && i + 1 < text.length) {
        word += text[(i += 1)];
      } else if (char === quote) {
        quote = null;
      } else {
        word += char;
      }
      continue;
    }
    if (char === '#' && !inWord) {
      endWord();
      comment = true;
      continue;
    }
    if (char === '"' || char === "'") {
      quote = char;
      inWord = true;
    } else if (char === ';' || char === '{' || char === '}') {
      endWord();
      if (char === ';' && words.length > 0) result.push(words);
      words = [];
    } else if (/\s/.test(char)) {
      endWord();
    } else {
      word += char;
      inWord = true;
    }
  }
  return result;
}
