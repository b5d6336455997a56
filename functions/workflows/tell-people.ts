/**
 * Telling people what needs attention after a run, top to bottom: read what was last sent → gather
 * the problems (a stopped run, failed renewals, invalid folders, the backlog, certificates the
 * schedule cannot keep, what the hosts serve and report, what could not be checked) and the one-off
 * events (a repair, a lock taken over) → decide whether to send (core/attention.ts: a changed set,
 * a daily reminder, an all clear) → publish to the topic → keep what was sent.
 *
 * What only a renewal run knows (its failures, its backlog, the schedule warnings, a run that
 * stopped) is kept in the monitoring state, so the hourly watches keep reporting it until a
 * renewal run replaces it; everything else each run sees for itself.
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

/** What a renewal run found, kept for the watches that follow it. */
interface RunFindings {
  stopped: { what: string; reason: string }[];
  failed: { domain: string; step: string; reason: string }[];
  backlog: { domain: string; reason: string }[];
  schedule: { domain: string; warning: string }[];
}

interface KeptState extends AttentionState, RunFindings {}

export interface TellInput {
  runId: string;
  /** The renewal run's report; null in a watch, or when the run stopped (`stoppedReason`). */
  run: RunReport | null;
  /** Why the renewal run stopped before renewing anything (null: it did not). */
  stoppedReason: string | null;
  /** The domains a manual run was asked for (null: every domain, or a watch). */
  manual: string[] | null;
  watch: WatchReport;
}

/**
 * Returns what was sent (null: nothing) and the problems, after publishing and keeping the state.
 * Throws when publishing or keeping the state fails (the run then fails: nobody may be told).
 */
export async function tellPeople(input: TellInput, ctx: TellContext): Promise<{ sent: 'new' | 'reminder' | 'cleared' | null; items: AttentionItem[] }> {
  const stateProblem: { what: string; reason: string }[] = [];
  const kept = await ctx.store.readAttentionState().then(parseKept, (error: unknown) => {
    // Unreadable: tell as if nothing had been sent (better twice than never), and say why.
    stateProblem.push({ what: 'monitoring state', reason: `could not be read, so this message may repeat an earlier one: ${describeError(error)}` });
    return null;
  });
  const found = keptFindings(input, kept);
  const runFailures = found.failed;
  const failed = [...runFailures, ...input.watch.failed.filter((item) => !runFailures.some((failure) => failure.domain === item.domain))];
  const items = attentionItems({
    stopped: [...found.stopped, ...stateProblem],
    failed,
    invalidFolders: input.watch.invalidFolders,
    backlog: found.backlog,
    schedule: found.schedule,
    served: input.watch.served,
    hosts: input.watch.hosts,
    unchecked: input.watch.unchecked,
  });
  const events: AttentionEvent[] = (input.run?.outcomes ?? []).flatMap((outcome) => (outcome.events ?? []).map((line) => ({ line })));

  const now = ctx.now();
  const decision = publishDecision(items, events, kept, now);
  if (decision.send && ctx.notifier) {
    const { subject, message } = formatAttention({ service: ctx.service, runId: input.runId, at: now, items, events, kind: decision.send });
    await ctx.notifier.publish(subject, message);
    ctx.log('info', 'told people', { step: 'notify', kind: decision.send, problems: items.length, events: events.length });
  }
  const state: KeptState = { ...(ctx.notifier ? decision.state : kept ?? decision.state), ...found };
  await ctx.store.writeAttentionState(`${JSON.stringify(state, null, 2)}\n`);
  return { sent: ctx.notifier ? decision.send : null, items };
}

/**
 * What the renewal runs found: a full run's findings replace the kept ones; a manual run's replace
 * them for the domains it ran; a watch keeps them.
 */
function keptFindings(input: TellInput, kept: KeptState | null): RunFindings {
  const before: RunFindings = { stopped: kept?.stopped ?? [], failed: kept?.failed ?? [], backlog: kept?.backlog ?? [], schedule: kept?.schedule ?? [] };
  if (input.stoppedReason !== null) return { ...before, stopped: [{ what: input.manual ? 'manual renewal run' : 'renewal run', reason: input.stoppedReason }] };
  if (!input.run) return before;
  const outcomes = input.run.outcomes;
  const now: RunFindings = {
    stopped: [
      ...(input.run.stopped ? [{ what: input.manual ? 'manual renewal run' : 'renewal run', reason: input.run.stopped }] : []),
      ...input.run.problems.map((reason) => ({ what: 'bucket manifest', reason })),
    ],
    failed: outcomes.flatMap((outcome) => (outcome.outcome === 'failed' ? [{ domain: outcome.domain, step: outcome.step, reason: outcome.reason }] : [])),
    backlog: outcomes.flatMap((outcome) => (outcome.outcome === 'skipped' ? [{ domain: outcome.domain, reason: outcome.reason }] : [])),
    schedule: outcomes.flatMap((outcome) => (outcome.outcome === 'renewed' && outcome.lapseRisk ? [{ domain: outcome.domain, warning: outcome.lapseRisk }] : [])),
  };
  if (!input.manual) return now;
  const manual = input.manual;
  const others = <T extends { domain: string }>(list: T[]) => list.filter((item) => !manual.includes(item.domain));
  return { stopped: before.stopped, failed: [...others(before.failed), ...now.failed], backlog: [...others(before.backlog), ...now.backlog], schedule: [...others(before.schedule), ...now.schedule] };
}

function parseKept(text: string | null): KeptState | null {
  const state = parseAttentionState(text);
  if (!state) return null;
  const value = state as Partial<KeptState>;
  const list = <T>(items: T[] | undefined): T[] => (Array.isArray(items) ? items : []);
  return { ...state, stopped: list(value.stopped), failed: list(value.failed), backlog: list(value.backlog), schedule: list(value.schedule) };
}
