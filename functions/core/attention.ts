/**
 * The message a person receives: everything that needs attention after a run, naming each domain,
 * host and name, with the step and the reason; and when to send it (the set of problems changed,
 * a daily reminder while they last, and once when they clear). Pure: publishing is an adapter.
 */

import { createHash } from 'node:crypto';
import { redactPem } from './errors.js';
import type { HostFinding } from './host-report.js';
import type { ServedFinding } from './served.js';

/** One problem that lasts until fixed; `key` identifies it across runs (no reason text, which varies). */
export interface AttentionItem {
  key: string;
  section: (typeof SECTIONS)[number];
  /** A few words for the subject line. */
  short: string;
  line: string;
}

/** Something that happened once in this run and is worth telling (a repair, a lock taken over). */
export interface AttentionEvent {
  line: string;
}

/** The sections of the message, in the order a reader wants them. */
export const SECTIONS = ['Failed runs', 'Failed renewals', 'Invalid folders', 'Not renewed (backlog)', 'Schedule', 'Served certificates', 'Hosts', 'Not checked'] as const;

export interface AttentionInput {
  /** Runs that stopped before renewing anything (the bucket could not be listed...), and monitoring that failed. */
  stopped: readonly { what: string; reason: string }[];
  failed: readonly { domain: string; step: string; reason: string }[];
  invalidFolders: readonly { folder: string; reason: string }[];
  backlog: readonly { domain: string; reason: string }[];
  served: readonly ServedFinding[];
  hosts: readonly HostFinding[];
  /** Certificates renewed whose runs are too sparse to keep them (less than a quarter of their lifetime left at the next run). */
  schedule: readonly { domain: string; warning: string }[];
  /** What the watch could not check. */
  unchecked: readonly { what: string; reason: string }[];
}

/** Returns the lasting problems of a run, in the order a reader wants them. */
export function attentionItems(input: AttentionInput): AttentionItem[] {
  return [
    ...input.stopped.map((item): AttentionItem => ({ key: `stopped:${item.what}`, section: 'Failed runs', short: `${item.what} failed`, line: `${item.what}: ${item.reason}` })),
    ...input.failed.map((item): AttentionItem => ({ key: `failed:${item.domain}:${item.step}`, section: 'Failed renewals', short: `${item.domain} failed at ${item.step}`, line: `${item.domain}: ${item.step}: ${item.reason}` })),
    ...input.invalidFolders.map((item): AttentionItem => ({ key: `invalid:${item.folder}`, section: 'Invalid folders', short: `folder ${item.folder} invalid`, line: `folder "${item.folder}": ${item.reason}` })),
    ...input.backlog.map((item): AttentionItem => ({ key: `backlog:${item.domain}`, section: 'Not renewed (backlog)', short: `${item.domain} due, not renewed`, line: `${item.domain}: due, not renewed: ${item.reason}` })),
    ...input.schedule.map((item): AttentionItem => ({ key: `schedule:${item.domain}`, section: 'Schedule', short: `${item.domain} lapses before the next run`, line: `${item.domain}: ${item.warning}` })),
    ...input.served.map((item): AttentionItem => ({ key: `served:${item.kind}:${item.name}`, section: 'Served certificates', short: `${item.name} ${item.kind}`, line: `${item.domain}: ${item.detail}` })),
    ...input.hosts.map((item): AttentionItem => ({ key: `host:${item.kind}:${item.host}:${item.domain ?? ''}`, section: 'Hosts', short: `host ${item.host.split(' ')[0]} ${item.kind}`, line: item.detail })),
    ...input.unchecked.map((item): AttentionItem => ({ key: `unchecked:${item.what}`, section: 'Not checked', short: `${item.what} not checked`, line: `${item.what}: ${item.reason}` })),
  ];
}

/** A message is cut to this many bytes (SNS takes 256 KB); the log has every line. */
export const MESSAGE_LIMIT_BYTES = 200_000;

/**
 * Returns the subject (at most 100 characters, one line: what SNS allows) and body of the message,
 * with anything shaped like a PEM block redacted.
 */
export function formatAttention(args: { service: string; runId: string; at: Date; items: readonly AttentionItem[]; events: readonly AttentionEvent[]; kind: 'new' | 'reminder' | 'cleared' }): { subject: string; message: string } {
  const { items, events } = args;
  const head =
    args.kind === 'cleared' ? `${args.service}: all clear`
      : items.length === 0 ? `${args.service}: ${events.length} event(s)`
        : `${args.service}: ${items.length} problem(s)${args.kind === 'reminder' ? ', still' : ''}`;
  const shorts = items.length > 0 ? items.map((item) => item.short).join('; ') : events.map((event) => event.line).join('; ');
  const subject = oneLine(`${head}${shorts ? `: ${shorts}` : ''}`).slice(0, 100);
  const lines = [`${args.service}, run ${args.runId} at ${args.at.toISOString()}:`, ''];
  if (args.kind === 'cleared') lines.push('Every problem reported before is gone.', '');
  if (items.length > 0) lines.push(`${items.length} thing(s) need attention${args.kind === 'reminder' ? ' (still, since an earlier message)' : ''}.`, '');
  for (const section of SECTIONS) {
    const inSection = items.filter((item) => item.section === section);
    if (inSection.length === 0) continue;
    lines.push(`${section}:`, ...inSection.map((item) => `- ${item.line}`), '');
  }
  if (events.length > 0) lines.push('In this run:', ...events.map((event) => `- ${event.line}`), '');
  const closing = 'The function\'s log has every step of this run (search for the run id).';
  return { subject: redactPem(subject).slice(0, 100), message: redactPem(capLines(lines, closing, MESSAGE_LIMIT_BYTES)) };
}

/** What was last sent, kept between runs. */
export interface AttentionState {
  digest: string;
  publishedAt: string;
  count: number;
}

/** A reminder is sent this long after the last message while problems remain. */
export const REMINDER_MS = 24 * 3_600_000;

/**
 * Returns whether to send a message now and the state to keep: `new` when the set of problems
 * differs from the last one sent (or a one-off event happened), `reminder` when the same problems
 * were last sent a day ago or more, `cleared` when problems were sent and none remain.
 */
export function publishDecision(items: readonly AttentionItem[], events: readonly AttentionEvent[], last: AttentionState | null, now: Date): { send: 'new' | 'reminder' | 'cleared' | null; state: AttentionState } {
  const digest = createHash('sha256').update(items.map((item) => item.key).sort().join('\n')).digest('hex');
  const state: AttentionState = { digest, publishedAt: now.toISOString(), count: items.length };
  if (items.length === 0) {
    if (last && last.count > 0) return { send: 'cleared', state };
    if (events.length > 0) return { send: 'new', state };
    return { send: null, state: last ?? state };
  }
  if (!last || last.digest !== digest || events.length > 0) return { send: 'new', state };
  if (now.getTime() - new Date(last.publishedAt).getTime() >= REMINDER_MS) return { send: 'reminder', state };
  return { send: null, state: last };
}

/** Returns the state in `text`, or null when there is none readable. */
export function parseAttentionState(text: string | null): AttentionState | null {
  try {
    const value = JSON.parse(text ?? '') as AttentionState;
    return typeof value.digest === 'string' && typeof value.publishedAt === 'string' && typeof value.count === 'number' ? value : null;
  } catch {
    return null;
  }
}

/** Joins `lines` and `closing`, leaving out the last lines (and saying how many) when the whole exceeds `limit` bytes. */
function capLines(lines: readonly string[], closing: string, limit: number): string {
  const whole = [...lines, closing].join('\n');
  if (byteLength(whole) <= limit) return whole;
  const kept: string[] = [];
  let size = byteLength(closing) + 200;
  for (const line of lines) {
    const next = byteLength(line) + 1;
    if (size + next > limit) break;
    kept.push(line);
    size += next;
  }
  return [...kept, `... and ${lines.length - kept.length} more line(s), left out to fit the message.`, closing].join('\n');
}

const encoder = new TextEncoder();
function byteLength(text: string): number {
  return encoder.encode(text).length;
}

function oneLine(text: string): string {
  // SNS subjects: printable ASCII, no line breaks.
  return text.replace(/[^\x20-\x7e]/g, '?');
}
