import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The one retry loop of the library. S3, callbacks and MLflow each keep their own policy (which errors are worth
 * another try, how many tries, the server's Retry-After, a per-attempt timeout); only the loop and the backoff
 * arithmetic are shared. Hand-written rather than p-retry: p-retry has no per-error wait (Retry-After) and only
 * one jitter shape, and the callers here need both.
 */

/** `full`: uniform in [0, ceiling] (S3's advice for many clients); `equal`: in [ceiling/2, ceiling]; `none`: the ceiling. */
type Jitter = 'full' | 'equal' | 'none';

export interface Backoff {
  /** The ceiling of the first retry's wait; it doubles with each further retry. */
  baseMs: number;
  maxMs?: number;
  jitter?: Jitter;
}

/** The wait before retry number `retry` (1 = the first retry). */
export function backoffDelay(retry: number, backoff: Backoff, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.maxMs ?? Infinity, backoff.baseMs * 2 ** Math.max(0, retry - 1));
  switch (backoff.jitter ?? 'none') {
    case 'full':
      return Math.round(random() * ceiling);
    case 'equal':
      return ceiling / 2 + random() * (ceiling / 2);
    case 'none':
      return ceiling;
  }
}

export interface RetryContext {
  /** 1 for the first try. */
  attempt: number;
  /** Aborted when this attempt's time is up (`attemptTimeoutMs`) or the caller's signal fires. */
  signal?: AbortSignal;
  /** What the previous attempt threw (undefined on the first), for callers that must check before trying again. */
  lastError?: unknown;
}

export interface RetryPolicy {
  /** Total tries, the first included. */
  attempts: number;
  backoff: Backoff;
  /** Whether this failure is worth another try (default: every failure). */
  shouldRetry?: (err: unknown, attempt: number) => boolean;
  /** The wait the server asked for (Retry-After), used instead of the backoff when given. */
  retryAfterMs?: (err: unknown) => number | undefined;
  /** Upper bound on a server-requested wait, so a misbehaving server cannot park the caller for hours. */
  maxRetryAfterMs?: number;
  attemptTimeoutMs?: number;
  /** Stops the retries: no further attempt starts, and a wait in progress ends at once. */
  signal?: AbortSignal;
  /** The error to throw when `signal` stopped the retries (default: the last failure, else the signal's reason). */
  onAbort?: (lastError: unknown) => unknown;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  /** Waits between attempts do not keep the process alive (background work such as tracking). */
  unref?: boolean;
}

/** Runs `fn` until it succeeds, fails with an error not worth retrying, or runs out of tries; then rethrows. */
export async function retry<T>(fn: (ctx: RetryContext) => Promise<T>, policy: RetryPolicy): Promise<T> {
  const { signal } = policy;
  const aborted = (lastError: unknown): unknown => (policy.onAbort ? policy.onAbort(lastError) : (lastError ?? signal?.reason));
  let lastError: unknown;
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw aborted(lastError);
    const timeout = policy.attemptTimeoutMs !== undefined ? AbortSignal.timeout(policy.attemptTimeoutMs) : undefined;
    const attemptSignal = timeout && signal ? AbortSignal.any([timeout, signal]) : (timeout ?? signal);
    try {
      return await fn({ attempt, ...(attemptSignal ? { signal: attemptSignal } : {}), ...(attempt > 1 ? { lastError } : {}) });
    } catch (err) {
      lastError = err;
      if (signal?.aborted) throw aborted(err);
      if (attempt >= policy.attempts || !(policy.shouldRetry?.(err, attempt) ?? true)) throw err;
      const asked = policy.retryAfterMs?.(err);
      const delay = asked !== undefined ? Math.min(asked, policy.maxRetryAfterMs ?? Infinity) : backoffDelay(attempt, policy.backoff);
      policy.onRetry?.(err, attempt, delay);
      try {
        await sleep(delay, undefined, { ...(signal ? { signal } : {}), ref: !policy.unref });
      } catch {
        throw aborted(err);
      }
    }
  }
}
