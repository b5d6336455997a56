/**
 * An SNS topic in moto with an SQS queue subscribed to it: the messages the function publishes, as a
 * subscriber receives them (Subject and Message of the SNS envelope).
 */

import { CreateTopicCommand, ListTopicsCommand, SNSClient, SubscribeCommand } from '@aws-sdk/client-sns';
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { ReplicaState } from '../../scripts/replica/state.js';
import { credentials, uniqueLabel } from './replica-clients.js';

export interface TestTopic {
  arn: string;
  sns: SNSClient;
  /** Returns every message delivered since the last call. */
  received(): Promise<{ subject: string; message: string }[]>;
}

/** Returns a new topic with a queue subscribed to it. */
export async function createTestTopic(state: ReplicaState): Promise<TestTopic> {
  const sns = new SNSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const { TopicArn } = await sns.send(new CreateTopicCommand({ Name: uniqueLabel('alarms') }));
  return subscribeToTopic(state, TopicArn as string);
}

/** Returns the local stack's alarm topic (the one `serverless deploy --stage local` made) with a new queue subscribed to it. */
export async function stackAlarmTopic(state: ReplicaState): Promise<TestTopic> {
  const sns = new SNSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const arns: string[] = [];
  let NextToken: string | undefined;
  do {
    const page = await sns.send(new ListTopicsCommand({ NextToken }));
    arns.push(...(page.Topics ?? []).map((topic) => topic.TopicArn ?? ''));
    NextToken = page.NextToken;
  } while (NextToken);
  const arn = arns.find((item) => /:acme-certificates-local-AlarmTopic-/.test(item));
  if (!arn) throw new Error(`the local stack has no alarm topic among ${arns.length} topics`);
  return subscribeToTopic(state, arn);
}

/** Returns `TopicArn` with a new queue subscribed to it: what a subscriber receives from now on. */
export async function subscribeToTopic(state: ReplicaState, TopicArn: string): Promise<TestTopic> {
  const sns = new SNSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const sqs = new SQSClient({ endpoint: state.awsEndpoint, region: state.region, credentials });
  const name = uniqueLabel('alarms');
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
        // Received is read: delete it, so the next call (and the next page) holds only new messages.
        await sqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: page.Messages.map((item, index) => ({ Id: String(index), ReceiptHandle: item.ReceiptHandle })) }));
      }
    },
  };
}
