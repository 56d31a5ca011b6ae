import { ConfigError, DataUnavailableError, StorageUnavailableError, TrainerError } from '../errors/index.js';
import { describeError, isTransient } from './retry.js';

function statusOf(err: unknown): number | undefined {
  const status = (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
  return typeof status === 'number' ? status : undefined;
}

const DENIED = new Set(['AccessDenied', 'InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AllAccessDisabled', 'AccountProblem']);

/**
 * Maps an S3 failure, after its retries, to the contract's errors by whether a retry of the Job can help:
 * a missing bucket, key or prefix, or access denied, is the user's to fix (DATA_UNAVAILABLE, exit 3); a server that
 * refuses, resets, times out, answers 5xx or throttles is STORAGE_UNAVAILABLE (exit 1, retriable).
 */
export function mapS3Error(err: unknown, uri: string): TrainerError {
  if (err instanceof TrainerError) return err;
  const name = (err as { name?: string })?.name ?? '';
  const status = statusOf(err);
  if (name === 'NoSuchBucket') return new DataUnavailableError(`${uri}: bucket does not exist`, { cause: err });
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404) return new DataUnavailableError(`${uri}: not found`, { cause: err });
  if (DENIED.has(name) || status === 403) return new DataUnavailableError(`${uri}: access denied (${name || 'HTTP 403'})`, { cause: err });
  if (name === 'CredentialsProviderError') return new ConfigError(`${uri}: no S3 credentials found (set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or a role)`, { cause: err });
  if (isTransient(err) || status === undefined || status >= 500 || status === 429 || status === 408) {
    return new StorageUnavailableError(`${uri}: S3 unavailable after retries (${describeError(err)})`, { cause: err });
  }
  return new DataUnavailableError(`${uri}: ${describeError(err)}`, { cause: err });
}
