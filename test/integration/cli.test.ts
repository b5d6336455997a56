/**
 * `acme-certs`, run as an operator runs it (bin/acme-certs, in a child process, with a login
 * shell's environment: no replica variables, no NODE_EXTRA_CA_CERTS) against the local replica:
 * the stack deployed into moto gives the stage's bucket and the function's settings.
 */

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { keySha256, parsePrivateKey } from '../../functions/core/certificate.js';
import { parseStatus } from '../../functions/core/status.js';
import { getText, listKeys, putText, replicaState, s3Client, uniqueLabel } from '../helpers/replica-clients.js';

const state = replicaState();
const s3 = s3Client(state);
const bucket = state.buckets.certificates;
const repo = join(import.meta.dirname, '..', '..');

/** A root login shell's environment (Debian's PATH for root): what an operator's terminal has, nothing the test runner set. */
function operatorEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: process.env.HOME ?? '/root', LANG: 'C.UTF-8', ...extra };
}

function certs(args: string[], env: NodeJS.ProcessEnv = operatorEnv()) {
  const result = spawnSync(join(repo, 'bin', 'acme-certs'), args, { cwd: repo, env, encoding: 'utf8', timeout: 300_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, output: `${result.stdout}${result.stderr}` };
}

async function statusOf(domain: string) {
  return parseStatus(await getText(s3, bucket, `${domain}/status.json`));
}

describe('acme-certs on the local replica', () => {
  test('the README\'s operator walkthrough runs as written in a plain shell: add, renew, status, the agent installs, remove, the agent prunes', async () => {
    const readme = readFileSync(join(repo, 'README.md'), 'utf8');
    const block = /<!-- operator walkthrough: start -->\n```sh\n([\s\S]*?)```\n<!-- operator walkthrough: end -->/.exec(readme)?.[1];
    assert.ok(block, 'the README has the walkthrough between its markers');
    const domain = `${uniqueLabel('walk')}.test`;

    const shell = spawnSync('bash', ['-c', block.replaceAll('shop.test', domain)], { cwd: repo, env: operatorEnv(), encoding: 'utf8', timeout: 300_000 });

    const output = `${shell.stdout}${shell.stderr}`;
    assert.equal(shell.status, 0, output);
    assert.match(shell.stdout, new RegExp(`added ${domain}`));
    assert.match(shell.stdout, new RegExp(`^${domain}: renewed, serial `, 'm'));
    assert.match(shell.stdout, new RegExp(`^${domain} \\[${domain} www\\.${domain}\\]: serial [0-9a-f]+, until `, 'm'));
    assert.match(shell.stdout, new RegExp(`installed ${domain}: serial`));
    assert.match(shell.stdout, new RegExp(`removed ${domain}: \\d+ object`));
    assert.match(output, new RegExp(`pruned ${domain}|removed ${domain} from`), 'the second agent run prunes the domain');
    assert.deepEqual(await listKeys(s3, bucket, `${domain}/`), []);
  });

  test('add, renew, status, dry-run, revoke with keyCompromise, renew again, remove: each says what it did', async () => {
    const domain = `${uniqueLabel('cli')}.test`;

    const added = certs(['add', domain, '--name', `api.${domain}`, '--stage', 'local']);
    const before = certs(['status', '--stage', 'local']);
    const renewed = certs(['renew', domain, '--stage', 'local']);
    const after = certs(['status', '--json', '--stage', 'local']);
    const statusBeforeDryRun = await getText(s3, bucket, `${domain}/status.json`);
    const dry = certs(['dry-run', domain, '--stage', 'local']);
    const statusAfterDryRun = await getText(s3, bucket, `${domain}/status.json`);
    const keyBeforeRevoke = (await getText(s3, bucket, `${domain}/domain.key`)) ?? '';
    const revoked = certs(['revoke', domain, '--reason', 'keyCompromise', '--stage', 'local']);
    const statusRevoked = await statusOf(domain);
    const flagged = certs(['status', '--stage', 'local']);
    const again = certs(['renew', domain, '--stage', 'local']);
    const keyAfter = (await getText(s3, bucket, `${domain}/domain.key`)) ?? '';
    const removed = certs(['remove', domain, '--stage', 'local']);
    const keysLeft = await listKeys(s3, bucket, `${domain}/`);

    assert.equal(added.code, 0, added.output);
    assert.match(added.stdout, new RegExp(`added ${domain} to s3://${bucket} with config.json`));
    assert.match(before.stdout, new RegExp(`^${domain}: no certificate; never attempted  !! no certificate yet$`, 'm'));
    assert.equal(before.code, 1, 'a domain without a certificate needs attention');
    assert.equal(renewed.code, 0, renewed.output);
    assert.match(renewed.stdout, new RegExp(`^${domain}: renewed, serial [0-9a-f]+, until `, 'm'));
    const rows = (JSON.parse(after.stdout) as { domains: { domain: string; names: string[]; serial: string; daysLeft: number; attention: string[] }[] }).domains;
    const row = rows.find((item) => item.domain === domain);
    assert.ok(row, after.output);
    assert.deepEqual(row.names, [`api.${domain}`, domain].sort());
    assert.deepEqual(row.attention, []);
    assert.ok(row.daysLeft > 0);
    assert.equal(dry.code, 0, dry.output);
    assert.match(dry.stdout, /^dry run against https:\/\/.+: nothing is stored$/m);
    assert.match(dry.stdout, new RegExp(`^dry run: ${domain}: renewed, serial `, 'm'));
    assert.equal(statusAfterDryRun, statusBeforeDryRun, 'the dry run stored nothing');
    assert.equal(revoked.code, 0, revoked.output);
    assert.match(revoked.stdout, new RegExp(`revoked ${domain} serial ${row.serial} \\(keyCompromise\\).*with a new key`));
    assert.equal(statusRevoked?.revoked?.serial, row.serial);
    assert.equal(statusRevoked?.refusedKeySha256, keySha256(parsePrivateKey(keyBeforeRevoke)));
    assert.match(flagged.stdout, new RegExp(`^${domain} .*!! .*was revoked .*\\(keyCompromise\\)`, 'm'));
    assert.equal(again.code, 0, again.output);
    assert.match(again.stdout, new RegExp(`^${domain}: renewed, .*stored certificate is not trustworthy: revoked`, 'm'));
    assert.notEqual(keyAfter, keyBeforeRevoke, 'a new key after keyCompromise');
    assert.equal(removed.code, 0, removed.output);
    assert.match(removed.stdout, new RegExp(`removed ${domain}: \\d+ object\\(s\\) deleted`));
    assert.match(removed.stdout, /^1\. .*remove or disable every nginx server block/m);
    assert.match(removed.stdout, /^2\. .*acme-sync --prune/m);
    assert.deepEqual(keysLeft, []);
    assert.doesNotMatch(`${renewed.output}${again.output}${dry.output}`, /PRIVATE KEY/);
  });

  test('a bad flag, an unknown or already managed domain, and a forced renewal of everything are refused, naming them, changing nothing', async () => {
    const domain = `${uniqueLabel('refused')}.test`;
    const missing = `${uniqueLabel('missing')}.test`;
    assert.equal(certs(['add', domain, '--stage', 'local']).code, 0);
    const keysBefore = await listKeys(s3, bucket, `${domain}/`);

    const results = {
      flag: certs(['status', '--force', '--stage', 'local']),
      duplicate: certs(['add', domain, '--key-type', 'rsa-2048', '--stage', 'local']),
      unknownRemove: certs(['remove', missing, '--stage', 'local']),
      unknownRenew: certs(['renew', missing, '--stage', 'local']),
      unknownRevoke: certs(['revoke', missing, '--stage', 'local']),
      everything: certs(['renew', '--force', '--stage', 'local']),
      remote: certs(['renew', domain, '--remote', '--stage', 'local']),
      badConfig: certs(['add', `x${domain}`, '--profile', 'tls server', '--stage', 'local']),
      locked: await (async () => {
        await putText(s3, bucket, `${domain}/renew.lock`, JSON.stringify({ runId: 'a-running-renewal', acquiredAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString() }));
        return certs(['remove', domain, '--stage', 'local']);
      })(),
    };

    for (const [name, result] of Object.entries(results)) assert.equal(result.code, 2, `${name}: ${result.output}`);
    assert.match(results.flag.stderr, /acme-certs: status: unknown flag --force/);
    assert.match(results.duplicate.stderr, new RegExp(`${domain} is already managed \\(its folder exists\\); nothing changed`));
    assert.match(results.unknownRemove.stderr, new RegExp(`${missing} is not managed`));
    assert.match(results.unknownRenew.stderr, new RegExp(missing));
    assert.match(results.unknownRevoke.stderr, new RegExp(`${missing} has no stored certificate to revoke`));
    assert.match(results.everything.stderr, /--force with no domain would re-issue every certificate/);
    assert.match(results.remote.stderr, /moto cannot run Lambda functions/);
    assert.match(results.badConfig.stderr, new RegExp(`x${domain}: config.json "profile" must be a profile name`));
    assert.match(results.locked.stderr, new RegExp(`${domain} is being renewed \\(run a-running-renewal holds its lock until .+\\); nothing changed`));
    assert.deepEqual((await listKeys(s3, bucket, `${domain}/`)).filter((key) => !key.endsWith('renew.lock')), keysBefore, 'nothing changed');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `${domain}/renew.lock` }));
    assert.equal(await listKeys(s3, bucket, `x${domain}/`).then((keys) => keys.length), 0);
    assert.equal(certs(['remove', domain, '--stage', 'local']).code, 0);
  });

  test('a stage with no stack, and a replica that is not running, are errors that name them', () => {
    const stateFile = join(repo, '.replica', 'state.json');

    const wrongStage = certs(['status', '--stage', 'nosuch'], operatorEnv({ AWS_ENDPOINT_URL: state.awsEndpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: state.region }));
    renameSync(stateFile, `${stateFile}.hidden`);
    let noReplica;
    try {
      noReplica = certs(['status', '--stage', 'local']);
    } finally {
      renameSync(`${stateFile}.hidden`, stateFile);
    }

    assert.equal(wrongStage.code, 2, wrongStage.output);
    assert.match(wrongStage.stderr, new RegExp(`stage nosuch: no stack acme-certificates-nosuch in region us-east-1 at ${state.awsEndpoint} \\(AWS_ENDPOINT_URL is set: not AWS itself\\); deploy it with npx serverless deploy --stage nosuch`));
    assert.equal(noReplica.code, 2, noReplica.output);
    assert.match(noReplica.stderr, /stage local: the local replica is not running \(no .replica\/state.json\); start it with npm run replica:start/);
  });

  test('env prints the exports that let a plain shell reach the replica with the AWS SDK', async () => {
    const domain = `${uniqueLabel('envcheck')}.test`;
    assert.equal(certs(['add', domain, '--stage', 'local']).code, 0);

    const exports = certs(['env', '--stage', 'local']);
    const script = `${exports.stdout}\nnode --input-type=module -e "import { S3Client, HeadObjectCommand } from '@aws-sdk/client-s3'; await new S3Client({ forcePathStyle: true }).send(new HeadObjectCommand({ Bucket: process.env.CERTIFICATES_BUCKET, Key: '${domain}/' })); console.log('reached', process.env.CERTIFICATES_BUCKET)"`;
    const shell = spawnSync('bash', ['-c', script], { cwd: repo, env: operatorEnv({ AWS_PROFILE: 'a-real-account' }), encoding: 'utf8', timeout: 60_000 });
    const wrongStage = certs(['env', '--stage', 'production']);

    assert.equal(exports.code, 0, exports.output);
    assert.match(exports.stdout, /^unset AWS_PROFILE AWS_SESSION_TOKEN$/m);
    assert.match(exports.stdout, new RegExp(`^export AWS_ENDPOINT_URL='${state.awsEndpoint}'$`, 'm'));
    assert.equal(shell.status, 0, `${shell.stdout}${shell.stderr}`);
    assert.match(shell.stdout, new RegExp(`reached ${bucket}`));
    assert.equal(wrongStage.code, 2);
    assert.match(wrongStage.stderr, /env: prints the local replica's exports; use --stage local/);
    await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: `${domain}/` }));
    assert.equal(certs(['remove', domain, '--stage', 'local']).code, 0);
  });
});
