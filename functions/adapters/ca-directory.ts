/**
 * The CA's directory (RFC 8555 §7.1.1), read once at the start of every renewal run, whether or
 * not anything is due: its `Date` header measures this run's clock against the CA's (RFC 9110
 * §6.6.1), and its body says what the CA offers beyond RFC 8555: `renewalInfo` (ARI, RFC 9773
 * §3) and `meta.profiles` (ACME profiles). Also fetches renewal windows, which need no account.
 */

import https from 'node:https';
import { parseRenewalInfo, type RenewalInfo } from '../core/ari.js';
import { judgeClockSkew, type ClockSkew } from '../core/clock.js';
import type { CaDirectory, CaDirectoryFacts, ClockCheck } from '../workflows/ports.js';

/** Directories and renewal windows are small; anything larger is not what was asked for. */
const MAX_BODY = 64 * 1024;
/**
 * A renewal window is asked for every stored certificate, before its decision: a slow or failing
 * renewalInfo must not hold a run's domains back. Each request gets at most this long, and after
 * this many failures in a run the rest are not asked (the schedule decides for them).
 */
const RENEWAL_INFO_TIMEOUT_MS = 5_000;
const RENEWAL_INFO_FAILURES_PER_RUN = 3;

interface Answer {
  status: number;
  date: string | undefined;
  retryAfter: string | undefined;
  body: string;
  receivedAt: Date;
}

export class CaDirectoryClient implements ClockCheck, CaDirectory {
  private read: Promise<Answer | null> | undefined;
  private renewalInfoFailures = 0;

  constructor(
    private readonly directoryUrl: string,
    private readonly allowanceMs: number,
    private readonly now: () => Date,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Returns the skew, or null when the CA did not answer with a readable Date header (the account
   * step measures again). Reads the directory anew: a run starts with it, and `facts` then answers
   * from this read for the rest of the run.
   */
  async measure(): Promise<ClockSkew | null> {
    this.read = this.get(this.directoryUrl, this.timeoutMs);
    this.renewalInfoFailures = 0;
    const answer = await this.read;
    return answer ? judgeClockSkew(answer.date, answer.receivedAt, this.allowanceMs) : null;
  }

  /** Returns what the directory offers, or null when it could not be read. Never throws. */
  async facts(): Promise<CaDirectoryFacts | null> {
    const directory = parsedBody(await this.directory()) as { renewalInfo?: unknown; meta?: { profiles?: unknown } } | null;
    if (!directory) return null;
    const profiles = directory.meta?.profiles;
    return {
      renewalInfoUrl: typeof directory.renewalInfo === 'string' && directory.renewalInfo.startsWith('https://') ? directory.renewalInfo : null,
      profiles: profiles && typeof profiles === 'object' && !Array.isArray(profiles) ? Object.fromEntries(Object.entries(profiles).map(([name, text]) => [name, typeof text === 'string' ? text : ''])) : null,
    };
  }

  /**
   * Returns the directory document this run read (RFC 8555 §7.1.1), or null when it could not be
   * read: the ACME client starts from it instead of asking again. Never throws.
   */
  async document(): Promise<Record<string, unknown> | null> {
    const directory = parsedBody(await this.directory());
    return directory && typeof directory === 'object' && !Array.isArray(directory) ? (directory as Record<string, unknown>) : null;
  }

  /** Returns the suggested renewal window of a certificate (RFC 9773 §4.1: an unauthenticated GET); throws naming what failed. */
  async renewalInfo(url: string, certId: string): Promise<RenewalInfo> {
    const target = `${url.replace(/\/$/, '')}/${certId}`;
    if (this.renewalInfoFailures >= RENEWAL_INFO_FAILURES_PER_RUN) throw new Error(`not asked: renewalInfo failed ${this.renewalInfoFailures} times in this run`);
    try {
      const timeoutMs = Math.min(RENEWAL_INFO_TIMEOUT_MS, this.timeoutMs);
      const answer = await this.get(target, timeoutMs);
      if (!answer) throw new Error(`GET ${target} got no answer within ${timeoutMs} ms`);
      if (answer.status !== 200) throw new Error(`GET ${target} answered ${answer.status}`);
      return parseRenewalInfo(answer.body, answer.retryAfter, answer.receivedAt);
    } catch (error) {
      this.renewalInfoFailures += 1;
      throw error;
    }
  }

  private directory(): Promise<Answer | null> {
    this.read ??= this.get(this.directoryUrl, this.timeoutMs);
    return this.read;
  }

  private get(url: string, timeoutMs: number): Promise<Answer | null> {
    return new Promise((resolve) => {
      const request = https.get(url, { timeout: timeoutMs }, (response) => {
        const receivedAt = this.now();
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
          if (body.length > MAX_BODY) response.destroy();
        });
        const header = (name: string) => {
          const value = response.headers[name];
          return Array.isArray(value) ? value[0] : value;
        };
        response.on('close', () => resolve({ status: response.statusCode ?? 0, date: header('date'), retryAfter: header('retry-after'), body: body.slice(0, MAX_BODY), receivedAt }));
        response.on('error', () => resolve(null));
      });
      request.on('timeout', () => request.destroy());
      request.on('error', () => resolve(null));
    });
  }
}

/** Returns a 200 answer's body as JSON, or null when there is none or it is not JSON. */
function parsedBody(answer: Answer | null): unknown {
  if (!answer || answer.status !== 200) return null;
  try {
    return JSON.parse(answer.body) as unknown;
  } catch {
    return null;
  }
}
