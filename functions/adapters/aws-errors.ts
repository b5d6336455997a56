/**
 * Errors from the storage adapters: each names the operation and the object, and keeps the SDK
 * error as `cause`.
 */

/** A storage (S3 or SSM) operation that failed for a reason other than "not found". */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  constructor(operation: string, target: string, cause: unknown) {
    super(`${operation} ${target}: ${errorName(cause)}`, { cause });
  }
}

/** Returns the AWS error name (`NoSuchKey`, `AccessDenied`, …) or the message of any thrown value. */
export function errorName(error: unknown): string {
  if (error && typeof error === 'object') {
    const named = error as { name?: string; message?: string; Code?: string };
    const name = named.Code ?? named.name;
    if (name && name !== 'Error') return named.message && named.message !== name && named.message !== 'UnknownError' ? `${name}: ${named.message}` : name;
    if (named.message) return named.message;
  }
  return String(error);
}

/** Returns true for S3's "no such key" answers (404 on GET/HEAD). */
export function isNotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  // A missing bucket is a 404 too, but never "no such object": it is a broken deployment.
  if (e?.name === 'NoSuchBucket') return false;
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
}

/** Returns true for a conditional read whose object still has the ETag given (304 to If-None-Match: the SDK throws it). */
export function isNotModified(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'NotModified' || e?.$metadata?.httpStatusCode === 304;
}

/** Returns true for a conditional write or delete that lost (412 Precondition Failed, 409 conflict). */
export function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | undefined;
  return e?.name === 'PreconditionFailed' || e?.$metadata?.httpStatusCode === 412 || e?.name === 'ConditionalRequestConflict' || e?.$metadata?.httpStatusCode === 409;
}
