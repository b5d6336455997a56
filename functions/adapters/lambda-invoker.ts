/**
 * The deployed renew function, invoked by hand (`acme-certs renew --remote`): one synchronous
 * Lambda Invoke. The client waits longer than the function can run and never retries: a retried
 * Invoke is a second renewal run, and the SDK's default socket timeout (120 s) and three tries
 * would start one while the first still runs.
 */

import https from 'node:https';
import { InvokeCommand, LambdaClient, type LambdaClientConfig } from '@aws-sdk/client-lambda';

/** Past the function's own timeout: what Lambda needs to end the invocation and answer. */
const ANSWER_MARGIN_S = 60;

/** Returns a Lambda client for one Invoke of a function with `functionTimeoutS`: one try, a socket timeout past the function's. */
export function renewInvokerClient(base: LambdaClientConfig, functionTimeoutS: number): LambdaClient {
  return new LambdaClient({
    ...base,
    maxAttempts: 1,
    // TCP keepalive every minute: a NAT drops a connection idle for 350 s, and the answer takes up to 16 minutes.
    requestHandler: { requestTimeout: (functionTimeoutS + ANSWER_MARGIN_S) * 1000, connectionTimeout: 10_000, httpsAgent: new https.Agent({ keepAlive: true, keepAliveMsecs: 60_000 }) },
  });
}

export interface RemoteResult {
  /** The function's answer (its result, or its error object when `functionError` is set). */
  payload: unknown;
  /** Lambda's FunctionError ("Unhandled"): the invocation failed. */
  functionError: string | null;
}

/** Invokes `functionName` with `event`, waiting for its answer. Throws when Lambda itself refuses or the connection fails. */
export async function invokeRenew(client: LambdaClient, functionName: string, event: object): Promise<RemoteResult> {
  const answer = await client.send(new InvokeCommand({ FunctionName: functionName, InvocationType: 'RequestResponse', Payload: new TextEncoder().encode(JSON.stringify(event)) }));
  const text = answer.Payload ? new TextDecoder().decode(answer.Payload) : '';
  let payload: unknown = text;
  try {
    payload = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: shown as it came.
  }
  return { payload, functionError: answer.FunctionError ?? null };
}
