/**
 * The benches' own buckets: removed afterwards with every version (they are versioned, as the
 * stack's certificates bucket is).
 */

import { DeleteBucketCommand, DeleteObjectsCommand, ListObjectVersionsCommand, type S3Client } from '@aws-sdk/client-s3';

/** Deletes every version and delete marker of `bucket`, then the bucket. */
export async function deleteBucket(s3: S3Client, bucket: string): Promise<void> {
  for (;;) {
    const page = await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }));
    const doomed = [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])].flatMap((item) => (item.Key ? [{ Key: item.Key, VersionId: item.VersionId }] : []));
    if (doomed.length === 0) break;
    const result = await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: doomed, Quiet: true } }));
    if ((result.Errors ?? []).length > 0) throw new Error(`${result.Errors?.length} version(s) not deleted: ${result.Errors?.[0]?.Code ?? ''} ${result.Errors?.[0]?.Key ?? ''}`);
  }
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}
