/**
 * One invocation of the renew function, top to bottom: renew what is due (unless it is a watch) →
 * publish the run's metrics → bring the bucket manifest up to date while watching what the hosts
 * serve and report → publish the watch's metrics → tell people what needs attention → say whether
 * the invocation failed.
 *
 * Contract: returns normally whenever people were told; `failure` is non-null when anything needs
 * attention, and the handler then fails the invocation with it. Throws only for a request naming
 * unknown domains (nothing was done) and when telling people fails.
 */

import type { AttentionItem } from '../core/attention.js';
import { describeError } from '../core/errors.js';
import { runMetrics, watchMetrics } from '../core/metrics.js';
import type { RenewRequest } from '../core/request.js';
import { publishRunManifest, renewDomains, runFailed, UnknownDomainsError, withManifest, type RenewedDomains, type RunReport } from './renew-all.js';
import { tellPeople, type TellContext } from './tell-people.js';
import { watchAll, type WatchReport } from './watch.js';
import type { Logger, RenewalContext, WatchContext } from './ports.js';

export interface InvocationContext {
  renewal: RenewalContext;
  watch: WatchContext;
  tell: TellContext;
  concurrency: number;
  log: Logger;
  /** Publishes one Embedded Metric Format record (a log line in Lambda). */
  emitMetrics: (record: Record<string, unknown>) => void;
  functionName: string;
}

export interface InvocationResult {
  mode: 'renew' | 'watch';
  run: RunReport | null;
  watch: WatchReport;
  told: 'new' | 'reminder' | 'cleared' | null;
  /** Every problem (what the message lists); empty when all is well. */
  items: AttentionItem[];
  /** Why the invocation fails (null: it succeeds). */
  failure: string | null;
}

export async function runInvocation(request: RenewRequest, runId: string, ctx: InvocationContext): Promise<InvocationResult> {
  const mode = request.mode ?? 'renew';
  let run: RunReport | null = null;
  let stoppedReason: string | null = null;
  let renewal: RenewedDomains | null = null;
  if (mode === 'renew') {
    try {
      renewal = await renewDomains(request, ctx.renewal, ctx.concurrency);
      ctx.emitMetrics(runMetrics(renewal.report.counts, ctx.functionName, ctx.renewal.now()));
    } catch (error) {
      if (error instanceof UnknownDomainsError) throw error;
      stoppedReason = `stopped before renewing anything: ${describeError(error)}`;
      ctx.log('error', 'the renewal run stopped', { step: 'list', reason: describeError(error) });
    }
  }

  // The bucket manifest and the watch read and write different objects: one does not wait for the other.
  const [manifestProblem, watch] = await Promise.all([renewal ? publishRunManifest(renewal, ctx.renewal) : null, watchAll(ctx.watch)]);
  if (renewal) run = withManifest(renewal, manifestProblem);
  const count = (...kinds: WatchReport['hosts'][number]['kind'][]) => watch.hosts.filter((finding) => kinds.includes(finding.kind)).length;
  ctx.emitMetrics(watchMetrics(watch.summary, { stale: count('stale'), behind: count('behind'), failing: count('failing', 'unreadable') }, ctx.functionName, ctx.watch.now()));

  const { sent, items } = await tellPeople({ runId, run, stoppedReason, manual: request.domains ?? null, watch }, ctx.tell);

  const failed = stoppedReason !== null || (run !== null && runFailed(run)) || items.length > 0;
  ctx.log(failed ? 'error' : 'info', 'run finished', { mode, ...(run ? { counts: run.counts } : {}), problems: items.length, told: sent });
  return { mode, run, watch, told: sent, items, failure: failed ? failureSummary(items) : null };
}

/** The invocation's error message: the problems, the first ten in full (the message and the log have them all). */
function failureSummary(items: readonly AttentionItem[]): string {
  const shown = items.slice(0, 10).map((item) => item.line.slice(0, 400));
  const more = items.length > shown.length ? ` | ... and ${items.length - shown.length} more` : '';
  return `${items.length} problem(s): ${shown.join(' | ')}${more}`;
}
