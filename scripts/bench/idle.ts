/**
 * The idle bench (part of `npm run bench`, issue 12): a renewal run over 1000 domains with nothing
 * due, as the daily check run usually is. A fresh versioned bucket gets 1000 folders as a renewal
 * leaves them (domain.key, domain.csr, signed.crt, intermediate.pem, domain.crt, a fifth with a
 * config.json, and a status.json that records its files' ETags, valid for 85 more days). The run is
 * the function's own (renewAll with the function's wiring and clients), three times; every S3
 * request is counted inside the SDK's retry loop, and account loads (SSM and the CA's account
 * lookup) are counted at the issuer.
 *
 * The bucket also has the manifest a renewal run leaves (publish-manifest.ts), which each run reads
 * once and finds current.
 *
 * Targets: one listing pass (ceil(objects / 1000) pages) and one GET per domain and the manifest's,
 * no other S3 request, no account load; the run within a third of the 47 s the folder-by-folder read it
 * replaces took here (5 GETs a domain). The bucket, every version, is removed afterwards.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { rootCertificates } from 'node:tls';
import { CreateBucketCommand, PutBucketVersioningCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mapWithConcurrency } from '../../functions/core/concurrency.js';
import { DomainFile, domainFolderKey, domainObjectKey, MANIFEST_KEY } from '../../functions/core/layout.js';
import { rootsDigest } from '../../functions/core/shortcut.js';
import { formatStatus, type DomainStatus } from '../../functions/core/status.js';
import { readRenewConfig } from '../../functions/renew/config.js';
import { buildRenewalContext, createRenewClients } from '../../functions/renew/wiring.js';
import { publishManifest } from '../../functions/workflows/publish-manifest.js';
import { renewAll } from '../../functions/workflows/renew-all.js';
import { S3CertificateStore } from '../../functions/adapters/s3-certificate-store.js';
import { S3ConditionalObject } from '../../functions/adapters/s3-conditional-object.js';
import { renewEnvironment } from '../replica/renew-env.js';
import type { ReplicaState } from '../replica/state.js';
import { deleteBucket } from './bucket.js';

const DOMAINS = Number(process.env.BENCH_DOMAINS ?? 1000);
const ROUNDS = 3;
/** A third of the 47 s the folder-by-folder read took on this machine (issue 12): moto answers one request at a time, and the machine is shared. */
const MAX_RUN_MS = 15_000;
const DAY = 86_400_000;

interface RelativeStack {
  addRelativeTo(middleware: (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => (args: unknown) => Promise<unknown>, options: { relation: 'after'; toMiddleware: string; name: string }): void;
}

export async function idleBench(state: ReplicaState): Promise<boolean> {
  console.log(`\n== a renewal run with nothing due, ${DOMAINS} domains ==`);
  const credentials = { accessKeyId: 'test', secretAccessKey: 'test' };
  const admin = new S3Client({ region: state.region, endpoint: state.awsEndpoint, forcePathStyle: true, credentials });
  const bucket = `bench-idle-${randomBytes(4).toString('hex')}`;
  await admin.send(new CreateBucketCommand({ Bucket: bucket }));
  await admin.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  try {
    const config = readRenewConfig({ ...renewEnvironment(state), AWS_ENDPOINT_URL: state.awsEndpoint, CERTIFICATES_BUCKET: bucket }, rootCertificates);
    const planted = Date.now();
    const folderObjects = await plant(admin, bucket, rootsDigest(config.trustedRoots));
    // As the renewal run that left the folders so would have written it.
    const manifestProblem = await publishManifest({ store: new S3CertificateStore(admin, bucket), manifest: new S3ConditionalObject(admin, bucket, MANIFEST_KEY), log: () => undefined, now: () => new Date() }, null);
    if (manifestProblem) throw new Error(manifestProblem);
    const objects = folderObjects + 1;
    console.log(`planted ${DOMAINS} domains (${objects} objects) in ${((Date.now() - planted) / 1000).toFixed(1)} s`);

    const clients = createRenewClients(config, () => undefined, { region: state.region, credentials });
    const counts = new Map<string, number>();
    (clients.s3.middlewareStack as unknown as RelativeStack).addRelativeTo(
      (next, context) => async (args) => {
        counts.set(context.commandName ?? 'unknown', (counts.get(context.commandName ?? 'unknown') ?? 0) + 1);
        return next(args);
      },
      { relation: 'after', toMiddleware: 'retryMiddleware', name: 'benchRequestCounter' },
    );
    const runs: { ms: number; counts: Map<string, number>; accountLoads: number; notDue: number }[] = [];
    for (let round = 0; round < ROUNDS; round += 1) {
      const ctx = buildRenewalContext(config, clients, () => undefined, randomUUID());
      let accountLoads = 0;
      const issuer = ctx.issuer;
      ctx.issuer = () => {
        accountLoads += 1;
        return issuer();
      };
      counts.clear();
      const started = performance.now();
      const report = await renewAll({}, ctx, config.concurrency);
      runs.push({ ms: performance.now() - started, counts: new Map(counts), accountLoads, notDue: report.counts.notDue });
    }
    const pages = Math.ceil(objects / 1000);
    const worst = (command: string) => Math.max(...runs.map((run) => run.counts.get(command) ?? 0));
    const others = Math.max(...runs.map((run) => [...run.counts].filter(([command]) => command !== 'ListObjectsV2Command' && command !== 'GetObjectCommand').reduce((sum, [, n]) => sum + n, 0)));
    const medianMs = [...runs.map((run) => run.ms)].sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] as number;
    const rows: [boolean, string, string][] = [
      [runs.every((run) => run.notDue === DOMAINS), `domains not due, each run      ${String(Math.min(...runs.map((run) => run.notDue))).padStart(6)}`, `target = ${DOMAINS}`],
      [worst('ListObjectsV2Command') === pages, `listing pages, each run        ${String(worst('ListObjectsV2Command')).padStart(6)}`, `target = ${pages} (ceil(${objects} objects / 1000))`],
      [worst('GetObjectCommand') <= DOMAINS + 1, `GetObject, each run            ${String(worst('GetObjectCommand')).padStart(6)}`, `target ≤ ${DOMAINS + 1} (one per domain: status.json; and the manifest)`],
      [others === 0, `other S3 requests, each run    ${String(others).padStart(6)}`, 'target = 0'],
      [runs.every((run) => run.accountLoads === 0), `account loads (SSM, CA)        ${String(Math.max(...runs.map((run) => run.accountLoads))).padStart(6)}`, 'target = 0'],
      [medianMs <= MAX_RUN_MS, `run, median of ${ROUNDS}            ${medianMs.toFixed(0).padStart(6)} ms`, `target ≤ ${MAX_RUN_MS} ms (${(medianMs / MAX_RUN_MS).toFixed(2)}× of it; reading each folder whole took 47 s here)`],
    ];
    for (const [ok, figure, target] of rows) console.log(`${ok ? 'ok  ' : 'MISS'} ${figure}  ${target}`);
    return rows.some(([ok]) => !ok);
  } finally {
    await deleteBucket(admin, bucket);
  }
}

/** Puts DOMAINS folders as a renewal leaves them; returns how many objects the bucket holds. */
async function plant(s3: S3Client, bucket: string, rootsSha256: string): Promise<number> {
  const now = Date.now();
  const counts = await mapWithConcurrency(Array.from({ length: DOMAINS }, (_, n) => `idle-${n}.bench.test`), 16, async (domain) => {
    const put = async (Key: string, Body: string | Uint8Array) => (await s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body }))).ETag ?? '';
    await put(domainFolderKey(domain), new Uint8Array(0));
    const configEtag = domain.endsWith('0.bench.test') ? await put(domainObjectKey(domain, DomainFile.config), '{"keyType":"ecdsa-p256"}\n') : null;
    const key = await put(domainObjectKey(domain, DomainFile.key), `key of ${domain}`);
    for (const file of [DomainFile.csr, DomainFile.signed, DomainFile.intermediate]) await put(domainObjectKey(domain, file), `${file} of ${domain}`);
    const crt = await put(domainObjectKey(domain, DomainFile.fullChain), `certificate of ${domain}`);
    const status: DomainStatus = {
      domain, names: [domain, `www.${domain}`].sort(), keyType: 'ecdsa-p256', serial: randomBytes(8).toString('hex'), issuer: 'CN=Bench',
      notBefore: new Date(now - 5 * DAY).toISOString(), notAfter: new Date(now + 85 * DAY).toISOString(), renewedAt: new Date(now - 5 * DAY).toISOString(),
      files: {}, lastAttempt: { at: new Date(now - 5 * DAY).toISOString(), runId: 'bench', outcome: 'renewed' },
      vouched: {
        version: 1, etags: { [DomainFile.fullChain]: crt, [DomainFile.key]: key, [DomainFile.config]: configEtag },
        publicKeySha256: 'b'.repeat(64), certId: `${randomBytes(20).toString('base64url')}.${randomBytes(8).toString('base64url')}`,
        rootsSha256: rootsSha256, chainNotAfter: new Date(now + 365 * DAY).toISOString(), verifiedAt: new Date(now - DAY).toISOString(),
      },
    };
    await put(domainObjectKey(domain, DomainFile.status), formatStatus(status));
    return configEtag ? 8 : 7;
  });
  return counts.reduce((sum, n) => sum + n, 0);
}

