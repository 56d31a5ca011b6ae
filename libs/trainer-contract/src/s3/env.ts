import { S3Client } from '@aws-sdk/client-s3';
import { ConfigError } from '../errors/index.js';

/** The S3 settings a trainer reads from its environment (CONTRACT §3). */
export interface S3Env {
  /** Custom endpoint (MinIO, Ceph, s3rver…): `S3_ENDPOINT` (the seed's name) or `AWS_ENDPOINT_URL_S3` (the AWS one). */
  endpoint?: string;
  region: string;
  /** Where checkpoints go; absent for local runs. */
  bucket?: string;
  /** Static keys when both are set in the given env; otherwise the SDK's default chain (profiles, IRSA, IMDS…). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
}

export function readS3Env(env: NodeJS.ProcessEnv = process.env): S3Env {
  const raw = (env.S3_ENDPOINT || env.AWS_ENDPOINT_URL_S3 || '').trim();
  let endpoint: string | undefined;
  if (raw) {
    // The seed's example is a full URL; a bare host:port is accepted too, as plain HTTP like most in-cluster MinIOs.
    const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new ConfigError(`S3_ENDPOINT: not a valid URL: ${raw}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new ConfigError(`S3_ENDPOINT: scheme must be http or https: ${raw}`);
    }
    endpoint = url.toString().replace(/\/$/, '');
  }
  const accessKeyId = env.AWS_ACCESS_KEY_ID;
  const secretAccessKey = env.AWS_SECRET_ACCESS_KEY;
  return {
    endpoint,
    region: env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    bucket: env.S3_BUCKET?.trim() || undefined,
    credentials:
      accessKeyId && secretAccessKey
        ? { accessKeyId, secretAccessKey, sessionToken: env.AWS_SESSION_TOKEN || undefined }
        : undefined,
  };
}

/**
 * An S3 client for the given environment. Custom endpoints get path-style addressing (`bucket.localhost`
 * does not resolve, and most S3-compatible servers expect paths). Flexible checksums are limited to the
 * operations that require them: with the SDK's default, stream bodies are sent aws-chunked with a CRC
 * trailer, which MinIO-style servers store verbatim, corrupting the object.
 */
export function createS3Client(env: NodeJS.ProcessEnv = process.env): S3Client {
  const s3env = readS3Env(env);
  const timeoutMs = s3RequestTimeoutMs(env);
  return new S3Client({
    region: s3env.region,
    ...(s3env.endpoint ? { endpoint: s3env.endpoint, forcePathStyle: true } : {}),
    ...(s3env.credentials ? { credentials: s3env.credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: s3MaxAttempts(env),
    retryMode: 'standard',
    // Without these a server that accepts and then never answers (or stops mid-body) parks the job forever.
    requestHandler: { requestTimeout: timeoutMs, connectionTimeout: Math.min(timeoutMs, 10_000) },
  });
}

/**
 * `S3_REQUEST_TIMEOUT_S`: how long one S3 request may go without a byte before it counts as failed and is retried
 * (default 60 s).
 */
export function s3RequestTimeoutMs(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.S3_REQUEST_TIMEOUT_S;
  if (raw === undefined || raw === '') return 60_000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`S3_REQUEST_TIMEOUT_S: expected seconds > 0, got "${raw}"`);
  return Math.round(n * 1000);
}

/** `S3_MAX_ATTEMPTS`: tries of one S3 request inside the SDK, the first included (default 5). */
function s3MaxAttempts(env: NodeJS.ProcessEnv): number {
  const raw = env.S3_MAX_ATTEMPTS;
  if (raw === undefined || raw === '') return 5;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 20) throw new ConfigError(`S3_MAX_ATTEMPTS: expected a whole number from 1 to 20, got "${raw}"`);
  return n;
}
