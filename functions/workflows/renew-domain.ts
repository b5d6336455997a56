/**
 * Renewing one domain, top to bottom in protocol order:
 * load → decide → lock → prepare key → preflight → account → order → authorize → publish challenge
 * → validate → finalize → download → verify → store → clean up.
 *
 * Contract: returns an outcome and never throws; a certificate that fails verification is never
 * stored; challenge objects, the probe and the lock are removed in `finally`; a failure is
 * recorded in status.json's lastAttempt.
 */

import type { KeyObject } from 'node:crypto';
import { keySha256, parsePrivateKey, sha256, splitCertificates, type CertificateFacts } from '../core/certificate.js';
import { describeError, DomainStepError, type RenewStep } from '../core/errors.js';
import { createCsr, csrMatches, generateDomainKey } from '../core/keys.js';
import { DomainFile, challengePath, challengeUrl, isChallengeToken } from '../core/layout.js';
import { decideRenewal, lapseWarning, replacementProblem } from '../core/renewal.js';
import { failedAttemptStatus, formatStatus, issuedStatus, parseStatus, type DomainStatus } from '../core/status.js';
import { verifyCertificate } from '../core/verify.js';
import { judgeDomain, type LoadedDomain } from './load-domain.js';
import type { Issuer, PendingChallenge, RenewalContext } from './ports.js';

export type DomainOutcome =
  | { domain: string; outcome: 'renewed'; reason: string; serial: string; names: string[]; notAfter: string; warning?: string }
  | { domain: string; outcome: 'not due'; reason: string; serial: string | null; names: string[]; notAfter: string | null }
  | { domain: string; outcome: 'skipped'; reason: string }
  | { domain: string; outcome: 'failed'; step: RenewStep; reason: string };

type Step = <T>(name: RenewStep, message: string, run: () => Promise<T> | T, fields?: Record<string, unknown>) => Promise<T>;

/** Renews `domain` when it is due (or `force`), and returns what happened. */
export async function renewDomain(domain: string, force: boolean, ctx: RenewalContext): Promise<DomainOutcome> {
  const step: Step = async (name, message, run, fields = {}) => {
    ctx.log('info', message, { domain, step: name, ...fields });
    try {
      return await run();
    } catch (error) {
      throw error instanceof DomainStepError ? error : new DomainStepError(domain, name, describeError(error), { cause: error });
    }
  };
  let status: DomainStatus | null = null;
  try {
    let loaded = await step('load', 'loading domain folder', () => load(domain, ctx));
    status = loaded.status;
    let decision = await step('decide', 'deciding', () => decide(loaded, force, ctx));
    if (!decision.renew) return notDue(domain, loaded, decision.reason, ctx);

    const lock = await step('lock', `renewal due: ${decision.reason}; taking the renewal lock`, () => ctx.store.acquireLock(domain, ctx.runId, ctx.now(), ctx.lockTtlMs));
    if (!lock) {
      ctx.log('info', 'another run holds the renewal lock; leaving the domain to it', { domain, step: 'lock' });
      return { domain, outcome: 'skipped', reason: 'another run is renewing this domain' };
    }
    try {
      // Another run may have renewed the domain between the first look and the lock.
      loaded = await step('load', 'loading the folder again under the lock', () => load(domain, ctx));
      status = loaded.status;
      decision = await step('decide', 'deciding again under the lock', () => decide(loaded, force, ctx));
      if (!decision.renew) return notDue(domain, loaded, decision.reason, ctx);
      return await issue(domain, loaded, decision.reason, ctx, step);
    } finally {
      await ctx.store.releaseLock(lock).catch((error: unknown) => warn(ctx, domain, 'could not release the renewal lock (it expires by itself)', error));
    }
  } catch (error) {
    const failure = error instanceof DomainStepError ? error : new DomainStepError(domain, 'load', describeError(error), { cause: error });
    ctx.log('error', 'renewal failed', { domain, step: failure.step, reason: failure.reason });
    await recordFailure(domain, failure, status, ctx);
    return { domain, outcome: 'failed', step: failure.step, reason: failure.reason };
  }
}

/** The ACME exchange and the store, for a domain that is due and locked. */
async function issue(domain: string, loaded: LoadedDomain, reason: string, ctx: RenewalContext, step: Step): Promise<DomainOutcome> {
  const { names, keyType } = loaded.config;
  const prepared = await step('prepare key', loaded.key ? 'reusing domain key' : 'creating domain key', () => prepareKey(loaded), { keyType });
  await step('preflight', 'checking that every name serves the challenge prefix', () => preflight(domain, names, ctx), { names });
  const issuer = await step('account', 'loading ACME account', () => ctx.issuer());
  const order = await step('order', 'placing order', () => issuer.placeOrder(names), { names });
  const challenges = await step('authorize', 'fetching authorizations', () => issuer.pendingChallenges(order));

  const published: string[] = [];
  try {
    await step('publish challenge', 'publishing HTTP-01 responses', () => publishAll(domain, challenges, published, ctx), { count: challenges.length });
    await step('validate', 'asking the CA to validate', () => validateAll(domain, challenges, issuer, ctx), { names: challenges.map((challenge) => challenge.name) });
  } finally {
    await removeAll(published, ctx, domain);
  }

  const valid = await step('finalize', 'finalizing order', () => issuer.finalize(order, prepared.csrPem));
  const chainPem = await step('download', 'downloading certificate', () => issuer.downloadCertificate(valid));
  const facts = await step('verify', 'verifying certificate chain, key, names and dates', () => verifyIssued(chainPem, prepared.key, loaded, ctx));
  await step('store', 'storing certificate', () => store(domain, loaded, prepared, chainPem, facts, ctx), { serial: facts.serial, notAfter: facts.notAfter.toISOString() });

  const warning = lapseWarning(facts.notAfter, ctx.nextRunAt(ctx.now())) ?? undefined;
  if (warning) ctx.log('warn', warning, { domain, step: 'store' });
  ctx.log('info', 'renewed', { domain, step: 'store', serial: facts.serial, notAfter: facts.notAfter.toISOString() });
  return { domain, outcome: 'renewed', reason, serial: facts.serial, names: facts.names, notAfter: facts.notAfter.toISOString(), ...(warning ? { warning } : {}) };
}

interface PreparedKey {
  keyPem: string;
  key: KeyObject;
  isNew: boolean;
  csrPem: string;
}

/** Reuses the domain key and CSR when they still fit; makes new ones when the key type or the names changed. */
async function prepareKey(loaded: LoadedDomain): Promise<PreparedKey> {
  const { names, keyType } = loaded.config;
  const keyPem = loaded.key?.pem ?? generateDomainKey(keyType);
  const key = loaded.key?.object ?? parsePrivateKey(keyPem);
  const reusable = loaded.key !== null && loaded.files.csr !== null && (await csrMatches(loaded.files.csr, names, key));
  return { keyPem, key, isNew: loaded.key === null, csrPem: reusable ? (loaded.files.csr as string) : await createCsr(names, keyPem) };
}

/**
 * Publishes a probe object and fetches it through every name as the CA would. A name that does not
 * answer with the probe fails the domain before any order is placed.
 */
async function preflight(domain: string, names: readonly string[], ctx: RenewalContext): Promise<void> {
  const token = ctx.randomToken();
  const body = `preflight ${ctx.randomToken()}`;
  await ctx.challenges.publish(token, body);
  try {
    const failures = await Promise.all(names.map(async (name) => {
      const url = challengeUrl(name, token);
      try {
        const response = await ctx.preflight.fetch(name, challengePath(token));
        return response.status === 200 && response.body.trim() === body ? null : `${url} answered ${response.status} ${JSON.stringify(response.body.slice(0, 120))}`;
      } catch (error) {
        return `${url} failed: ${describeError(error)}`;
      }
    }));
    const problems = failures.filter((failure): failure is string => failure !== null).sort();
    if (problems.length > 0) throw new DomainStepError(domain, 'preflight', problems.join('; '));
  } finally {
    await removeAll([token], ctx, domain);
  }
}

async function publishAll(domain: string, challenges: readonly PendingChallenge[], published: string[], ctx: RenewalContext): Promise<void> {
  for (const challenge of challenges) {
    if (!isChallengeToken(challenge.token)) throw new DomainStepError(domain, 'publish challenge', `CA sent a token that is not base64url for ${challenge.name}`);
    await ctx.challenges.publish(challenge.token, challenge.keyAuthorization);
    published.push(challenge.token);
  }
}

/**
 * Answers every challenge and waits for all of them (RFC 8555 §7.5.1); the challenge objects stay
 * published until the CA has finished with each name. On any failure the authorizations are
 * deactivated (§7.5.2) before the objects are removed.
 */
async function validateAll(domain: string, challenges: readonly PendingChallenge[], issuer: Issuer, ctx: RenewalContext): Promise<void> {
  const results = await Promise.allSettled(challenges.map((challenge) => issuer.answerChallenge(challenge)));
  const failures = results.flatMap((result) => (result.status === 'rejected' ? [describeError(result.reason)] : []));
  if (failures.length === 0) return;
  const notDeactivated = await issuer.abandon(challenges.filter((_, index) => results[index]?.status === 'rejected'));
  if (notDeactivated.length > 0) warn(ctx, domain, `could not deactivate the authorizations of ${notDeactivated.join(', ')}`, null);
  throw new DomainStepError(domain, 'validate', failures.join('; '));
}

/** Returns the facts of a chain that passes verification and is no older than the stored certificate; throws otherwise. */
function verifyIssued(chainPem: string, key: KeyObject, loaded: LoadedDomain, ctx: RenewalContext): CertificateFacts {
  const now = ctx.now();
  const facts = verifyCertificate({ chainPem, key, names: loaded.config.names, namesMatch: 'exact', trustedRoots: ctx.trustedRoots, now });
  const refusal = replacementProblem({ stored: loaded.certificate, storedProblem: loaded.problem, issued: facts, names: loaded.config.names, keySha256: keySha256(key), now });
  if (refusal) throw new Error(refusal);
  return facts;
}

/** Writes the files, then status.json last: the commit point a reader checks the files against. */
async function store(domain: string, loaded: LoadedDomain, prepared: PreparedKey, chainPem: string, facts: CertificateFacts, ctx: RenewalContext): Promise<void> {
  const [leaf = '', ...intermediates] = splitCertificates(chainPem);
  const files = { csr: prepared.csrPem, signed: `${leaf}\n`, intermediate: `${intermediates.join('\n')}\n`, fullChain: `${[leaf, ...intermediates].join('\n')}\n` };
  const digests: Record<string, string> = {
    [DomainFile.key]: sha256(prepared.keyPem),
    [DomainFile.csr]: sha256(files.csr),
    [DomainFile.signed]: sha256(files.signed),
    [DomainFile.intermediate]: sha256(files.intermediate),
    [DomainFile.fullChain]: sha256(files.fullChain),
  };
  const status = issuedStatus({ domain, keyType: loaded.config.keyType, certificate: facts, files: digests, at: ctx.now(), runId: ctx.runId });
  await ctx.store.writeIssued(domain, { ...files, ...(prepared.isNew ? { key: prepared.keyPem } : {}) }, formatStatus(status));
}

async function load(domain: string, ctx: RenewalContext): Promise<LoadedDomain> {
  const files = await ctx.store.readDomain(domain);
  try {
    return judgeDomain(domain, files, ctx.trustedRoots, ctx.now());
  } catch (error) {
    throw new DomainStepError(domain, 'load', describeError(error), { cause: error });
  }
}

function decide(loaded: LoadedDomain, force: boolean, ctx: RenewalContext) {
  const now = ctx.now();
  return decideRenewal({
    certificate: loaded.certificate,
    problem: loaded.problem,
    names: loaded.config.names,
    keySha256: loaded.key?.sha256 ?? null,
    now,
    nextRunAt: ctx.nextRunAt(now),
    previousRunAt: ctx.previousRunAt(now),
    force,
  });
}

function notDue(domain: string, loaded: LoadedDomain, reason: string, ctx: RenewalContext): DomainOutcome {
  ctx.log('info', 'not due', { domain, step: 'decide', reason });
  const certificate = loaded.certificate;
  return { domain, outcome: 'not due', reason, serial: certificate?.serial ?? null, names: certificate?.names ?? loaded.config.names, notAfter: certificate?.notAfter.toISOString() ?? null };
}

async function removeAll(tokens: string[], ctx: RenewalContext, domain: string): Promise<void> {
  for (const token of tokens) {
    await ctx.challenges.remove(token).catch((error: unknown) => warn(ctx, domain, `could not remove challenge object ${token}`, error));
  }
}

/**
 * Records a failed attempt in status.json, keeping the stored certificate's facts and digests.
 * A failure to take the lock (another run renews) or to list is not an attempt.
 */
async function recordFailure(domain: string, failure: DomainStepError, known: DomainStatus | null, ctx: RenewalContext): Promise<void> {
  if (failure.step === 'lock') return;
  const previous = known ?? parseStatus(await ctx.store.readDomain(domain).then((files) => files.status, () => null));
  const status = failedAttemptStatus(previous, domain, { at: ctx.now(), runId: ctx.runId, step: failure.step, reason: failure.reason });
  await ctx.store.writeStatus(domain, formatStatus(status)).catch((error: unknown) => warn(ctx, domain, 'could not record the failed attempt in status.json', error));
}

function warn(ctx: RenewalContext, domain: string, message: string, error: unknown): void {
  ctx.log('warn', message, { domain, step: 'clean up', ...(error ? { reason: describeError(error) } : {}) });
}
