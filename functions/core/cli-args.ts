/**
 * The operator command line, parsed: `acme-certs <command> [arguments] [--flags]`. Pure: a bad
 * flag or argument is an error that names it, before anything is read or changed.
 */

import { KEY_TYPES, type KeyType } from './domain-config.js';
import { domainNameProblem, printable } from './domain-name.js';
import { REVOCATION_REASONS, type RevocationReason } from './revocation.js';


export type CliCommand =
  | { command: 'status'; json: boolean }
  | { command: 'add'; domain: string; names: string[]; keyType: KeyType | null; profile: string | null; reuseKey: boolean }
  | { command: 'remove'; domain: string }
  | { command: 'renew'; domains: string[]; force: boolean; all: boolean; where: 'remote' | 'in-process' | 'default' }
  | { command: 'dry-run'; domains: string[] }
  | { command: 'revoke'; domain: string; reason: RevocationReason }
  | { command: 'env' }
  | { command: 'help' };

export interface CliInvocation {
  /** `local` is the replica; anything else a deployed stage. */
  stage: string;
  region: string | null;
  verbose: boolean;
  run: CliCommand;
}

/** A command line that cannot be run: the message names the argument or flag at fault. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const STAGE = /^[A-Za-z0-9-]{1,40}$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

/** Flags each command takes, besides the common --stage, --region and --verbose. */
const FLAGS: Record<CliCommand['command'], { booleans: string[]; values: string[] }> = {
  status: { booleans: ['--json'], values: [] },
  add: { booleans: ['--reuse-key'], values: ['--name', '--key-type', '--profile'] },
  remove: { booleans: [], values: [] },
  renew: { booleans: ['--force', '--all', '--remote', '--in-process'], values: [] },
  'dry-run': { booleans: [], values: [] },
  revoke: { booleans: [], values: ['--reason'] },
  env: { booleans: [], values: [] },
  help: { booleans: [], values: [] },
};

/** Returns the invocation `argv` (without node and the script) asks for; throws UsageError naming what is wrong. */
export function parseCliArgs(argv: readonly string[]): CliInvocation {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') return { stage: '', region: null, verbose: false, run: { command: 'help' } };
  if (!(name in FLAGS)) throw new UsageError(`unknown command "${printable(name.slice(0, 40))}" (commands: ${Object.keys(FLAGS).filter((command) => command !== 'help').join(', ')})`);
  const command = name as CliCommand['command'];
  const allowed = FLAGS[command];
  const positional: string[] = [];
  const booleans = new Set<string>();
  const values = new Map<string, string[]>();
  let stage: string | null = null;
  let region: string | null = null;
  let verbose = false;
  for (let i = 0; i < rest.length; i += 1) {
    const argument = rest[i] as string;
    if (!argument.startsWith('--')) {
      positional.push(argument);
      continue;
    }
    const [flag, inline] = argument.includes('=') ? [argument.slice(0, argument.indexOf('=')), argument.slice(argument.indexOf('=') + 1)] : [argument, undefined];
    const takesValue = flag === '--stage' || flag === '--region' || allowed.values.includes(flag);
    if (!takesValue && !allowed.booleans.includes(flag) && flag !== '--verbose') throw new UsageError(`${command}: unknown flag ${printable(flag.slice(0, 40))}${flagHint(allowed)}`);
    if (!takesValue) {
      if (inline !== undefined) throw new UsageError(`${command}: ${flag} takes no value`);
      if (flag === '--verbose') verbose = true;
      else booleans.add(flag);
      continue;
    }
    const value = inline ?? rest[(i += 1)];
    if (value === undefined || value === '' || (inline === undefined && value.startsWith('--'))) throw new UsageError(`${command}: ${flag} needs a value`);
    if (flag === '--stage') stage = value;
    else if (flag === '--region') region = value;
    else values.set(flag, [...(values.get(flag) ?? []), value]);
  }
  if (stage === null) throw new UsageError(`${command}: --stage is required (a deployed stage such as production, or local for the replica)`);
  if (!STAGE.test(stage)) throw new UsageError(`${command}: --stage "${printable(stage.slice(0, 40))}" is not a stage name (letters, digits and -)`);
  if (region !== null && !REGION.test(region)) throw new UsageError(`${command}: --region "${printable(region.slice(0, 40))}" is not an AWS region`);
  const single = (flag: string): string | null => {
    const given = values.get(flag) ?? [];
    if (given.length > 1) throw new UsageError(`${command}: ${flag} given more than once`);
    return given[0] ?? null;
  };
  return { stage, region, verbose, run: buildCommand(command, positional, booleans, values, single) };
}

function buildCommand(command: CliCommand['command'], positional: string[], booleans: Set<string>, values: Map<string, string[]>, single: (flag: string) => string | null): CliCommand {
  const domains = () => positional.map((domain) => checkedDomain(command, domain));
  const oneDomain = () => {
    if (positional.length !== 1) throw new UsageError(`${command}: give exactly one domain (got ${positional.length})`);
    return checkedDomain(command, positional[0] as string);
  };
  const none = () => {
    if (positional.length > 0) throw new UsageError(`${command}: takes no arguments (got "${printable((positional[0] as string).slice(0, 40))}")`);
  };
  switch (command) {
    case 'status':
      none();
      return { command, json: booleans.has('--json') };
    case 'add': {
      const domain = oneDomain();
      const keyType = single('--key-type');
      if (keyType !== null && !(KEY_TYPES as readonly string[]).includes(keyType)) throw new UsageError(`add: --key-type must be one of ${KEY_TYPES.join(', ')}`);
      const names = (values.get('--name') ?? []).map((name) => checkedDomain('add --name', name));
      return { command, domain, names, keyType: keyType as KeyType | null, profile: single('--profile'), reuseKey: booleans.has('--reuse-key') };
    }
    case 'remove':
      return { command, domain: oneDomain() };
    case 'renew': {
      const list = domains();
      const force = booleans.has('--force');
      const all = booleans.has('--all');
      if (all && list.length > 0) throw new UsageError('renew: --all renews every domain; give domains or --all, not both');
      // The duplicate-certificate limit (5 a week for the same names) punishes a forced run over everything.
      if (force && list.length === 0 && !all) throw new UsageError('renew: --force with no domain would re-issue every certificate; name the domains, or add --all');
      if (booleans.has('--remote') && booleans.has('--in-process')) throw new UsageError('renew: --remote and --in-process exclude each other');
      return { command, domains: list, force, all, where: booleans.has('--remote') ? 'remote' : booleans.has('--in-process') ? 'in-process' : 'default' };
    }
    case 'dry-run':
      return { command, domains: domains() };
    case 'revoke': {
      const domain = oneDomain();
      const reason = single('--reason') ?? 'unspecified';
      if (!(reason in REVOCATION_REASONS)) throw new UsageError(`revoke: --reason must be one of ${Object.keys(REVOCATION_REASONS).join(', ')}`);
      return { command, domain, reason: reason as RevocationReason };
    }
    case 'env':
      none();
      return { command };
    case 'help':
      return { command };
  }
}

function checkedDomain(command: string, domain: string): string {
  const problem = domainNameProblem(domain);
  if (problem) throw new UsageError(`${command}: "${printable(domain.slice(0, 80))}" is not a domain name: ${problem}`);
  return domain;
}

function flagHint(allowed: { booleans: string[]; values: string[] }): string {
  const flags = [...allowed.booleans, ...allowed.values, '--stage', '--region', '--verbose'];
  return ` (flags: ${flags.join(', ')})`;
}

export const USAGE = `acme-certs <command> --stage <stage> [--region <region>] [--verbose]

  status [--json]                      every domain: names, serial, expiry, last attempt, lock, what is served, what hosts confirmed
  add <domain> [--name N ...] [--key-type T] [--profile P] [--reuse-key]
                                       manage a domain (its folder and config.json)
  remove <domain>                      stop managing a domain; says what each host must do
  renew [<domain> ...] [--force] [--all] [--remote | --in-process]
                                       renew what is due (or, with --force, the named domains)
  dry-run [<domain> ...]               the whole issuance against the staging CA, storing nothing
  revoke <domain> [--reason R]         revoke the stored certificate (RFC 8555 §7.6); the next run renews it
                                       (revoke before remove: remove deletes the certificate)
  env                                  the shell exports for the local replica (--stage local)

--stage local is the local replica (npm run replica:start); it never reaches real AWS.`;
