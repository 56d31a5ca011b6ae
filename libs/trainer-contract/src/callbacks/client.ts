import { createHash } from 'node:crypto';
import { CallbackUndeliveredError } from '../errors/index.js';
import { redact, type Logger } from '../log/index.js';
import { retry } from '../retry/index.js';
import { completionPayloadSchema, progressPayloadSchema, type CompletionPayload, type ProgressPayload } from './payloads.js';
import { signWebhook } from './signing.js';

export interface CallbackClientOptions {
  /** `CALLBACK_URL`; without it, payloads are logged as JSON lines instead of POSTed. */
  baseUrl?: string;
  jobId: string;
  /** `CALLBACK_TOKEN`: sent as `Authorization: Bearer …`. */
  token?: string;
  /** `CALLBACK_SECRET`: signs each request, Standard Webhooks style. */
  secret?: string;
  logger: Logger;
  timeoutMs?: number;
  /** Retries after the first attempt, for progress and for the completion. */
  progressRetries?: number;
  completionRetries?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Upper bound on one Retry-After wait, so a misbehaving server cannot park the job for hours. */
  maxRetryAfterMs?: number;
  /** Called once per event, just before its first attempt (and for logged-only events): the event record's feed. */
  onSend?: (event: SentEvent) => void;
}

/** One event as it leaves for the backend, with the id every attempt of it carries. */
export interface SentEvent {
  kind: Kind;
  webhookId: string;
  payload: ProgressPayload | CompletionPayload;
}

type Kind = 'progress' | 'completion';

export interface CallbackClient {
  readonly enabled: boolean;
  /** Never blocks: queues the payload, replacing a progress of the same phase that has not been sent yet. */
  progress(payload: ProgressPayload): void;
  /**
   * Waits for pending progress, then delivers the completion; throws CallbackUndeliveredError when it cannot.
   * `signal` bounds the whole of it (a failure's reporting budget): when it fires, pending progress is dropped and
   * the completion counts as undelivered.
   */
  completion(payload: CompletionPayload, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Waits until nothing is queued or in flight (progress failures are logged, not thrown). */
  flush(): Promise<void>;
}

class RetryableError extends Error {
  constructor(
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
  }
}

/** The same event always gets the same id, across retries and across restarts of the job. */
export function idempotencyId(jobId: string, kind: Kind, payload: { status: string; current_epoch?: number; phase?: string; phase_progress?: { done: number } }): string {
  const parts: Array<string | number> = [jobId, kind, payload.status, payload.current_epoch ?? ''];
  // Training progress keeps the seed-era key, so ids stay stable across versions; other phases add theirs.
  if (payload.phase && payload.phase !== 'training') parts.push(payload.phase, payload.phase_progress?.done ?? '');
  const key = parts.join('|');
  return 'msg_' + createHash('sha256').update(key).digest('hex').slice(0, 32);
}

export function parseRetryAfter(header: string | null, now = Date.now()): number | undefined {
  if (!header) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export function createCallbackClient(options: CallbackClientOptions): CallbackClient {
  const {
    baseUrl,
    jobId,
    token,
    secret,
    logger,
    timeoutMs = 10_000,
    progressRetries = 3,
    completionRetries = 8,
    baseDelayMs = 500,
    maxDelayMs = 30_000,
    maxRetryAfterMs = 120_000,
    onSend,
  } = options;
  // Aborted when a bounded completion gives up: progress still in flight must not outlive it.
  const progressAbort = new AbortController();
  const root = baseUrl?.replace(/\/+$/, '');
  // Not yet sent, oldest first: at most one per run of the same phase, so a newer epoch replaces an older one but
  // the last epoch's progress is never lost to the uploading phase that follows it.
  let pending: ProgressPayload[] = [];
  let pump: Promise<void> | undefined;

  async function attempt(url: string, id: string, body: string, signal: AbortSignal | undefined): Promise<void> {
    const timestamp = Math.floor(Date.now() / 1000);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'idempotency-key': id,
    };
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (secret) headers['webhook-signature'] = signWebhook(secret, id, timestamp, body);
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, ...(signal ? { signal } : {}) });
    } catch (err) {
      const e = err as Error & { cause?: { code?: string } };
      const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message);
      throw new RetryableError(reason);
    }
    // Drain the body so the connection can be reused.
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return;
    const retryable = res.status === 408 || res.status === 429 || res.status >= 500;
    const message = `HTTP ${res.status}`;
    if (retryable) throw new RetryableError(message, parseRetryAfter(res.headers.get('retry-after')));
    throw new Error(message);
  }

  const idOf = (kind: Kind, payload: ProgressPayload | CompletionPayload) => idempotencyId(jobId, kind, payload as Parameters<typeof idempotencyId>[2]);

  async function deliver(kind: Kind, payload: ProgressPayload | CompletionPayload, retries: number, signal?: AbortSignal): Promise<void> {
    const url = `${root}/jobs/${encodeURIComponent(jobId)}/callback/${kind}`;
    const body = JSON.stringify(payload);
    const id = idOf(kind, payload);
    notify(kind, id, payload);
    let tries = 0;
    let budgetSpent = false;
    try {
      await retry(
        async ({ attempt: n, signal }) => {
          tries = n;
          await attempt(url, id, body, signal);
        },
        {
          attempts: retries + 1,
          backoff: { baseMs: baseDelayMs, maxMs: maxDelayMs, jitter: 'equal' },
          shouldRetry: (err) => err instanceof RetryableError,
          retryAfterMs: (err) => (err as RetryableError).retryAfterMs,
          maxRetryAfterMs,
          attemptTimeoutMs: timeoutMs,
          ...(signal ? { signal } : {}),
          onAbort: (last) => {
            budgetSpent = true;
            return last ?? new Error('no attempt finished');
          },
          onRetry: (err, n, wait) =>
            logger.warn({ callback: kind, attempt: n, retryInMs: Math.round(wait) }, `${kind} callback failed (${(err as Error).message}); retrying`),
        },
      );
    } catch (err) {
      const why = budgetSpent ? `; the reporting budget ran out` : '';
      throw new CallbackUndeliveredError(`${kind} callback to ${redact(url)} failed after ${tries} attempt(s): ${(err as Error).message}${why}`);
    }
    logger.debug({ callback: kind, attempt: tries }, `${kind} callback delivered`);
  }

  function startPump(): void {
    if (pump) return;
    pump = (async () => {
      while (pending.length) {
        const next = pending.shift()!;
        try {
          await deliver('progress', next, progressRetries, progressAbort.signal);
        } catch (err) {
          logger.warn({ callback: 'progress' }, (err as Error).message);
        }
      }
    })().finally(() => {
      pump = undefined;
    });
  }

  function notify(kind: Kind, webhookId: string, payload: ProgressPayload | CompletionPayload): void {
    try {
      onSend?.({ kind, webhookId, payload });
    } catch (err) {
      logger.warn(`event record: ${(err as Error).message}`);
    }
  }

  const logOnly = (kind: Kind, payload: ProgressPayload | CompletionPayload) => {
    notify(kind, idOf(kind, payload), payload);
    logger.info({ callback: kind, payload }, `${kind} callback (no CALLBACK_URL: logged, not sent)`);
  };

  return {
    enabled: Boolean(root),
    progress(payload) {
      const valid = progressPayloadSchema.parse(payload);
      if (!root) return logOnly('progress', valid);
      const last = pending.at(-1);
      if (last && phaseOf(last) === phaseOf(valid)) pending[pending.length - 1] = valid;
      else pending.push(valid);
      startPump();
    },
    async completion(payload, opts = {}) {
      const valid = completionPayloadSchema.parse(payload);
      if (!root) return logOnly('completion', valid);
      const { signal } = opts;
      if (signal) {
        const stop = () => {
          pending = [];
          progressAbort.abort();
        };
        if (signal.aborted) stop();
        else signal.addEventListener('abort', stop, { once: true });
      }
      await this.flush();
      await deliver('completion', valid, completionRetries, signal);
    },
    async flush() {
      while (pump) await pump;
    },
  };
}

const phaseOf = (p: ProgressPayload): string => p.phase ?? 'training';
