import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCliArgs, type CliInvocation } from '../../functions/core/cli-args.js';

const parsed: { name: string; argv: string[]; expect: Partial<CliInvocation> }[] = [
  { name: 'status on the replica', argv: ['status', '--stage', 'local'], expect: { stage: 'local', region: null, verbose: false, run: { command: 'status', json: false } } },
  { name: 'status as JSON, flags in any order, with = values', argv: ['status', '--json', '--stage=production', '--region', 'eu-west-1'], expect: { stage: 'production', region: 'eu-west-1', run: { command: 'status', json: true } } },
  { name: 'add with names, key type, profile and reuse-key', argv: ['add', 'a.test', '--name', 'api.a.test', '--name', 'www.a.test', '--key-type', 'rsa-2048', '--profile', 'tlsserver', '--reuse-key', '--stage', 'local'], expect: { run: { command: 'add', domain: 'a.test', names: ['api.a.test', 'www.a.test'], keyType: 'rsa-2048', profile: 'tlsserver', reuseKey: true } } },
  { name: 'add with the defaults', argv: ['add', 'a.test', '--stage', 'local'], expect: { run: { command: 'add', domain: 'a.test', names: [], keyType: null, profile: null, reuseKey: false } } },
  { name: 'remove', argv: ['remove', 'a.test', '--stage', 'local'], expect: { run: { command: 'remove', domain: 'a.test' } } },
  { name: 'renew what is due', argv: ['renew', '--stage', 'production'], expect: { run: { command: 'renew', domains: [], force: false, all: false, where: 'default' } } },
  { name: 'renew named domains by force, in-process', argv: ['renew', 'a.test', 'b.test', '--force', '--in-process', '--stage', 'production'], expect: { run: { command: 'renew', domains: ['a.test', 'b.test'], force: true, all: false, where: 'in-process' } } },
  { name: 'renew everything by force with --all', argv: ['renew', '--force', '--all', '--remote', '--stage', 'production'], expect: { run: { command: 'renew', domains: [], force: true, all: true, where: 'remote' } } },
  { name: 'dry-run of one domain', argv: ['dry-run', 'a.test', '--stage', 'local'], expect: { run: { command: 'dry-run', domains: ['a.test'] } } },
  { name: 'revoke with a reason', argv: ['revoke', 'a.test', '--reason', 'keyCompromise', '--stage', 'local'], expect: { run: { command: 'revoke', domain: 'a.test', reason: 'keyCompromise' } } },
  { name: 'revoke without a reason is unspecified', argv: ['revoke', 'a.test', '--stage', 'local'], expect: { run: { command: 'revoke', domain: 'a.test', reason: 'unspecified' } } },
  { name: 'env', argv: ['env', '--stage', 'local', '--verbose'], expect: { verbose: true, run: { command: 'env' } } },
  { name: 'no command is help', argv: [], expect: { run: { command: 'help' } } },
];

for (const { name, argv, expect } of parsed) {
  test(`parses ${name}`, () => {
    const invocation = parseCliArgs(argv);

    for (const [field, value] of Object.entries(expect)) assert.deepEqual(invocation[field as keyof CliInvocation], value, field);
  });
}

const refused: { name: string; argv: string[]; message: RegExp }[] = [
  { name: 'an unknown command', argv: ['renwe', '--stage', 'local'], message: /unknown command "renwe" \(commands: status, add, remove, renew, dry-run, revoke, env\)/ },
  { name: 'a missing stage', argv: ['status'], message: /status: --stage is required/ },
  { name: 'a stage that is no stage name', argv: ['status', '--stage', '../prod'], message: /--stage "..\/prod" is not a stage name/ },
  { name: 'a region that is none', argv: ['status', '--stage', 'prod', '--region', 'mars'], message: /--region "mars" is not an AWS region/ },
  { name: 'a flag another command takes', argv: ['status', '--force', '--stage', 'local'], message: /status: unknown flag --force \(flags: --json, --stage, --region, --verbose\)/ },
  { name: 'a flag without its value', argv: ['add', 'a.test', '--key-type', '--stage', 'local'], message: /add: --key-type needs a value/ },
  { name: 'a value for a flag that takes none', argv: ['status', '--json=yes', '--stage', 'local'], message: /--json takes no value/ },
  { name: 'an unknown key type', argv: ['add', 'a.test', '--key-type', 'dsa', '--stage', 'local'], message: /--key-type must be one of ecdsa-p256, rsa-2048, rsa-4096/ },
  { name: 'a hostile domain', argv: ['add', '../etc', '--stage', 'local'], message: /add: "..\/etc" is not a domain name/ },
  { name: 'a hostile name', argv: ['add', 'a.test', '--name', '*.a.test', '--stage', 'local'], message: /add --name: "\*.a.test" is not a domain name: wildcard/ },
  { name: 'add without a domain', argv: ['add', '--stage', 'local'], message: /add: give exactly one domain \(got 0\)/ },
  { name: 'remove with two domains', argv: ['remove', 'a.test', 'b.test', '--stage', 'local'], message: /remove: give exactly one domain \(got 2\)/ },
  { name: 'a forced renewal of everything without --all', argv: ['renew', '--force', '--stage', 'production'], message: /--force with no domain would re-issue every certificate; name the domains, or add --all/ },
  { name: '--all with domains', argv: ['renew', 'a.test', '--all', '--stage', 'production'], message: /give domains or --all, not both/ },
  { name: '--remote and --in-process together', argv: ['renew', '--remote', '--in-process', '--stage', 'production'], message: /exclude each other/ },
  { name: 'an unknown revocation reason', argv: ['revoke', 'a.test', '--reason', 'lost', '--stage', 'local'], message: /--reason must be one of unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation/ },
  { name: 'status with an argument', argv: ['status', 'a.test', '--stage', 'local'], message: /status: takes no arguments \(got "a.test"\)/ },
  { name: 'a flag given twice', argv: ['add', 'a.test', '--profile', 'a', '--profile', 'b', '--stage', 'local'], message: /--profile given more than once/ },
];

for (const { name, argv, message } of refused) {
  test(`refuses ${name}, naming it`, () => {
    assert.throws(() => parseCliArgs(argv), message);
  });
}
