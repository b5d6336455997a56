/**
 * The renewal queue (core/fan-out.ts): the scheduled run sends each due domain as one message, and
 * a worker puts back one whose order must wait for the order budget, with a delay.
 */

import { SendMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RenewQueue } from '../workflows/ports.js';
import { StorageError } from './aws-errors.js';

/** SQS takes at most 10 messages per SendMessageBatch. */
const BATCH = 10;
/** SQS delays a message at most 15 minutes. */
const MAX_DELAY_SECONDS = 900;

export class SqsRenewQueue implements RenewQueue {
  constructor(
    private readonly sqs: SQSClient,
    readonly queueUrl: string,
  ) {}

  async send(bodies: readonly string[], delaySeconds = 0): Promise<(string | null)[]> {
    const results: (string | null)[] = bodies.map(() => null);
    const DelaySeconds = Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.round(delaySeconds)));
    for (let start = 0; start < bodies.length; start += BATCH) {
      const entries = bodies.slice(start, start + BATCH).map((MessageBody, index) => ({ Id: String(start + index), MessageBody, ...(DelaySeconds > 0 ? { DelaySeconds } : {}) }));
      try {
        const answer = await this.sqs.send(new SendMessageBatchCommand({ QueueUrl: this.queueUrl, Entries: entries }));
        for (const failed of answer.Failed ?? []) results[Number(failed.Id)] = `${failed.Code ?? 'failed'}: ${failed.Message ?? 'no detail'}`;
      } catch (error) {
        const reason = new StorageError('sending to', this.queueUrl, error).message;
        for (const entry of entries) results[Number(entry.Id)] = reason;
      }
    }
    return results;
  }
}
