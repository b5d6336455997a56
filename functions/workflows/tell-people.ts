/**
 * Telling people what needs attention after a run, top to bottom: gather the problems (failed
 * renewals, invalid folders, the backlog, what the hosts serve, what they report) and the one-off
 * events (a repair, a lock taken over) → decide whether to send (core/attention.ts: a changed set,
 * a daily reminder, an all clear) → publish to the topic → keep what was sent.
 *
 * The backlog is known only to renewal runs, so it is kept in the monitoring state for the hourly
 * watches; everything else each run sees for itself.
 */

import { attentionItems, formatAttention, parseAttentionState, publishDecision, type AttentionEvent, type AttentionItem, type AttentionState } from '../core/attention.js';
import { describeError } from '../core/errors.js';
import type { RunReport } from './renew-all.js';
import type { Logger, Notifier, CertificateStore } from './ports.js';
import type { WatchReport } from './watch.js';

export interface TellContext {
  store: Pick<CertificateStore, 'readAttentionState' | 'writeAttentionState'>;
  /** Null when no topic is configured: the log and the metrics are then the only channel. */
  notifier: Notifier | null;
  log: Logger;
  now: () => Date;
  /** How the message names the deployment, e.g. "acme-certificates production". */
  service: string;
}

interface KeptState extends AttentionState {
  backlog: { domain: string; reason: string }[];
}

/** Returns what was sent (null: nothing), after publishing it. Throws only when publishing fails. */
export async function tellPeople(input: { runId: string; run: RunReport | null; manual: string[] | null; watch: WatchReport }, ctx: TellContext): Promise<{ sent: 'new' | 'reminder' | 'cleared' | null; items: AttentionItem[] }> {
  const kept = parseKept(await ctx.store.readAttentionState().catch(() => null));
  const backlog = currentBacklog(input.run, input.manual, kept?.backlog ?? []);
  const runFailures = (input.run?.outcomes ?? []).flatMap((outcome) => (outcome.outcome === 'failed' ? [{ domain: outcome.domain, step: outcome.step, reason: outcome.reason }] : []));
  const failed = [...runFailures, ...input.watch.failed.filter((item) => !runFailures.some((failure) => failure.domain === item.domain))];
  const items = attentionItems({ failed, invalidFolders: input.watch.invalidFolders, backlog, served: input.watch.served, hosts: input.watch.hosts });
  const events: AttentionEvent[] = (input.run?.outcomes ?? []).flatMap((outcome) => (outcome.events ?? []).map((line) => ({ line })));

  const now = ctx.now();
  const decision = publishDecision(items, events, kept, now);
  if (decision.send && ctx.notifier) {
    const { subject, message } = formatAttention({ service: ctx.service, runId: input.runId, at: now, items, events, kind: decision.send });
    await ctx.notifier.publish(subject, message);
    ctx.log('info', 'told people', { step: 'notify', kind: decision.send, problems: items.length, events: events.length });
  }
  const state: KeptState = { ...(ctx.notifier ? decision.state : kept ?? decision.state), backlog };
  await ctx.store.writeAttentionState(`${JSON.stringify(state, null, 2)}\n`).catch((error: unknown) => ctx.log('error', 'could not keep the monitoring state', { step: 'notify', reason: describeError(error) }));
  return { sent: ctx.notifier ? decision.send : null, items };
}

/** A full renewal run's backlog replaces the kept one; a manual run's replaces it for the domains it ran; a watch keeps it. */
function currentBacklog(run: RunReport | null, manual: string[] | null, kept: KeptState['backlog']): KeptState['backlog'] {
  if (!run) return kept;
  const skipped = run.outcomes.flatMap((outcome) => (outcome.outcome === 'skipped' ? [{ domain: outcome.domain, reason: outcome.reason }] : []));
  if (!manual) return skipped;
  return [...kept.filter((item) => !manual.includes(item.domain)), ...skipped];
}

function parseKept(text: string | null): KeptState | null {
  const state = parseAttentionState(text);
  if (!state) return null;
  const backlog = (state as Partial<KeptState>).backlog;
  return { ...state, backlog: Array.isArray(backlog) ? backlog : [] };
}
