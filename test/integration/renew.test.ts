/**
 * The renew workflow end to end on the local replica: Pebble issues, validating HTTP-01 through
 * nginx → the S3 challenge prefix in moto; the test checks what lands in the bucket with openssl.
 */

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { createServer, type TLSSocket } from 'node:tls';
import { SsmAccountKeyStore } from '../../functions/adapters/ssm-account-key.js';
import { generateDomainKey } from '../../functions/core/keys.js';
import type { DomainOutcome } from '../../functions/workflows/renew-domain.js';
import { runFailed } from '../../functions/workflows/renew-all.js';
import { clearDnsA, setDnsA } from '../../scripts/replica/dns.js';
import { opensslNames, opensslPublicKey, opensslReadCsr, opensslVerify } from '../helpers/openssl.js';
import { addDomainFolder, getText, listKeys, pebbleRoot, putText, replicaState, s3Client, ssmClient, uniqueLabel } from '../helpers/replica-clients.js';
import { renewHarness, type RenewHarness } from '../helpers/renew-harness.js';

const state = replicaState();
const s3 = s3Client(state);

function outcomeOf(outcomes: DomainOutcome[], domain: string): DomainOutcome {
  const outcome = outcomes.find((item) => item.domain === domain);
  assert.ok(outcome, `no outcome for ${domain}`);
  return outcome;
}

/** Wraps the real issuer to record every order placed (a spy, not a mock: the order still goes to Pebble). */
function recordOrders(harness: RenewHarness): string[][] {
  const orders: string[][] = [];
  const real = harness.context.issuer;
  harness.context.issuer = async () => {
    const issuer = await real();
    return {
      pendingChallenges: (order) => issuer.pendingChallenges(order),
      validate: (order, challenges) => issuer.validate(order, challenges),
      abandon: (challenges) => issuer.abandon(challenges),
      finalize: (order, csr) => issuer.finalize(order, csr),
      downloadCertificate: (order) => issuer.downloadCertificate(order),
      revoke: (certificate, reason) => issuer.revoke(certificate, reason),
      placeOrder: (names, request) => {
        orders.push([...names]);
        return issuer.placeOrder(names, request);
      },
    };
  };
  return orders;
}

/** Asserts that no PEM header and no line of the stored keys' base64 bodies appears in the log. */
function assertNoSecretsLogged(logs: string[], keys: string[]): void {
  const text = logs.join('\n');
  assert.doesNotMatch(text, /PRIVATE KEY/);
  for (const key of keys) {
    for (const line of key.split('\n').filter((row) => /^[A-Za-z0-9+/=]{16,}$/.test(row))) assert.ok(!text.includes(line), 'a line of a domain key appears in the log');
  }
}

describe('renew on the local replica', () => {
  test('issues three domains through nginx and the S3 challenge prefix; the chains verify with openssl against Pebble\'s root', async () => {
    const harness = await renewHarness();
    const domains = ['alpha', 'bravo', 'charlie'].map((name) => `${uniqueLabel(name)}.test`);
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);
    const challengesBefore = await listKeys(s3, state.buckets.challenges, '.well-known/acme-challenge/');

    const report = await harness.run();

    assert.deepEqual(report.outcomes.map((item) => [item.domain, item.outcome]), domains.map((domain) => [domain, 'renewed']));
    assert.equal(runFailed(report), false);
    for (const domain of domains) {
      const [leaf, intermediate, fullChain, key, status] = await Promise.all(
        ['signed.crt', 'intermediate.pem', 'domain.crt', 'domain.key', 'status.json'].map((file) => getText(s3, harness.bucket, `${domain}/${file}`)),
      );
      assert.ok(leaf && intermediate && fullChain && key && status);
      assert.equal(fullChain, `${leaf.trim()}\n${intermediate.trim()}\n`);
      assert.match(opensslVerify(leaf, intermediate, pebbleRoot(state)), /: OK$/);
      assert.equal(opensslPublicKey(leaf, 'certificate'), opensslPublicKey(key, 'private key'));
      assert.deepEqual(opensslNames(leaf), [domain, `www.${domain}`].sort());
      const recorded = JSON.parse(status) as { serial: string; names: string[]; lastAttempt: { outcome: string } };
      assert.equal(recorded.lastAttempt.outcome, 'renewed');
      assert.deepEqual(recorded.names, [domain, `www.${domain}`].sort());
      assert.ok(await getText(s3, harness.bucket, `${domain}/domain.csr`));
    }
    assert.deepEqual(await listKeys(s3, state.buckets.challenges, '.well-known/acme-challenge/'), challengesBefore, 'challenge objects and probes removed');
    assertNoSecretsLogged(harness.logs, await Promise.all(domains.map(async (domain) => (await getText(s3, harness.bucket, `${domain}/domain.key`)) ?? '')));
  });

  test('a second run renews nothing, and force renews only the named domain, with a new key (keys rotate by default)', async () => {
    const harness = await renewHarness();
    const [first, second] = [`${uniqueLabel('delta')}.test`, `${uniqueLabel('echo')}.test`];
    await addDomainFolder(s3, harness.bucket, first);
    await addDomainFolder(s3, harness.bucket, second);
    const initial = await harness.run();
    const keyBefore = await getText(s3, harness.bucket, `${first}/domain.key`);
    const orders = recordOrders(harness);

    const again = await harness.run();
    const forced = await harness.run({ domains: [first], force: true });

    assert.deepEqual(again.outcomes.map((item) => item.outcome), ['not due', 'not due']);
    assert.deepEqual(forced.outcomes.map((item) => [item.domain, item.outcome]), [[first, 'renewed']]);
    assert.deepEqual(orders, [[first, `www.${first}`]]);
    const before = outcomeOf(initial.outcomes, first);
    const after = outcomeOf(forced.outcomes, first);
    assert.ok(before.outcome === 'renewed' && after.outcome === 'renewed');
    assert.notEqual(after.serial, before.serial);
    const keyAfter = await getText(s3, harness.bucket, `${first}/domain.key`);
    assert.notEqual(keyAfter, keyBefore, 'a new domain key');
    assert.equal(opensslPublicKey(await getText(s3, harness.bucket, `${first}/domain.crt`) ?? '', 'certificate'), opensslPublicKey(keyAfter ?? '', 'private key'), 'the certificate is for the new key');
  });

  // RSA-4096 keys take seconds each to make; made synchronously, they held other domains' preflight
  // timers past their deadline while nginx had answered ("no answer within 5000 ms").
  test('sixteen RSA-4096 domains at CONCURRENCY 16 are all issued: key generation never stalls another domain\'s preflight', { timeout: 600_000 }, async () => {
    const harness = await renewHarness({ CONCURRENCY: '16' });
    const domains = Array.from({ length: 16 }, (_, n) => `${uniqueLabel(`rsa${n}`)}.test`);
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain, { keyType: 'rsa-4096' });

    const report = await harness.run();

    assert.deepEqual(report.outcomes.filter((item) => item.outcome !== 'renewed'), []);
    assert.equal(report.counts.renewed, 16);
  });

  test('a run with nothing due reads one status.json per domain: one listing, no other object but the manifest, no account, no CA but the directory', async () => {
    const harness = await renewHarness();
    const domains = Array.from({ length: 12 }, (_, n) => `${uniqueLabel(`idle${n}`)}.test`);
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);
    await harness.run();
    await harness.run();
    const calls: string[] = [];
    const store = harness.context.store;
    // A spy on the real store (every call goes through to moto), counting what the run asks of S3.
    harness.context.store = new Proxy(store, {
      get: (target, property, receiver) => {
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === 'function' ? (...args: unknown[]) => {
          calls.push(String(property));
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        } : value;
      },
    });
    const manifest = harness.context.manifest as NonNullable<typeof harness.context.manifest>;
    harness.context.manifest = { read: () => (calls.push('manifest.read'), manifest.read()), writeIfMatch: (text, etag) => (calls.push('manifest.writeIfMatch'), manifest.writeIfMatch(text, etag)) };
    let accountLoads = 0;
    const logsBefore = harness.logs.length;
    const issuer = harness.context.issuer;
    harness.context.issuer = () => {
      accountLoads += 1;
      return issuer();
    };

    const report = await harness.run();

    assert.deepEqual(report.outcomes.map((item) => item.outcome), domains.map(() => 'not due'));
    const count = (name: string) => calls.filter((call) => call === name).length;
    assert.equal(count('listObjects'), 1);
    assert.equal(count('readStatus'), domains.length);
    assert.deepEqual(calls.filter((call) => call !== 'listObjects' && call !== 'readStatus'), ['manifest.read'], 'the manifest read, found current (the run\'s own listing shows it), and nothing else read or written');
    assert.equal(accountLoads, 0, 'no account key from SSM, no account lookup at the CA');
    assert.equal(harness.logs.slice(logsBefore).filter((line) => line.includes('"readFromStatus":true')).length, domains.length);
  });

  test('a certificate put back by hand in a folder the listing would vouch for is still caught: its ETag changed, so the whole folder is read', async () => {
    const harness = await renewHarness();
    const [victim, other] = [`${uniqueLabel('etag')}.test`, `${uniqueLabel('etagother')}.test`];
    await addDomainFolder(s3, harness.bucket, victim);
    await addDomainFolder(s3, harness.bucket, other);
    await harness.run();
    const statusText = await getText(s3, harness.bucket, `${victim}/status.json`);
    assert.ok(statusText?.includes('"etags"'), 'status.json records the ETags');
    await putText(s3, harness.bucket, `${victim}/domain.crt`, (await getText(s3, harness.bucket, `${other}/domain.crt`)) ?? '');

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, victim).outcome, 'repaired');
    assert.equal(outcomeOf(report.outcomes, other).outcome, 'not due');
  });

  test('with "reuseKey": true a renewal keeps the domain key, with a new CSR for it', async () => {
    const harness = await renewHarness();
    const domain = `${uniqueLabel('reuse')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);
    await putText(s3, harness.bucket, `${domain}/config.json`, JSON.stringify({ reuseKey: true }));
    await harness.run();
    const [keyBefore, csrBefore] = [await getText(s3, harness.bucket, `${domain}/domain.key`), await getText(s3, harness.bucket, `${domain}/domain.csr`)];

    const forced = await harness.run({ domains: [domain], force: true });

    assert.equal(forced.outcomes[0]?.outcome, 'renewed');
    assert.equal(await getText(s3, harness.bucket, `${domain}/domain.key`), keyBefore);
    const csrAfter = await getText(s3, harness.bucket, `${domain}/domain.csr`);
    assert.notEqual(csrAfter, csrBefore, 'a CSR is made for every order');
    assert.equal(opensslReadCsr(csrAfter ?? '').publicKey, opensslReadCsr(csrBefore ?? '').publicKey, 'for the same key');
    assert.ok(harness.logs.some((line) => line.includes('reusing domain key (\\"reuseKey\\": true)')), 'the log says the key is kept, and why');
  });

  test('a domain whose www. name is not served fails at preflight, places no order, and the others succeed', async () => {
    const harness = await renewHarness();
    const [good, broken] = [`${uniqueLabel('good')}.test`, `${uniqueLabel('broken')}.test`];
    await addDomainFolder(s3, harness.bucket, good);
    await addDomainFolder(s3, harness.bucket, broken);
    const orders = recordOrders(harness);
    await setDnsA(state, `www.${broken}`, '127.0.0.9');
    try {
      const report = await harness.run();

      assert.equal(outcomeOf(report.outcomes, good).outcome, 'renewed');
      const failure = outcomeOf(report.outcomes, broken);
      assert.equal(failure.outcome, 'failed');
      assert.ok(failure.outcome === 'failed');
      assert.equal(failure.step, 'preflight');
      assert.match(failure.reason, new RegExp(`http://www\\.${broken.replace(/\./g, '\\.')}/\\.well-known/acme-challenge/`));
      assert.deepEqual(orders.map((names) => names[0]), [good]);
      assert.equal(runFailed(report), true);
      const status = JSON.parse((await getText(s3, harness.bucket, `${broken}/status.json`)) ?? '{}') as { lastAttempt?: { outcome: string; step: string } };
      assert.deepEqual([status.lastAttempt?.outcome, status.lastAttempt?.step], ['failed', 'preflight']);
      assert.equal(await getText(s3, harness.bucket, `${broken}/domain.crt`), null);
    } finally {
      await clearDnsA(state, `www.${broken}`);
    }
  });

  test('a CA that accepts connections but never answers stops the run once, after its retries, naming the timeout; the domains are backlog, and no lock or status is left', { timeout: 120_000 }, async () => {
    // A real TLS server with the replica's API certificate (trusted like Pebble's) that reads and never replies.
    const pebbleDir = dirname(state.acme.apiCaFile);
    const held: TLSSocket[] = [];
    const ca = createServer({ key: readFileSync(join(pebbleDir, 'api-server.key')), cert: readFileSync(join(pebbleDir, 'api-server.pem')) }, (socket) => {
      held.push(socket);
      socket.resume();
    });
    let connections = 0;
    ca.on('connection', () => connections++);
    await new Promise<void>((resolve) => ca.listen(0, '127.0.0.1', resolve));
    try {
      const harness = await renewHarness({ ACME_DIRECTORY_URL: `https://127.0.0.1:${(ca.address() as AddressInfo).port}/dir`, ACME_TIMEOUT_MS: '1000', ACME_RETRY_ATTEMPTS: '3' });
      const domains = [`${uniqueLabel('stall')}.test`, `${uniqueLabel('stall')}.test`];
      for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);

      const report = await harness.run();

      assert.match(report.stopped ?? '', /^account: looking up the account: request to the CA failed: GET https:\/\/127\.0\.0\.1:\d+\/dir: no answer within 1000 ms \(ETIMEDOUT\) \(after 3 tries: gave up after 3 tries\)$/);
      for (const domain of domains) {
        const outcome = outcomeOf(report.outcomes, domain);
        assert.deepEqual([outcome.outcome, outcome.reason], ['skipped', 'not renewed: the run could not load its ACME account (the run\'s failure says why)']);
        assert.deepEqual(await listKeys(s3, harness.bucket, `${domain}/`), [`${domain}/`], `${domain}: no lock left, and no status.json written for the run's failure`);
      }
      assert.equal(runFailed(report), true);
      assert.equal(connections, 4, 'the clock measured once, then three tries, each a new connection');
      assert.equal(harness.logs.filter((line) => line.includes('"retrying a request to the CA"')).length, 2, 'each retry logged');
    } finally {
      for (const socket of held) socket.destroy();
      ca.close();
    }
  });

  test('a CA nobody listens for stops the run once, naming the URL (without its credentials) and the refused connection', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const harness = await renewHarness({ ACME_DIRECTORY_URL: `https://user:s3cret@127.0.0.1:${port}/dir?token=t0ken`, ACME_RETRY_ATTEMPTS: '3' });
    const domain = `${uniqueLabel('refused')}.test`;
    await addDomainFolder(s3, harness.bucket, domain);

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'skipped');
    assert.match(report.stopped ?? '', new RegExp(`^account: looking up the account: request to the CA failed: GET https://127\\.0\\.0\\.1:${port}/dir: connect ECONNREFUSED .* \\(after 3 tries: gave up after 3 tries\\)$`));
    assert.doesNotMatch(`${report.stopped} ${harness.logs.join('\n')}`, /s3cret|t0ken/, 'credentials and query of the URL are left out');
  });

  test('a certificate tampered with in S3 is detected and put back from the version status.json commits to, without a new order', async () => {
    const harness = await renewHarness();
    const [victim, other] = [`${uniqueLabel('victim')}.test`, `${uniqueLabel('other')}.test`];
    await addDomainFolder(s3, harness.bucket, victim);
    await addDomainFolder(s3, harness.bucket, other);
    await harness.run();
    const original = await getText(s3, harness.bucket, `${victim}/domain.crt`);
    await putText(s3, harness.bucket, `${victim}/domain.crt`, (await getText(s3, harness.bucket, `${other}/domain.crt`)) ?? '');

    const report = await harness.run();

    const outcome = outcomeOf(report.outcomes, victim);
    assert.equal(outcome.outcome, 'repaired', JSON.stringify(outcome));
    // Which check speaks first depends on the other certificate's notBefore: a second earlier, and it is "an older file put back".
    assert.match(outcome.reason, /^domain\.crt and domain\.key are not the pair status\.json commits to \((certificate public key does not match the domain key|domain\.crt holds a certificate issued .+, before the one status\.json records .+: an older file put back)\)/);
    assert.equal(outcomeOf(report.outcomes, other).outcome, 'not due');
    const repaired = (await getText(s3, harness.bucket, `${victim}/domain.crt`)) ?? '';
    assert.equal(repaired, original, 'the committed certificate is back');
    assert.deepEqual(opensslNames(repaired), [victim, `www.${victim}`].sort());
  });

  test('a tampered certificate in a folder whose status.json pins no versions is renewed', async () => {
    const harness = await renewHarness();
    const [victim, other] = [`${uniqueLabel('victim')}.test`, `${uniqueLabel('other')}.test`];
    await addDomainFolder(s3, harness.bucket, victim);
    await addDomainFolder(s3, harness.bucket, other);
    await harness.run();
    const status = JSON.parse((await getText(s3, harness.bucket, `${victim}/status.json`)) ?? '{}') as { versions?: unknown };
    delete status.versions;
    await putText(s3, harness.bucket, `${victim}/status.json`, JSON.stringify(status));
    await putText(s3, harness.bucket, `${victim}/domain.crt`, (await getText(s3, harness.bucket, `${other}/domain.crt`)) ?? '');

    const outcome = outcomeOf((await harness.run()).outcomes, victim);

    assert.equal(outcome.outcome, 'renewed', JSON.stringify(outcome));
    assert.deepEqual(opensslNames((await getText(s3, harness.bucket, `${victim}/domain.crt`)) ?? ''), [victim, `www.${victim}`].sort());
  });

  test('folders that are not valid domain names are reported and skipped; the others go on', async () => {
    const harness = await renewHarness();
    const good = `${uniqueLabel('fine')}.test`;
    await addDomainFolder(s3, harness.bucket, good);
    for (const hostile of ['UPPER.test', 'under_score.test', '*.wild.test', 'single']) await putText(s3, harness.bucket, `${hostile}/`, '');

    const report = await harness.run();

    assert.deepEqual(report.outcomes.map((item) => [item.domain, item.outcome]), [[good, 'renewed']]);
    assert.deepEqual(report.invalidFolders.map((item) => item.folder).sort(), ['*.wild.test', 'UPPER.test', 'single', 'under_score.test']);
    assert.equal(runFailed(report), true);
  });

  test('a malformed config.json fails that domain only, naming the file', async () => {
    const harness = await renewHarness();
    const [good, bad] = [`${uniqueLabel('ok')}.test`, `${uniqueLabel('badcfg')}.test`];
    await addDomainFolder(s3, harness.bucket, good);
    await addDomainFolder(s3, harness.bucket, bad, { name: ['typo'] });

    const report = await harness.run();

    assert.equal(outcomeOf(report.outcomes, good).outcome, 'renewed');
    const failure = outcomeOf(report.outcomes, bad);
    assert.ok(failure.outcome === 'failed');
    assert.equal(failure.step, 'load');
    assert.match(failure.reason, /config\.json has unknown field "name"/);
  });

  test('names and key type come from config.json; changing the key type makes a new key and renews', async () => {
    const harness = await renewHarness();
    const domain = `${uniqueLabel('custom')}.test`;
    const names = [domain, `api.${domain}`, `www.${domain}`];
    await addDomainFolder(s3, harness.bucket, domain, { names, keyType: 'rsa-2048' });
    await harness.run();
    const rsaKey = (await getText(s3, harness.bucket, `${domain}/domain.key`)) ?? '';
    await putText(s3, harness.bucket, `${domain}/config.json`, JSON.stringify({ names, keyType: 'ecdsa-p256' }));

    const report = await harness.run();

    const leaf = (await getText(s3, harness.bucket, `${domain}/signed.crt`)) ?? '';
    const ecKey = (await getText(s3, harness.bucket, `${domain}/domain.key`)) ?? '';
    assert.deepEqual(opensslNames(leaf), names.sort());
    assert.match(outcomeOf(report.outcomes, domain).outcome, /^renewed$/);
    assert.notEqual(ecKey, rsaKey);
    assert.match(opensslPublicKey(leaf, 'certificate'), /^-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYI/);
    assert.equal(opensslPublicKey(leaf, 'certificate'), opensslPublicKey(ecKey, 'private key'));
  });

  test('a manual request naming an unknown domain is an error and renews nothing', async () => {
    const harness = await renewHarness();
    const known = `${uniqueLabel('known')}.test`;
    await addDomainFolder(s3, harness.bucket, known);
    const orders = recordOrders(harness);

    await assert.rejects(harness.run({ domains: [known, 'missing.test'], force: true }), /unknown domain\(s\): missing\.test/);
    assert.deepEqual(orders, []);
  });

  test('two runs at once never order the same domain twice', async () => {
    const first = await renewHarness();
    const second = await renewHarness({ CERTIFICATES_BUCKET: first.bucket });
    const domains = [`${uniqueLabel('race1')}.test`, `${uniqueLabel('race2')}.test`];
    for (const domain of domains) await addDomainFolder(s3, first.bucket, domain);
    const orders = [...[first, second].map(recordOrders)];

    const reports = await Promise.all([first.run(), second.run()]);

    for (const domain of domains) {
      const placed = orders.flat().filter((names) => names[0] === domain);
      assert.equal(placed.length, 1, `${domain} ordered ${placed.length} times`);
      const outcomes = reports.map((report) => outcomeOf(report.outcomes, domain).outcome).sort();
      assert.equal(outcomes.filter((outcome) => outcome === 'renewed').length, 1);
      assert.ok(outcomes.every((outcome) => ['renewed', 'skipped', 'not due'].includes(outcome)));
    }
    assert.deepEqual(await listKeys(s3, first.bucket, `${domains[0]}/renew.lock`), [], 'lock released');
  });

  test('the account key is created once: parallel first runs agree on one key, and later runs reuse it', async () => {
    const ssm = ssmClient(state);
    const parameter = `/acme-test/${uniqueLabel('account')}`;
    const stores = [new SsmAccountKeyStore(ssm, parameter), new SsmAccountKeyStore(ssm, parameter)];

    const [a, b] = await Promise.all(stores.map((store) => store.getOrCreate(() => generateDomainKey('ecdsa-p256'))));
    const later = await stores[0]!.getOrCreate(() => generateDomainKey('ecdsa-p256'));

    assert.equal(a!.keyPem, b!.keyPem);
    assert.equal([a!.created, b!.created].filter(Boolean).length, 1);
    assert.equal(later.keyPem, a!.keyPem);
    assert.equal(later.created, false);
  });

  test('a first run registers the ACME account; later runs find and reuse the same account', async () => {
    const parameter = `/acme-test/${uniqueLabel('fresh-account')}`;
    const first = await renewHarness({ ACCOUNT_KEY_PARAMETER: parameter });
    const domain = `${uniqueLabel('account')}.test`;
    await addDomainFolder(s3, first.bucket, domain);
    const accountUrls = (logs: string[]) => logs.map((line) => JSON.parse(line) as { message: string; accountUrl?: string }).filter((line) => line.message === 'ACME account ready').map((line) => line.accountUrl);

    const report = await first.run();
    const second = await renewHarness({ ACCOUNT_KEY_PARAMETER: parameter, CERTIFICATES_BUCKET: first.bucket });
    await second.run({ domains: [domain], force: true });

    assert.equal(outcomeOf(report.outcomes, domain).outcome, 'renewed');
    assert.ok(first.logs.some((line) => line.includes('created ACME account key')));
    assert.ok(second.logs.some((line) => line.includes('loaded ACME account key')));
    const [created] = accountUrls(first.logs);
    assert.match(created ?? '', /^https:\/\//);
    assert.deepEqual(accountUrls(second.logs), [created]);
  });

  test('with Pebble rejecting half of the nonces, every domain is still issued', async () => {
    assert.equal(state.acme.nonceRejectPercent, 50, 'the test replica runs Pebble with PEBBLE_WFE_NONCEREJECT=50');
    const harness = await renewHarness();
    const domains = [1, 2, 3].map((n) => `${uniqueLabel(`nonce${n}`)}.test`);
    for (const domain of domains) await addDomainFolder(s3, harness.bucket, domain);

    const report = await harness.run();

    assert.deepEqual(report.outcomes.map((item) => item.outcome), ['renewed', 'renewed', 'renewed']);
  });
});
