/**
 * One invocation of the worker: the renewal of the domains a batch of queue messages names, top to
 * bottom: measure the clock against the CA's → renew each domain exactly as the scheduled run does
 * (renew-domain.ts: the same quick look, decision, lock, order, verification, store and status.json)
 * → say which messages come back → metrics → tell people of failed domains → the bucket manifest.
 *
 * A message is done (deleted) when its domain was renewed, repaired, found not due (a second
 * delivery of a domain just renewed: no order is placed twice, the lock and the decision under it
 * see to that), or failed with the failure recorded in status.json and told (the next run of the
 * schedule tries again). It comes back after the queue's visibility timeout when another run holds
 * the domain's lock, when the invocation ran short of time, or when the message cannot be read
 * (after the queue's maxReceiveCount the redrive moves it to the dead-letter queue, whose alarm
 * tells people). One whose order must wait for the order budget is sent again with a delay.
 */

import { describeError } from '../core/errors.js';
import { formatRenewMessage, parseRenewMessage, type RenewMessage } from '../core/fan-out.js';
import { runMetrics } from '../core/metrics.js';
import { mapWithConcurrency } from '../core/concurrency.js';
import { publishFolders } from './publish-manifest.js';
import { renewDomain, type DomainOutcome } from './renew-domain.js';
import type { Logger, Notifier, RenewalContext, RenewQueue } from './ports.js';

/** One message of the batch, as the event source mapping hands it over. */
export interface WorkItem {
  messageId: string;
  body: string;
  /** How many times the queue has delivered it (this delivery included). */
  receiveCount: number;
}

export interface WorkContext {
  renewal: RenewalContext;
  queue: RenewQueue;
  notifier: Notifier | null;
  log: Logger;
  emitMetrics: (record: Record<string, unknown>) => void;
  functionName: string;
  /** How many of the batch's domains are renewed at once. */
  concurrency: number;
  /** How the message names the deployment. */
  service: string;
}

export interface WorkReport {
  outcomes: DomainOutcome[];
  /** The messages to leave on the queue (ReportBatchItemFailures): they come back after the visibility timeout. */
  retry: string[];
  /** Messages that cannot be read (each also in `retry`). */
  unreadable: { messageId: string; reason: string }[];
}

export async function workQueue(items: readonly WorkItem[], ctx: WorkContext): Promise<WorkReport> {
  const skew = await ctx.renewal.caClock.measure();
  if (skew?.problem) ctx.log('error', skew.problem, { step: 'clock', skewSeconds: skew.skewMs / 1000 });
  const options = { breakLocks: false, ordersBlocked: skew?.problem ?? null, clockConfirmed: skew !== null && skew.problem === null };

  const retry: string[] = [];
  const unreadable: WorkReport['unreadable'] = [];
  const outcomes: DomainOutcome[] = [];
  let deferrals = 0;
  await mapWithConcurrency([...items], ctx.concurrency, async (item) => {
    let message: RenewMessage;
    try {
      message = parseRenewMessage(item.body);
    } catch (error) {
      ctx.log('error', 'a queue message that names no domain to renew; it goes to the dead-letter queue after its last delivery', { step: 'queue', messageId: item.messageId, receiveCount: item.receiveCount, reason: describeError(error) });
      unreadable.push({ messageId: item.messageId, reason: describeError(error) });
      retry.push(item.messageId);
      return;
    }
    ctx.log('info', 'renewing a domain handed over by the scheduled run', { domain: message.domain, step: 'queue', handedOverBy: message.runId, receiveCount: item.receiveCount });
    const outcome = await renewDomain(message.domain, { ...options, force: message.force }, ctx.renewal);
    outcomes.push(outcome);
    if (outcome.outcome !== 'skipped') return;
    if (outcome.until && (await deferred(message, outcome.until, ctx))) {
      deferrals += 1;
      return;
    }
    retry.push(item.messageId);
  });

  const count = (kind: DomainOutcome['outcome']) => outcomes.filter((outcome) => outcome.outcome === kind).length;
  // A domain waiting on the queue for the order budget is not backlog: it is renewed once the budget frees.
  const counts = { renewed: count('renewed'), repaired: count('repaired'), notDue: count('not due'), skipped: count('skipped') - deferrals, failed: count('failed'), invalidFolders: unreadable.length };
  ctx.emitMetrics(runMetrics(counts, ctx.functionName, ctx.renewal.now()));
  await tellFailures(outcomes, ctx);
  // The hosts read the manifest: what this batch stored goes in it now, one folder listing each.
  const stored = outcomes.filter((outcome) => outcome.outcome === 'renewed' || outcome.outcome === 'repaired').map((outcome) => outcome.domain);
  if (ctx.renewal.manifest && stored.length > 0) await publishFolders({ store: ctx.renewal.store, manifest: ctx.renewal.manifest, log: ctx.log, now: ctx.renewal.now }, stored);
  ctx.log(counts.failed > 0 || unreadable.length > 0 ? 'error' : 'info', 'batch finished', { counts, retried: retry.length });
  return { outcomes, retry, unreadable };
}

/**
 * Sends the message again, delayed until the order budget frees (at most the queue's 15 minutes:
 * a later one is delayed again); true when sent, and the delivery is done.
 */
async function deferred(message: RenewMessage, until: string, ctx: WorkContext): Promise<boolean> {
  const delaySeconds = Math.max(1, Math.ceil((Date.parse(until) - ctx.renewal.now().getTime()) / 1000));
  const [failure] = await ctx.queue.send([formatRenewMessage({ ...message, deferrals: message.deferrals + 1 })], delaySeconds);
  if (failure) {
    ctx.log('error', 'could not put the domain back on the queue to wait for the order budget; the message comes back instead', { domain: message.domain, step: 'queue', reason: failure });
    return false;
  }
  ctx.log('info', 'the order budget is spent: the domain waits on the queue', { domain: message.domain, step: 'queue', until, delaySeconds: Math.min(delaySeconds, 900) });
  return true;
}

/**
 * A domain that failed here is told at once, naming it: its failure is recorded in status.json,
 * and the scheduled run that handed it over has already reported (the next one retries it).
 */
async function tellFailures(outcomes: readonly DomainOutcome[], ctx: WorkContext): Promise<void> {
  const failed = outcomes.flatMap((outcome) => (outcome.outcome === 'failed' ? [outcome] : []));
  if (failed.length === 0 || !ctx.notifier) return;
  const lines = failed.map((outcome) => `- ${outcome.domain}: renewal failed at ${outcome.step}: ${outcome.reason}`);
  const subject = `${ctx.service}: ${failed.length === 1 ? `renewal of ${failed[0]?.domain} failed` : `${failed.length} renewals failed`}`.slice(0, 100);
  try {
    await ctx.notifier.publish(subject, `The renewal worker could not renew:\n${lines.join('\n')}\n\nThe failure is recorded in each domain's status.json; the next scheduled run tries again.\n`);
  } catch (error) {
    ctx.log('error', 'could not tell people of failed renewals', { step: 'tell', reason: describeError(error) });
  }
}
