import { InterruptedError, TrainerError } from '../errors/index.js';
import { retry } from '../retry/index.js';

/** A failure worth another try: a 5xx, SlowDown, a reset connection, a body cut short. */
export class TransientError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TransientError';
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'TimeoutError',
  'RequestTimeout',
]);
const TRANSIENT_S3_NAMES = new Set([
  'SlowDown',
  'InternalError',
  'ServiceUnavailable',
  'RequestTimeout',
  'RequestTimeTooSkewed',
  'Throttling',
  'ThrottlingException',
  'TimeoutError',
]);

export function isTransient(err: unknown): boolean {
  if (err instanceof TransientError) return true;
  if (err instanceof TrainerError) return false;
  if (!err || typeof err !== 'object') return false;
  const e = err as { code?: unknown; name?: unknown; message?: unknown; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (typeof e.code === 'string' && TRANSIENT_CODES.has(e.code)) return true;
  if (typeof e.name === 'string' && TRANSIENT_S3_NAMES.has(e.name)) return true;
  if (e.$retryable) return true;
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number' && (status >= 500 || status === 429)) return true;
  return typeof e.message === 'string' && /socket hang up|aborted|premature close/i.test(e.message);
}

export interface RetryOptions {
  /** Total tries, the first included. */
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
  signal?: AbortSignal;
  isRetryable?: (err: unknown) => boolean;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

/** Runs `fn` until it succeeds, fails with a non-transient error, or runs out of tries; full-jitter exponential backoff. */
export function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  return retry(({ attempt }) => fn(attempt), {
    attempts: opts.attempts ?? 6,
    backoff: { baseMs: opts.baseMs ?? 200, maxMs: opts.maxMs ?? 10_000, jitter: 'full' },
    shouldRetry: opts.isRetryable ?? isTransient,
    ...(opts.signal ? { signal: opts.signal } : {}),
    onAbort: () => new InterruptedError(),
    ...(opts.onRetry ? { onRetry: opts.onRetry } : {}),
  });
}

/** A short description of an error for a one-line message, without stack or request details. */
export function describeError(err: unknown): string {
  if (!err || typeof err !== 'object') return String(err);
  const e = err as { name?: string; code?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.code && e.code !== e.name ? `${e.name ?? 'Error'} ${e.code}` : (e.name ?? 'Error');
  const message = (e.message ?? '').split('\n')[0] ?? '';
  const label = name === 'Error' || name === 'TransientError' ? '' : `${name}: `;
  const text = message && message !== 'UnknownError' ? `${label}${message}` : name;
  return status ? `${text} (HTTP ${status})` : text;
}
