import { TransientError } from './retry.js';

/**
 * Fails a response body that stops sending for `ms` (a TransientError, so it is retried). The SDK's request
 * timeout covers the wait for the headers only; a body that stalls half-way would otherwise hang the read forever.
 */
export function failWhenIdle<T>(body: T, ms: number, what: string): T {
  const stream = body as unknown as { setTimeout?: (ms: number, cb: () => void) => unknown; destroy?: (err: Error) => void };
  if (typeof stream?.setTimeout === 'function' && typeof stream.destroy === 'function') {
    stream.setTimeout(ms, () => stream.destroy!(new TransientError(`${what}: no data for ${ms / 1000} s`)));
  }
  return body;
}

/**
 * Runs one SDK call with a deadline of `ms` for its answer: the SDK reads an error response's body (a 404's XML)
 * before it rejects, and its own timeouts do not cover that read, so a server that stalls there would hang the call.
 * `outer` (the job's stop signal) aborts it too. A large body returned by `run` is not covered: see failWhenIdle.
 */
export async function withDeadline<T>(ms: number, what: string, run: (abortSignal: AbortSignal) => Promise<T>, outer?: AbortSignal): Promise<T> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new TransientError(`${what}: no answer within ${ms / 1000} s`)), ms);
  const onOuter = () => ac.abort(outer?.reason);
  outer?.addEventListener('abort', onOuter, { once: true });
  try {
    return await run(ac.signal);
  } catch (err) {
    // The SDK reports an abort as its own AbortError; the reason says why.
    if (ac.signal.aborted && ac.signal.reason instanceof TransientError) throw ac.signal.reason;
    throw err;
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', onOuter);
  }
}
