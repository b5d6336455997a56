/**
 * The certificate authority, spoken to over ACME (RFC 8555) through acme-client.
 *
 * Each method is one protocol step, so the renewal workflow reads in protocol order. Errors are
 * wrapped in AcmeError with the CA's problem detail; nothing here ever sees a domain key (the CSR
 * is all the CA gets).
 */

import acme from 'acme-client';
import { contactNeedsUpdate, type AccountRecord } from '../core/account.js';
import { pemBody } from '../core/der.js';
import { KeyRefusedError, type Issuer, type OrderRequest, type PendingChallenge, type PlacedOrder } from '../workflows/ports.js';
import { learnWait, pollWaitMs, retryAfterMs, type PollPolicy } from '../core/retry.js';
import { AcmeProblemError, installAcmeRetries, type AcmeRetrySettings } from './acme-retry.js';
import { createAcmeTransport, installAcmeTransport } from './acme-transport.js';

/** What the CA sent for one pending challenge; kept here so acme-client's types stay in this adapter. */
interface ChallengeObjects {
  authorization: acme.Authorization;
  challenge: acme.Authorization['challenges'][number];
}

/** A request to the CA that failed; `cause` keeps the original error. */
export class AcmeError extends Error {
  override readonly name = 'AcmeError';
  constructor(operation: string, cause: unknown) {
    super(`${operation}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
  }
}

export interface AcmeClientSettings {
  directoryUrl: string;
  /** The directory document, when the run has read it already (adapters/ca-directory.ts): acme-client then does not ask again. */
  directory?: Record<string, unknown> | null;
  accountKeyPem: string;
  /** Per-request timeout; acme-client sets none by default, so a stalled CA would hang the run. */
  requestTimeoutMs: number;
  /** Polling of pending authorizations and orders. */
  pollMinMs: number;
  pollMaxMs: number;
  pollAttempts: number;
  /** Retries of transient failures (adapters/acme-retry.ts). */
  retry: AcmeRetrySettings;
}

/**
 * Returns an acme-client Client that sends its requests through adapters/acme-transport.ts (with
 * a timeout on each: acme-client sets none, so a stalled CA would hang the run), and retries them
 * signing each anew, bad nonces included (adapters/acme-retry.ts): acme-client 5.4 would resend
 * the spent nonce on a 429 or 5xx, which the CA rejects (upstream issue #103).
 */
export function createAcmeClient(settings: AcmeClientSettings): acme.Client {
  acme.setLogger(() => undefined);
  const client = new acme.Client({
    directoryUrl: settings.directoryUrl,
    accountKey: settings.accountKeyPem,
    backoffAttempts: settings.pollAttempts,
    backoffMin: settings.pollMinMs,
    backoffMax: settings.pollMaxMs,
  });
  installAcmeTransport(client, createAcmeTransport({ timeoutMs: settings.requestTimeoutMs, userAgent: USER_AGENT }));
  if (settings.directory) seedDirectory(client, settings.directory);
  installAcmeRetries(client, settings.retry);
  return client;
}

/** Hands acme-client's HttpClient the directory (its cache, which it keeps for a day; a run is shorter). */
function seedDirectory(client: acme.Client, directory: Record<string, unknown>): void {
  const http = (client as unknown as { http: { directoryCache: unknown; directoryTimestamp: number } }).http;
  http.directoryCache = directory;
  http.directoryTimestamp = Math.floor(Date.now() / 1000);
}

/** RFC 8555 §6.1: what this client tells the CA it is. */
const USER_AGENT = 'acme-certificates (node-acme-client 5.4)';

export class AcmeIssuer implements Issuer {
  /** The acme-client objects behind each challenge this issuer handed out. */
  private readonly challengeObjects = new WeakMap<PendingChallenge, ChallengeObjects>();
  /** How long the CA took lately, in this run, to validate an order's names and to issue: the first poll waits about that long. */
  private readonly learned: Record<'validation' | 'issuance', number | null> = { validation: null, issuance: null };

  constructor(
    private readonly client: acme.Client,
    private readonly polling: PollPolicy & { now: () => Date },
  ) {}

  /**
   * Finds the account of the client's key, or creates it (RFC 8555 §7.3, §7.3.1), and updates its
   * contact when it changed (§7.3.2; core/account.ts: the CA may not return it, and `record` says
   * what was last set). Returns the account URL, and the record to keep when it changed (null:
   * unchanged). Never creates a second account for a key.
   */
  async registerAccount(contact: string[], record: AccountRecord | null): Promise<{ accountUrl: string; record: AccountRecord | null; contactUpdated: boolean }> {
    const existing = await this.step('looking up the account', () => this.lookUpAccount());
    if (!existing) {
      await this.step('registering account', () => this.client.createAccount({ termsOfServiceAgreed: true, ...(contact.length ? { contact } : {}) }));
      return { accountUrl: this.client.getAccountUrl(), record: { accountUrl: this.client.getAccountUrl(), contact }, contactUpdated: false };
    }
    const accountUrl = this.client.getAccountUrl();
    if (contactNeedsUpdate({ wanted: contact, returned: existing.contact, record, accountUrl })) {
      await this.step('updating account contact', () => this.client.updateAccount({ contact }));
      return { accountUrl, record: { accountUrl, contact }, contactUpdated: true };
    }
    const known = existing.contact && existing.contact.length > 0 ? existing.contact : contact;
    const unchanged = record?.accountUrl === accountUrl && record.contact.length === known.length && record.contact.every((item, index) => item === known[index]);
    return { accountUrl, record: unchanged ? null : { accountUrl, contact: known }, contactUpdated: false };
  }

  /**
   * Returns the account of the client's key, or null when the CA has none (§7.3.1: the problem
   * type `accountDoesNotExist`). Any other failure, transient ones after their retries, is thrown:
   * a CA that is down must not look like an account to register.
   */
  private async lookUpAccount(): Promise<{ contact?: string[] } | null> {
    try {
      // Through acme-client's api: its Client.createAccount follows a found account with a second
      // POST (updateAccount, with nothing to update) for the object this answer already holds.
      const { data } = await this.api().createAccount({ onlyReturnExisting: true });
      return data && typeof data === 'object' ? (data as { contact?: string[] }) : {};
    } catch (error) {
      if (error instanceof AcmeProblemError && error.type === 'urn:ietf:params:acme:error:accountDoesNotExist') return null;
      throw error;
    }
  }

  /**
   * Places a new order for `names` (RFC 8555 §7.4), with the profile and the ARI `replaces` field
   * (RFC 9773 §5) when given. A CA that refuses `replaces` (`alreadyReplaced`: another order
   * replaced that certificate; or any other refusal of the field) gets the order again without
   * it: the renewal matters more than its rate-limit exemption.
   */
  async placeOrder(names: readonly string[], request: OrderRequest): Promise<{ order: PlacedOrder; replacesDropped: string | null }> {
    const identifiers = names.map((value) => ({ type: 'dns', value }));
    const base = { identifiers, ...(request.profile ? { profile: request.profile } : {}) };
    if (request.replaces) {
      try {
        return { order: await this.step('placing order', () => this.client.createOrder({ ...base, replaces: request.replaces } as unknown as OrderPayload)), replacesDropped: null };
      } catch (error) {
        const problem = (error as { cause?: unknown }).cause;
        if (!(problem instanceof AcmeProblemError) || !refusesReplaces(problem)) throw error;
        const order = await this.step('placing order', () => this.client.createOrder(base as OrderPayload));
        return { order, replacesDropped: `the CA refused "replaces": ${problem.message}` };
      }
    }
    return { order: await this.step('placing order', () => this.client.createOrder(base as OrderPayload)), replacesDropped: null };
  }

  /**
   * Returns the HTTP-01 challenges still to answer for the order's authorizations (RFC 8555 §7.5,
   * §8.3); authorizations the CA already holds as valid need none.
   */
  async pendingChallenges(order: PlacedOrder): Promise<PendingChallenge[]> {
    const authorizations = await this.step('fetching authorizations', () => this.client.getAuthorizations(asOrder(order)));
    const pending: PendingChallenge[] = [];
    for (const authorization of authorizations) {
      if (authorization.status === 'valid') continue;
      const name = authorization.identifier.value;
      const challenge = authorization.challenges.find((candidate) => candidate.type === 'http-01');
      if (!challenge) throw new AcmeError(`authorizing ${name}`, new Error('the CA offered no http-01 challenge'));
      const keyAuthorization = await this.step(`authorizing ${name}`, () => this.client.getChallengeKeyAuthorization(challenge));
      const handed: PendingChallenge = { name, token: challenge.token, keyAuthorization };
      this.challengeObjects.set(handed, { authorization, challenge });
      pending.push(handed);
    }
    return pending;
  }

  /**
   * Tells the CA each challenge is ready (RFC 8555 §7.5.1) and waits until it has validated every
   * name. One poll of the order serves all of them: an order stays `pending` until each of its
   * authorizations is valid, and turns `invalid` when one fails (§7.1.6). Only then, or when the
   * polls run out, are the authorizations read, to say which names failed and why. Returns null
   * for each name validated, or why it was not; throws when the CA cannot be asked at all.
   */
  async validate(order: PlacedOrder, challenges: readonly PendingChallenge[]): Promise<(string | null)[]> {
    const answered = await Promise.allSettled(challenges.map((pending) => this.step(`validating ${pending.name}`, () => this.client.completeChallenge(this.objectsOf(pending).challenge))));
    if (answered.some((result) => result.status === 'rejected')) return answered.map((result) => (result.status === 'rejected' ? describe(result.reason) : null));
    const polled = await this.step('waiting for the CA to validate', () => this.poll('validation', asOrder(order).url, (status) => status !== 'pending'));
    if (polled.status === 'ready' || polled.status === 'processing' || polled.status === 'valid') return challenges.map(() => null);
    return Promise.all(challenges.map(async (pending) => {
      const authorization = await this.step(`validating ${pending.name}`, () => this.read<acme.Authorization>(this.objectsOf(pending).authorization.url));
      if (authorization.status === 'valid') return null;
      if (authorization.status === 'pending') return `validating ${pending.name}: the CA had not validated it after ${polled.polls} polls of the order (${polled.status})`;
      return `validating ${pending.name}: ${authorizationError(authorization)}`;
    }));
  }

  /**
   * Deactivates the authorizations of challenges that were not answered successfully (RFC 8555
   * §7.5.2), so the CA stops validating names whose challenge objects are gone. Best effort:
   * returns the names it could not deactivate.
   */
  async abandon(challenges: readonly PendingChallenge[]): Promise<string[]> {
    const failed: string[] = [];
    for (const challenge of challenges) {
      await this.client.deactivateAuthorization(this.objectsOf(challenge).authorization).catch(() => failed.push(challenge.name));
    }
    return failed;
  }

  /**
   * Sends the CSR (RFC 8555 §7.4) and waits until the order is valid. When a retried finalize
   * finds the order already finalized (the first try reached the CA, its answer did not reach
   * us), the CA answers `orderNotReady`; the order is then read and waited for, not failed.
   */
  finalize(order: PlacedOrder, csrPem: string): Promise<PlacedOrder> {
    return this.step('finalizing order', async () => {
      try {
        return await this.untilIssued(await this.sendCsr(asOrder(order), csrPem));
      } catch (error) {
        if (error instanceof AcmeProblemError && refusesKey(error)) throw new KeyRefusedError(`the CA refused the domain key: ${error.message}; the next attempt uses a new key`, { cause: error });
        if (!(error instanceof AcmeProblemError && error.type === 'urn:ietf:params:acme:error:orderNotReady' && error.tries > 1)) throw error;
        const current = await this.client.getOrder(asOrder(order));
        if (current.status === 'invalid') throw new Error(`the CA marked the order invalid: ${orderError(current)}`);
        if (current.status !== 'processing' && current.status !== 'valid') throw error;
        return this.untilIssued(current);
      }
    });
  }

  /**
   * Sends the CSR to the order's finalize URL (RFC 8555 §7.4: `csr`, the DER request in base64url)
   * and returns the order it answers. acme-client's finalizeOrder sends the same request, but reads
   * the PEM with @peculiar/x509, which the renew bundle leaves out (scripts/build.mjs).
   */
  private async sendCsr(order: acme.Order, csrPem: string): Promise<acme.Order> {
    const { data } = await this.api().finalizeOrder(order.finalize, { csr: pemBody(csrPem).toString('base64url') });
    return { ...data, url: order.url };
  }

  /** Waits while a finalized order is `processing` (RFC 8555 §7.4); returns it once `valid`. */
  private async untilIssued(order: acme.Order): Promise<acme.Order> {
    if (order.status === 'valid') return order;
    if (order.status === 'invalid') throw new Error(`the CA marked the order invalid: ${orderError(order)}`);
    const polled = await this.poll('issuance', order.url, (status) => status !== 'processing' && status !== 'pending' && status !== 'ready');
    if (polled.status === 'valid') return polled.body as acme.Order;
    if (polled.status === 'invalid') throw new Error(`the CA marked the order invalid: ${orderError(polled.body as acme.Order)}`);
    throw new Error(`the order is still ${polled.status} after ${polled.polls} polls`);
  }

  /**
   * Polls `url` (POST-as-GET) until `done` holds for its status, waiting before each poll
   * (core/retry.ts pollWaitMs: the CA's Retry-After; else first most of what this `kind` of wait
   * took lately in this run, then a doubling backoff), at most the policy's number of polls.
   * Returns the last body read, its status and the polls made.
   */
  private async poll(kind: 'validation' | 'issuance', url: string, done: (status: string) => boolean): Promise<{ status: string; body: unknown; polls: number }> {
    const started = this.polling.now().getTime();
    let retryAfter: number | null = null;
    let last: { status: string; body: unknown; polls: number } = { status: 'unknown', body: null, polls: 0 };
    for (let poll = 1; poll <= this.polling.attempts; poll += 1) {
      await sleep(pollWaitMs(poll, retryAfter, this.polling, this.learned[kind], kind));
      const response = await this.api().apiRequest(url, null, [200]);
      const body = response.data as { status?: unknown };
      last = { status: typeof body?.status === 'string' ? body.status : 'unknown', body: { url, ...(body as object) }, polls: poll };
      if (done(last.status)) {
        this.learned[kind] = learnWait(this.learned[kind], this.polling.now().getTime() - started);
        return last;
      }
      retryAfter = retryAfterMs(response.headers['retry-after'] ?? null, this.polling.now());
    }
    return last;
  }

  /** Reads `url` (POST-as-GET, RFC 8555 §6.3). */
  private async read<T>(url: string): Promise<T> {
    return { url, ...((await this.api().apiRequest(url, null, [200])).data as object) } as T;
  }

  /** acme-client's signed-request layer (its `api`), which sends through the retries and the kept nonces. */
  private api(): AcmeApi {
    return (this.client as unknown as { api: AcmeApi }).api;
  }

  /** Downloads the certificate chain, leaf first (RFC 8555 §7.4.2). */
  downloadCertificate(order: PlacedOrder): Promise<string> {
    return this.step('downloading certificate', () => this.client.getCertificate(asOrder(order)));
  }

  /**
   * Revokes `certificatePem` (its leaf: the first PEM block, in DER, base64url) with the account
   * key (RFC 8555 §7.6). A certificate the CA has already revoked (`alreadyRevoked`: an earlier try
   * whose answer was lost) counts as revoked. Sent as acme-client's revokeCertificate sends it,
   * without the X.509 library it reads the PEM with (see sendCsr).
   */
  revoke(certificatePem: string, reasonCode: number): Promise<void> {
    return this.step('revoking certificate', async () => {
      try {
        await this.api().revokeCert({ certificate: pemBody(certificatePem).toString('base64url'), reason: reasonCode });
      } catch (error) {
        if (error instanceof AcmeProblemError && error.type === 'urn:ietf:params:acme:error:alreadyRevoked') return;
        throw error;
      }
    });
  }

  private objectsOf(challenge: PendingChallenge): ChallengeObjects {
    const objects = this.challengeObjects.get(challenge);
    if (!objects) throw new AcmeError(`answering ${challenge.name}`, new Error('the challenge was not handed out by this issuer'));
    return objects;
  }

  private async step<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (error instanceof KeyRefusedError) throw error;
      throw new AcmeError(operation, error);
    }
  }
}

/**
 * True when the CA refused the key itself: `badPublicKey` (RFC 8555 §6.7), or what Let's Encrypt
 * answers for a key it blocks (a `badCSR` whose detail speaks of the public key: "public key is
 * forbidden", a key known to be compromised or weak).
 */
function refusesKey(problem: AcmeProblemError): boolean {
  if (problem.type === 'urn:ietf:params:acme:error:badPublicKey') return true;
  return problem.type === 'urn:ietf:params:acme:error:badCSR' && /public key|key is (blocked|forbidden|compromised|weak)/i.test(problem.detail);
}

/** True when an order was refused for its `replaces` field (RFC 9773 §5, §7.4 `alreadyReplaced`). */
function refusesReplaces(problem: AcmeProblemError): boolean {
  return problem.type === 'urn:ietf:params:acme:error:alreadyReplaced' || (problem.status >= 400 && problem.status < 500 && /replace/i.test(problem.detail));
}

/** The problem an invalid order carries (RFC 8555 §7.1.3 `error`), in words. */
function orderError(order: acme.Order): string {
  const problem = (order as { error?: { type?: string; detail?: string } }).error;
  return problem ? `${problem.detail ?? 'no detail'}${problem.type ? ` (${problem.type.replace('urn:ietf:params:acme:error:', '')})` : ''}` : 'no reason given';
}

/** What a failed authorization says of its failure (its challenge's `error`, RFC 8555 §7.1.4, §8). */
function authorizationError(authorization: acme.Authorization): string {
  const failed = authorization.challenges.find((challenge) => (challenge as { error?: unknown }).error);
  const problem = (failed as { error?: { type?: string; detail?: string } } | undefined)?.error;
  if (!problem) return `the CA marked the authorization ${authorization.status} without saying why`;
  return `${(problem.detail ?? 'no detail').replace(/\n/g, ' ')}${problem.type ? ` (${problem.type.replace('urn:ietf:params:acme:error:', '')})` : ''}`;
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The part of acme-client's internal `api` used to poll: a signed POST-as-GET with its answer's headers. */
/** What this issuer calls of acme-client's `api` (its own finalizeOrder and revokeCertificate call the last two). */
interface AcmeApi {
  /** RFC 8555 §7.3: newAccount; keeps the account URL of the answer's Location. */
  createAccount(data: { onlyReturnExisting: true }): Promise<{ data: unknown }>;
  apiRequest(url: string, payload: null, validStatusCodes: number[]): Promise<{ data: unknown; headers: Record<string, string | undefined> }>;
  finalizeOrder(url: string, data: { csr: string }): Promise<{ data: acme.Order }>;
  revokeCert(data: { certificate: string; reason: number }): Promise<unknown>;
}

/** acme-client 5.4 sends the order payload as given; its type predates `profile` and `replaces`. */
type OrderPayload = Parameters<acme.Client['createOrder']>[0];

/** Every PlacedOrder this adapter hands out is the acme-client Order the CA returned. */
function asOrder(order: PlacedOrder): acme.Order {
  return order as acme.Order;
}
