import { afterEach, describe, expect, it } from '@jest/globals';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { backoffDelay, retry, type RetryPolicy } from './retry.js';

/** A real HTTP server that answers each request from a script (then 200), and records when each arrived. */
interface ScriptedServer {
  url: string;
  arrivals: number[];
  close(): Promise<void>;
}
type Answer = { status: number; headers?: Record<string, string> } | 'hang';

const servers: ScriptedServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(script: Answer[], fallback: Answer = { status: 200 }): Promise<ScriptedServer> {
  const arrivals: number[] = [];
  const hanging: ServerResponse[] = [];
  const server: Server = createServer((req, res) => {
    req.resume();
    arrivals.push(Date.now());
    const answer = script.shift() ?? fallback;
    if (answer === 'hang') return void hanging.push(res);
    res.writeHead(answer.status, answer.headers ?? {}).end(String(answer.status));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const s: ScriptedServer = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    arrivals,
    close: () =>
      new Promise((r) => {
        for (const h of hanging) h.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
  servers.push(s);
  return s;
}

class HttpStatusError extends Error {
  constructor(
    readonly status: number,
    readonly retryAfter: string | null,
  ) {
    super(`HTTP ${status}`);
  }
}

/** One GET that throws HttpStatusError for a non-2xx answer, as the real callers do. */
async function get(url: string, signal?: AbortSignal): Promise<string> {
  const res = await fetch(url, signal ? { signal } : {});
  const text = await res.text();
  if (!res.ok) throw new HttpStatusError(res.status, res.headers.get('retry-after'));
  return text;
}

const fast: RetryPolicy = { attempts: 4, backoff: { baseMs: 5, jitter: 'none' } };
const retryable = (err: unknown) => err instanceof HttpStatusError && err.status >= 500;

describe('backoffDelay', () => {
  it('doubles from the base up to the cap, shaped by the jitter', () => {
    expect([1, 2, 3, 4, 5].map((n) => backoffDelay(n, { baseMs: 100, maxMs: 500 }))).toEqual([100, 200, 400, 500, 500]);
    expect(backoffDelay(3, { baseMs: 100, jitter: 'full' }, () => 0.5)).toBe(200);
    expect(backoffDelay(3, { baseMs: 100, jitter: 'full' }, () => 0)).toBe(0);
    expect(backoffDelay(3, { baseMs: 100, jitter: 'equal' }, () => 0)).toBe(200);
    expect(backoffDelay(3, { baseMs: 100, jitter: 'equal' }, () => 0.999)).toBeCloseTo(399.8, 1);
  });
});

describe('retry against a real HTTP server', () => {
  it('tries again after retryable failures until an answer succeeds', async () => {
    const srv = await serve([{ status: 503 }, { status: 500 }]);
    await expect(retry(() => get(srv.url), { ...fast, shouldRetry: retryable })).resolves.toBe('200');
    expect(srv.arrivals).toHaveLength(3);
  });

  it('gives up after the policy\'s number of tries and rethrows the last failure', async () => {
    const srv = await serve([], { status: 503 });
    await expect(retry(() => get(srv.url), { ...fast, attempts: 3, shouldRetry: retryable })).rejects.toMatchObject({ status: 503 });
    expect(srv.arrivals).toHaveLength(3);
  });

  it('does not retry what the policy says is not worth it', async () => {
    const srv = await serve([{ status: 400 }]);
    await expect(retry(() => get(srv.url), { ...fast, shouldRetry: retryable })).rejects.toMatchObject({ status: 400 });
    expect(srv.arrivals).toHaveLength(1);
  });

  it('waits as long as the server asks (Retry-After) instead of the backoff', async () => {
    const srv = await serve([{ status: 503, headers: { 'retry-after': '0.3' } }]);
    await retry(() => get(srv.url), {
      ...fast,
      shouldRetry: retryable,
      retryAfterMs: (err) => (err instanceof HttpStatusError && err.retryAfter ? Number(err.retryAfter) * 1000 : undefined),
    });
    expect(srv.arrivals).toHaveLength(2);
    expect(srv.arrivals[1]! - srv.arrivals[0]!).toBeGreaterThanOrEqual(290);
  });

  it('caps a server-requested wait at maxRetryAfterMs', async () => {
    const srv = await serve([{ status: 429, headers: { 'retry-after': '3600' } }]);
    await retry(() => get(srv.url), {
      ...fast,
      shouldRetry: (err) => err instanceof HttpStatusError,
      retryAfterMs: (err) => Number((err as HttpStatusError).retryAfter) * 1000,
      maxRetryAfterMs: 20,
    });
    expect(srv.arrivals).toHaveLength(2);
    // Far below the hour the server asked for.
    expect(srv.arrivals[1]! - srv.arrivals[0]!).toBeLessThan(10_000);
  });

  it('gives each attempt its own timeout: a hung answer is abandoned and the next try succeeds', async () => {
    const srv = await serve(['hang']);
    const seen: string[] = [];
    const text = await retry(
      async ({ signal }) => {
        try {
          return await get(srv.url, signal);
        } catch (err) {
          seen.push((err as Error).name);
          throw err;
        }
      },
      { ...fast, attemptTimeoutMs: 200 },
    );
    expect(text).toBe('200');
    expect(seen).toEqual(['TimeoutError']);
    expect(srv.arrivals).toHaveLength(2);
  });

  it('stops waiting at once when the caller aborts, with the caller\'s error', async () => {
    const srv = await serve([], { status: 503 });
    const ctl = new AbortController();
    const p = retry(() => get(srv.url), {
      attempts: 5,
      backoff: { baseMs: 60_000 },
      shouldRetry: retryable,
      signal: ctl.signal,
      onAbort: () => new Error('stopped by the caller'),
    });
    while (srv.arrivals.length === 0) await new Promise((r) => setTimeout(r, 5));
    ctl.abort();
    await expect(p).rejects.toThrow('stopped by the caller');
    expect(srv.arrivals).toHaveLength(1);
  });

  it('hands the previous failure to the next attempt, so a caller can check before trying again', async () => {
    const srv = await serve([{ status: 502 }]);
    const previous: unknown[] = [];
    await retry(
      ({ lastError }) => {
        previous.push(lastError instanceof HttpStatusError ? lastError.status : lastError);
        return get(srv.url);
      },
      { ...fast, shouldRetry: retryable },
    );
    expect(previous).toEqual([undefined, 502]);
  });

  it('reports each retry with its wait', async () => {
    const srv = await serve([{ status: 503 }, { status: 503 }]);
    const retries: Array<[number, number]> = [];
    await retry(() => get(srv.url), { attempts: 3, backoff: { baseMs: 10, jitter: 'none' }, shouldRetry: retryable, onRetry: (_e, n, ms) => retries.push([n, ms]) });
    expect(retries).toEqual([
      [1, 10],
      [2, 20],
    ]);
  });
});
