import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectRef } from './object-reader.js';
import { mapS3Error } from './errors.js';
import { withDeadline } from './idle.js';
import { withRetry } from './retry.js';

/**
 * Every object under a prefix, recursively (no delimiter: servers such as s3rver leave out folders that only
 * hold folders from delimited listings). Pages are retried on their own; the order of keys is not relied on.
 */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  opts: { signal?: AbortSignal; onPage?: (count: number) => void; timeoutMs?: number } = {},
): Promise<ObjectRef[]> {
  const uri = `s3://${bucket}/${prefix}`;
  const out: ObjectRef[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await withRetry(
      () =>
        withDeadline(
          opts.timeoutMs ?? 60_000,
          uri,
          (abortSignal) => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal }),
          opts.signal,
        ),
      { signal: opts.signal, attempts: 5 },
    ).catch((err: unknown) => {
      throw mapS3Error(err, uri);
    });
    for (const item of page.Contents ?? []) {
      if (item.Key === undefined || seen.has(item.Key)) continue;
      seen.add(item.Key);
      out.push({ key: item.Key, size: item.Size ?? 0, etag: item.ETag?.replace(/"/g, '') });
    }
    opts.onPage?.(out.length);
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out;
}
