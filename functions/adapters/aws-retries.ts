/**
 * How the AWS SDK clients retry: the SDK's adaptive mode (it backs off on throttling, S3's
 * SlowDown and SSM's ThrottlingException, and rate-limits the client itself), with more tries than
 * the SDK's default 3, as a batch job that would rather wait than fail can afford. Every failed try
 * can be reported with its cause.
 */

import { errorName } from './aws-errors.js';

/** The retry settings every client of the renew function and the agent is built with. */
export function awsRetrySettings(maxAttempts: number): { retryMode: 'adaptive'; maxAttempts: number } {
  return { retryMode: 'adaptive', maxAttempts };
}

/** One try of an AWS request that failed for a reason the SDK retries. */
export interface AwsRetryEvent {
  operation: string;
  /** The try that failed (1 for the first) and the most the SDK makes. */
  attempt: number;
  maxAttempts: number;
  cause: string;
}

/** The part of an SDK client's middleware stack used here (typed loosely: every client's stack differs in its types). */
interface RelativeStack {
  addRelativeTo(
    middleware: (next: (args: { request?: unknown }) => Promise<unknown>, context: { commandName?: string }) => (args: { request?: unknown }) => Promise<unknown>,
    options: { relation: 'after'; toMiddleware: string; name: string; override?: boolean },
  ): void;
}

/**
 * Reports every try of `client`'s requests that fails with a transient error (throttling, a 5xx, no
 * answer): the middleware sits inside the SDK's retry loop, so it sees each try.
 */
export function reportAwsRetries(client: { middlewareStack: object }, onFailedTry: (event: AwsRetryEvent) => void): void {
  (client.middlewareStack as RelativeStack).addRelativeTo(
    (next, context) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isTransientAwsError(error)) onFailedTry({ operation: context.commandName ?? 'request', ...attemptOf(args.request), cause: errorName(error) });
        throw error;
      }
    },
    { relation: 'after', toMiddleware: 'retryMiddleware', name: 'reportFailedTries', override: true },
  );
}

const THROTTLING = new Set(['SlowDown', 'Throttling', 'ThrottlingException', 'ThrottledException', 'RequestThrottled', 'RequestThrottledException', 'TooManyRequestsException', 'RequestLimitExceeded', 'ProvisionedThroughputExceededException', 'RequestTimeout', 'RequestTimeoutException', 'InternalError', 'ServiceUnavailable']);

/** Returns true for the errors the SDK's retry strategy tries again: throttling, 5xx, 429, no answer. */
export function isTransientAwsError(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; code?: string; $metadata?: { httpStatusCode?: number } } | null;
  if (!e) return false;
  if (THROTTLING.has(e.name ?? '') || THROTTLING.has(e.Code ?? '')) return true;
  const status = e.$metadata?.httpStatusCode;
  if (status !== undefined) return status >= 500 || status === 429;
  return ['ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ECONNREFUSED', 'TimeoutError'].includes(e.code ?? e.name ?? '');
}

/** Reads the SDK's `amz-sdk-request: attempt=2; max=8` header. */
function attemptOf(request: unknown): { attempt: number; maxAttempts: number } {
  const header = (request as { headers?: Record<string, string> } | undefined)?.headers?.['amz-sdk-request'] ?? '';
  const match = /attempt=(\d+); max=(\d+)/.exec(header);
  return { attempt: Number(match?.[1] ?? 0), maxAttempts: Number(match?.[2] ?? 0) };
}
