/**
 * Renewing one domain, top to bottom in protocol order:
 * load → decide → lock → prepare key → preflight → account → order → publish challenge →
 * validate → finalize → verify → store → clean up.
 *
 * Contract: returns an outcome and never throws; a certificate that fails verification is never
 * stored; challenge objects, the probe and the lock are removed in `finally`.
 */

import { keySha256, parsePrivateKey, sha256, splitCertificates } from '../core/certificate.js';
import { describeError, DomainStepError } from '../core/errors.js';
import { createCsr, csrMatches, generateDomainKey } from '../core/keys.js';
import { CHALLENGE_PREFIX, DomainFile, challengeUrl, isChallengeToken } from '../core/layout.js';
import { decideRenewal, lapseWarning, replacementProblem } from '../core/renewal.js';
import { failedAttemptStatus, formatStatus, issuedStatus } from '../core/status.js';
import { verifyCertificate } from '../core/verify.js';
import { judgeDomain, type LoadedDomain } from './load-domain.js';
import type { HeldLock, RenewalContext } from './ports.js';

export type DomainOutcome =
  | { domain: string; outcome: 'renewed'; reason: string; serial: string; names: string[]; notAfter: string; warning?: string }
  | { domain: string; outcome: 'not due'; reason: string; serial: string | null; names: string[]; notAfter: string | null }
  | { domain: string; outcome: 'skipped'; reason: string }
  | { domain: string; outcome: 'failed'; step: string; reason: string };

/** Renews `domain` when it is due (or `force`), and returns what happened. */
export async function renewDomain(domain: string, force: boolean, ctx: RenewalContext): Promise<DomainOutcome> {
  let current = 'load';
  const log = (message: string, fields: Record<string, unknown> = {}) => ctx.log('info', message, { domain, step: current, ...fields });
  try {
    log('loading domain folder');
    let loaded = await load(domain, ctx);

    current = 'decide';
    let decision = decide(loaded, force, ctx);
    if (!decision.renew) {
      log('not due', { reason: decision.reason });
      return notDue(domain, loaded, decision.reason);
    }
    log('renewal due', { reason: decision.reason });

    current = 'lock';
    const lock = await ctx.store.acquireLock(domain, ctx.runId, ctx.now(), ctx.lockTtlMs);
    if (!lock) {
      log('another run holds the renewal lock; leaving the domain to it');
      return { domain, outcome: 'skipped', reason: 'another run is renewing this domain' };
    }
    try {
      // Another run may have renewed the domain between our first look and the lock.
      loaded = await load(domain, ctx);
      decision = decide(loaded, force, ctx);
      if (!decision.renew) {
        log('renewed by another run meanwhile', { reason: decision.reason });
        return notDue(domain, loaded, decision.reason);
      }
      try {
        return await issue(domain, loaded, decision.reason, ctx, (step) => (current = step));
      } catch (error) {
        const outcome = failed(domain, current, error, ctx);
        await recordFailure(loaded, outcome, ctx);
        return outcome;
      }
    } finally {
      await release(lock, ctx, domain);
    }
  } catch (error) {
    return failed(domain, current, error, ctx);
  }
}

function failed(domain: string, current: string, error: unknown, ctx: RenewalContext): Extract<DomainOutcome, { outcome: 'failed' }> {
  const reason = error instanceof DomainStepError ? error.reason : describeError(error);
  const step = error instanceof DomainStepError ? error.step : current;
  ctx.log('error', 'renewal failed', { domain, step, reason });
  return { domain, outcome: 'failed', step, reason };
}

async function issue(domain: string, loaded: LoadedDomain, reason: string, ctx: RenewalContext, enter: (step: string) => void): Promise<DomainOutcome> {
  const log = (step: string, message: string, fields: Record<string, unknown> = {}) => {
    enter(step);
    ctx.log('info', message, { domain, step, ...fields });
  };
  const { names, keyType } = loaded.config;

  log('prepare key', loaded.key ? 'reusing domain key' : 'creating domain key', { keyType });
  const keyPem = loaded.key?.pem ?? generateDomainKey(keyType);
  const key = loaded.key?.object ?? parsePrivateKey(keyPem);
  const csrReusable = loaded.key !== null && loaded.files.csr !== null && (await csrMatches(loaded.files.csr, names, key));
  const csrPem = csrReusable ? (loaded.files.csr as string) : await createCsr(names, keyPem);
  if (!csrReusable) ctx.log('info', 'created certificate signing request', { domain, step: 'prepare key', names });

  log('preflight', 'checking that every name serves the challenge prefix', { names });
  await preflight(domain, names, ctx);

  log('account', 'loading ACME account');
  const issuer = await ctx.issuer();

  log('order', 'placing order', { names });
  const order = await issuer.placeOrder(names);
  const pending = await issuer.pendingChallenges(order);

  const published: string[] = [];
  try {
    log('publish challenge', 'publishing HTTP-01 responses', { count: pending.length });
    for (const challenge of pending) {
      if (!isChallengeToken(challenge.token)) throw new DomainStepError(domain, 'publish challenge', `CA sent a token that is not base64url for ${challenge.name}`);
      await ctx.challenges.publish(challenge.token, challenge.keyAuthorization);
      published.push(challenge.token);
    }
    log('validate', 'asking the CA to validate', { names: pending.map((challenge) => challenge.name) });
    await Promise.all(pending.map((challenge) => issuer.answerChallenge(challenge)));
  } finally {
    await removeAll(published, ctx, domain);
  }

  log('finalize', 'finalizing order');
  const valid = await issuer.finalize(order, csrPem);
  const chainPem = await issuer.downloadCertificate(valid);

  log('verify', 'verifying certificate chain, key, names and dates');
  const now = ctx.now();
  const facts = verifyCertificate({ chainPem, key, names, namesMatch: 'exact', trustedRoots: ctx.trustedRoots, now });
  const refusal = replacementProblem({ stored: loaded.certificate, storedProblem: loaded.problem, issued: facts, names, keySha256: keySha256(key), now });
  if (refusal) throw new DomainStepError(domain, 'verify', refusal);

  log('store', 'storing certificate', { serial: facts.serial, notAfter: facts.notAfter.toISOString() });
  const [leaf = '', ...intermediates] = splitCertificates(chainPem);
  const files = { csr: csrPem, signed: `${leaf}\n`, intermediate: `${intermediates.join('\n')}\n`, fullChain: `${[leaf, ...intermediates].join('\n')}\n` };
  const digests: Record<string, string> = {
    [DomainFile.key]: sha256(keyPem),
    [DomainFile.csr]: sha256(files.csr),
    [DomainFile.signed]: sha256(files.signed),
    [DomainFile.intermediate]: sha256(files.intermediate),
    [DomainFile.fullChain]: sha256(files.fullChain),
  };
  const status = issuedStatus({ domain, keyType, certificate: facts, files: digests, at: now, runId: ctx.runId });
  await ctx.store.writeIssued(domain, { ...files, ...(loaded.key ? {} : { key: keyPem }) }, formatStatus(status));

  const warning = lapseWarning(facts.notAfter, ctx.nextRunAt(now)) ?? undefined;
  if (warning) ctx.log('warn', warning, { domain, step: 'store' });
  ctx.log('info', 'renewed', { domain, step: 'store', serial: facts.serial, notAfter: facts.notAfter.toISOString() });
  return { domain, outcome: 'renewed', reason, serial: facts.serial, names: facts.names, notAfter: facts.notAfter.toISOString(), ...(warning ? { warning } : {}) };
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
    const failures: string[] = [];
    await Promise.all(names.map(async (name) => {
      const url = challengeUrl(name, token);
      try {
        const response = await ctx.preflight.fetch(name, `/${CHALLENGE_PREFIX}${token}`);
        if (response.status !== 200 || response.body.trim() !== body) {
          failures.push(`${url} answered ${response.status} ${JSON.stringify(response.body.slice(0, 120))}`);
        }
      } catch (error) {
        failures.push(`${url} failed: ${describeError(error)}`);
      }
    }));
    if (failures.length > 0) throw new DomainStepError(domain, 'preflight', failures.sort().join('; '));
  } finally {
    await removeAll([token], ctx, domain);
  }
}

async function load(domain: string, ctx: RenewalContext): Promise<LoadedDomain> {
  const files = await ctx.store.readDomain(domain);
  try {
    return judgeDomain(domain, files, ctx.trustedRoots, ctx.now());
  } catch (error) {
    throw new DomainStepError(domain, 'load', describeError(error));
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
    force,
  });
}

function notDue(domain: string, loaded: LoadedDomain, reason: string): DomainOutcome {
  const certificate = loaded.certificate;
  return { domain, outcome: 'not due', reason, serial: certificate?.serial ?? null, names: certificate?.names ?? loaded.config.names, notAfter: certificate?.notAfter.toISOString() ?? null };
}

async function removeAll(tokens: string[], ctx: RenewalContext, domain: string): Promise<void> {
  for (const token of tokens) {
    await ctx.challenges.remove(token).catch((error: unknown) => ctx.log('warn', 'could not remove challenge object', { domain, step: 'clean up', token, reason: describeError(error) }));
  }
}

async function release(lock: HeldLock, ctx: RenewalContext, domain: string): Promise<void> {
  await ctx.store.releaseLock(lock).catch((error: unknown) => ctx.log('warn', 'could not release renewal lock (it expires by itself)', { domain, step: 'clean up', reason: describeError(error) }));
}

/** Records a failed attempt in status.json, keeping the stored certificate's facts; written under the lock. */
async function recordFailure(loaded: LoadedDomain, outcome: Extract<DomainOutcome, { outcome: 'failed' }>, ctx: RenewalContext): Promise<void> {
  const status = failedAttemptStatus(loaded.status, outcome.domain, { at: ctx.now(), runId: ctx.runId, step: outcome.step, reason: outcome.reason });
  await ctx.store.writeStatus(outcome.domain, formatStatus(status)).catch((error: unknown) =>
    ctx.log('warn', 'could not record the failed attempt in status.json', { domain: outcome.domain, step: 'clean up', reason: describeError(error) }),
  );
}
