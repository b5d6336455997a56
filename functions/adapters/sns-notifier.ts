/**
 * The people: messages published to the stack's SNS topic (its e-mail subscription, or any other).
 */

import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import type { Notifier } from '../workflows/ports.js';
import { StorageError } from './aws-errors.js';

export class SnsNotifier implements Notifier {
  constructor(
    private readonly sns: SNSClient,
    readonly topicArn: string,
  ) {}

  async publish(subject: string, message: string): Promise<void> {
    await this.sns.send(new PublishCommand({ TopicArn: this.topicArn, Subject: subject, Message: message })).catch((error: unknown) => {
      throw new StorageError('publishing to', this.topicArn, error);
    });
  }
}
