/**
 * Fan-out: when the due domains do not fit in what is left of one invocation, the scheduled run
 * hands them to an SQS queue, and a worker function renews them (workflows/work-queue.ts), as many
 * at once as the event source mapping's maximum concurrency allows. Pure: the message a domain
 * travels in, and the decision whether to hand the due domains over.
 */

import { domainNameProblem, printable } from './domain-name.js';

/** `auto`: hand over only what does not fit in the invocation; `always`: every due domain; `off`: never. */
export type FanOutMode = 'auto' | 'always' | 'off';

export function parseFanOutMode(text: string | undefined): FanOutMode {
  if (text === undefined || text === '') return 'off';
  if (text === 'auto' || text === 'always' || text === 'off') return text;
  throw new Error(`"${text.slice(0, 40)}" is not a fan-out mode (auto, always or off)`);
}

/** What travels in one message: the domain, and what the run that handed it over was asked. */
export interface RenewMessage {
  domain: string;
  /** The run that found it due (its log names the same run). */
  runId: string;
  /** Why it was found due. */
  reason: string;
  force: boolean;
  /** How many times a worker put it back because the order budget was spent. */
  deferrals: number;
}

export function formatRenewMessage(message: RenewMessage): string {
  return JSON.stringify({ version: 1, ...message });
}

/**
 * Reads a message body; throws naming what is wrong with it (a message that can never be
 * renewed: the queue's redrive moves it to the dead-letter queue, whose alarm tells people).
 */
export function parseRenewMessage(body: string): RenewMessage {
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(body) as Record<string, unknown>;
  } catch {
    throw new Error(`the message is not JSON: ${JSON.stringify(printable(body.slice(0, 80)))}`);
  }
  if (!parsed || typeof parsed !== 'object' || parsed.version !== 1) throw new Error('the message is not a renewal message of version 1');
  const domain = typeof parsed.domain === 'string' ? parsed.domain : '';
  const problem = domainNameProblem(domain);
  if (problem) throw new Error(`the message names no valid domain ("${printable(domain.slice(0, 80))}": ${problem})`);
  return {
    domain,
    runId: typeof parsed.runId === 'string' ? parsed.runId.slice(0, 100) : 'unknown',
    reason: typeof parsed.reason === 'string' ? parsed.reason.slice(0, 500) : '',
    force: parsed.force === true,
    deferrals: typeof parsed.deferrals === 'number' && Number.isInteger(parsed.deferrals) && parsed.deferrals >= 0 ? parsed.deferrals : 0,
  };
}

/**
 * Whether the run hands its due domains to the queue: always in `always` mode; in `auto` mode when
 * renewing them here, `concurrency` at a time at about `perDomainMs` each, would not end `reserveMs`
 * before the invocation does. Returns why, for the log.
 */
export function fanOutDecision(args: { mode: FanOutMode; due: number; concurrency: number; perDomainMs: number; timeLeftMs: number | null; reserveMs: number }): { fanOut: boolean; why: string } {
  if (args.mode === 'off' || args.due === 0) return { fanOut: false, why: args.mode === 'off' ? 'fan-out is off' : 'nothing is due' };
  if (args.mode === 'always') return { fanOut: true, why: 'fan-out is "always"' };
  const neededMs = Math.ceil(args.due / args.concurrency) * args.perDomainMs;
  if (args.timeLeftMs === null) return { fanOut: false, why: 'no invocation time limit' };
  const availableMs = args.timeLeftMs - args.reserveMs;
  const described = `${args.due} due domains, ${args.concurrency} at a time, need about ${Math.round(neededMs / 1000)} s; ${Math.max(0, Math.round(availableMs / 1000))} s are left`;
  return neededMs > availableMs ? { fanOut: true, why: `${described}: handed to the workers` } : { fanOut: false, why: `${described}: renewed here` };
}
