/**
 * The challenges bucket: HTTP-01 key authorizations published where the web host's nginx proxies
 * `/.well-known/acme-challenge/<token>` (RFC 8555 §8.3).
 */

import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { challengeObjectKey } from '../core/layout.js';
import type { ChallengeStore } from '../workflows/ports.js';
import { StorageError } from './aws-errors.js';

export class S3ChallengeStore implements ChallengeStore {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  /** Publishes `body` as the response for `token`. Throws on a token that is not base64url. */
  async publish(token: string, body: string): Promise<void> {
    const Key = challengeObjectKey(token);
    await this.s3
      .send(new PutObjectCommand({ Bucket: this.bucket, Key, Body: body, ContentType: 'text/plain', CacheControl: 'no-store' }))
      .catch((error: unknown) => {
        throw new StorageError('publishing challenge', `s3://${this.bucket}/${Key}`, error);
      });
  }

  /** Removes the response for `token`; safe to call for a token never published. */
  async remove(token: string): Promise<void> {
    const Key = challengeObjectKey(token);
    await this.s3.send(new DeleteObjectCommand({ Bucket: this.bucket, Key })).catch((error: unknown) => {
      throw new StorageError('removing challenge', `s3://${this.bucket}/${Key}`, error);
    });
  }
}
