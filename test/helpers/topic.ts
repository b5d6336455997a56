/**
 * An SNS topic in moto with an SQS queue subscribed to it: the messages the function publishes, as a
 * subscriber receives them (Subject and Message of the SNS envelope).
 */

import { CreateTopicCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ReplicaState } from '../../scripts/replica/state.js';
import { credentials, uniqueLabel } from './replica-clients.js';

export interface TestTopic {
  arn: string;
  sns: SNSClient;
  /** Returns every message delivered since the last call. */
  received(): Promise<{ subject: string; message: string }[]>;
}

export async function createTestTopic(state: ReplicaState): Promise<TestTopic> {
  const sns = new SNSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const sqs = new SQSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const name = uniqueLabel('alarms');
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: name }));
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
  const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['QueueArn'] }));
  await sns.send(new SubscribeCommand({ TopicArn, Protocol: 'sqs', Endpoint: Attributes?.QueueArn }));
  return {
    arn: TopicArn as string,
    sns,
    async received() {
      const messages: { subject: string; message: string }[] = [];
      for (;;) {
        const page = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
        if (!page.Messages?.length) return messages;
        for (const item of page.Messages) {
          const envelope = JSON.parse(item.Body ?? '{}') as { Subject?: string; Message?: string };
          messages.push({ subject: envelope.Subject ?? '', message: envelope.Message ?? '' });
        }
        // ReceiveMessage hides what it returned for the visibility timeout: the next page is new.
      }
    },
  };
}
