import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { ConfigError, DataUnavailableError } from '../errors/index.js';
import type { ObjectRef } from './object-reader.js';
import { describeError, withRetry } from './retry.js';

/** Maps an SDK failure on a bucket to the contract's errors: absent data is DATA_UNAVAILABLE, missing credentials a config error. */
export function mapS3Error(err: unknown, uri: string): Error {
  const name = (err as { name?: string })?.name ?? '';
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  if (name === 'NoSuchBucket') return new DataUnavailableError(`${uri}: bucket does not exist`, { cause: err });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new DataUnavailableError(`${uri}: not found`, { cause: err });
  if (name === 'AccessDenied' || name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || status === 403) {
    return new DataUnavailableError(`${uri}: access denied (${name || 'HTTP 403'})`, { cause: err });
  }
  if (name === 'CredentialsProviderError') return new ConfigError(`${uri}: no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role)`, { cause: err });
  return new DataUnavailableError(`${uri}: ${describeError(err)}`, { cause: err });
}

/**
 * Every object under a prefix, recursively (no delimiter: servers such as s3rver leave out folders that only
 * hold folders from delimited listings). Pages are retried on their own; the order of keys is not relied on.
 */
export async function listObjects(
  client: S3Client,
  bucket: string,
  prefix: string,
  opts: { signal?: AbortSignal; onPage?: (count: number) => void } = {},
): Promise<ObjectRef[]> {
  const uri = `s3://${bucket}/${prefix}`;
  const out: ObjectRef[] = [];
  const seen = new Set<string>();
  let token: string | undefined;
  do {
    const page = await withRetry(
      () => client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }), { abortSignal: opts.signal }),
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
