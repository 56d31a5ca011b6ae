import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { randomUUID } from 'node:crypto';
import { retry, type RetryPolicy } from '../retry/index.js';
import { MlflowApiError, errorFromResponse } from './errors.js';
import { LIMITS, chunkBatch, keyProblem, toWireNumber, truncateValue, type WireBatch } from './limits.js';
import {
  RUN_STATUSES,
  type BatchInput,
  type Experiment,
  type FileInfo,
  type KeyValue,
  type Metric,
  type ParamConflict,
  type Run,
  type RunInfo,
  type RunStatus,
} from './types.js';

export type MlflowAuth = { token: string } | { username: string; password: string };

export interface MlflowClientOptions {
  /** `http(s)://host[:port][/prefix]`, without credentials (see `resolveTrackingConfig`). */
  trackingUri: string;
  auth?: MlflowAuth;
  /** Per request; default 10 s. Uploads get extra time in proportion to their size. */
  timeoutMs?: number;
  /** Further attempts after a transient failure (timeout, network error, 429, 5xx); default 2. */
  retries?: number;
  /** First pause between attempts, doubled each time; default 250 ms. */
  retryDelayMs?: number;
  /** Called for data the client had to change to get it stored (a value cut to the length limit). */
  onWarning?: (kind: string, message: string) => void;
}

export interface CallOptions {
  timeoutMs?: number;
  retries?: number;
  /** Aborts the call and its retries (the error is ABORTED). */
  signal?: AbortSignal;
}

export interface CreateRunOptions {
  experimentId: string;
  runName?: string;
  /** `mlflow.source.name`, `mlflow.source.type`, `mlflow.user`, … go here. */
  tags?: Record<string, string>;
  /** Stored in `user_id`; the server does not derive it from the `mlflow.user` tag. */
  userId?: string;
  startTime?: number;
}

export interface UpdateRunOptions {
  status?: RunStatus;
  endTime?: number;
  runName?: string;
}

interface RequestSpec {
  method: 'GET' | 'POST' | 'PUT';
  /** Path under `{trackingUri}/api/2.0/`. */
  path: string;
  query?: Record<string, string | undefined>;
  json?: unknown;
  upload?: { localPath: string; size: number };
  /** `connect-only`: retry only when the request surely never reached the server (it is not idempotent). */
  retry: 'transient' | 'connect-only';
}

/** Bytes per second we assume at least for uploads, to size their timeout. */
const MIN_UPLOAD_RATE = 1024 * 1024;
const CLIENT_TOKEN_TAG = 'trainers.client_token';

/**
 * A typed client for the MLflow 2.x REST API over Node's built-in fetch. It chunks batches to the server's
 * limits, sends non-finite metrics the way MLflow parses them, never re-logs a param with a different value,
 * and cuts over-long values itself with a visible marker (the server would cut them silently).
 */
export class MlflowClient {
  readonly trackingUri: string;
  private readonly authHeader: string | undefined;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryDelayMs: number;
  private readonly onWarning: (kind: string, message: string) => void;
  /** Params the server holds per run, so a changed value is caught here rather than by a 400. */
  private readonly knownParams = new Map<string, Map<string, string>>();
  private readonly artifactUris = new Map<string, string>();

  constructor(opts: MlflowClientOptions) {
    const url = new URL(opts.trackingUri);
    if (url.username || url.password) throw new RangeError('MLflow tracking URI must not contain credentials; pass them as auth');
    this.trackingUri = opts.trackingUri.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.retries = opts.retries ?? 2;
    this.retryDelayMs = opts.retryDelayMs ?? 250;
    this.onWarning = opts.onWarning ?? (() => undefined);
    const auth = opts.auth;
    if (auth && 'username' in auth) {
      this.authHeader = 'Basic ' + Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    } else if (auth && auth.token) {
      this.authHeader = `Bearer ${auth.token}`;
    }
  }

  // ---- experiments ----

  async getExperimentByName(name: string, call?: CallOptions): Promise<Experiment | null> {
    try {
      const res = await this.request<{ experiment: Experiment }>(
        { method: 'GET', path: 'mlflow/experiments/get-by-name', query: { experiment_name: name }, retry: 'transient' },
        call,
      );
      return res.experiment;
    } catch (err) {
      if (err instanceof MlflowApiError && err.status === 404 && err.errorCode === 'RESOURCE_DOES_NOT_EXIST') return null;
      throw err;
    }
  }

  async createExperiment(name: string, tags?: Record<string, string>, call?: CallOptions): Promise<string> {
    const res = await this.request<{ experiment_id: string }>(
      { method: 'POST', path: 'mlflow/experiments/create', json: { name, tags: this.wireTags(tags ?? {}) }, retry: 'transient' },
      call,
    );
    return res.experiment_id;
  }

  /**
   * Race-safe: when another process creates the experiment between our lookup and our create, the create
   * fails with RESOURCE_ALREADY_EXISTS and we read theirs. A deleted experiment is an EXPERIMENT_DELETED
   * error unless `restoreDeleted` is set.
   */
  async getOrCreateExperiment(
    name: string,
    opts: { tags?: Record<string, string>; restoreDeleted?: boolean } = {},
    call?: CallOptions,
  ): Promise<Experiment> {
    let exp = await this.getExperimentByName(name, call);
    if (!exp) {
      try {
        await this.createExperiment(name, opts.tags, call);
      } catch (err) {
        if (!(err instanceof MlflowApiError && err.errorCode === 'RESOURCE_ALREADY_EXISTS')) throw err;
      }
      exp = await this.getExperimentByName(name, call);
      if (!exp) throw new MlflowApiError(0, 'INVALID_RESPONSE', `MLflow experiment '${name}' was created but cannot be read back`, 'getOrCreateExperiment');
    }
    if (exp.lifecycle_stage === 'deleted') {
      if (!opts.restoreDeleted) {
        throw new MlflowApiError(
          0,
          'EXPERIMENT_DELETED',
          `MLflow experiment '${name}' (id ${exp.experiment_id}) is deleted; restore it ` +
            `(mlflow experiments restore --experiment-id ${exp.experiment_id}) or set MLFLOW_EXPERIMENT_NAME to another name`,
          'getOrCreateExperiment',
        );
      }
      await this.request({ method: 'POST', path: 'mlflow/experiments/restore', json: { experiment_id: exp.experiment_id }, retry: 'transient' }, call);
      exp = { ...exp, lifecycle_stage: 'active' };
    }
    return exp;
  }

  // ---- runs ----

  /**
   * runs/create is not idempotent, so it is retried blindly only when the connection was refused. After an
   * ambiguous failure (timeout, reset, 5xx) the run is looked up by a one-off client token tag first, so a
   * retry never leaves a second run behind.
   */
  async createRun(opts: CreateRunOptions, call: CallOptions = {}): Promise<Run> {
    const token = randomUUID();
    const tags = { ...(opts.tags ?? {}), [CLIENT_TOKEN_TAG]: token };
    const body = {
      experiment_id: opts.experimentId,
      start_time: Math.round(opts.startTime ?? Date.now()),
      ...(opts.runName !== undefined ? { run_name: opts.runName } : {}),
      ...(opts.userId !== undefined ? { user_id: opts.userId } : {}),
      tags: this.wireTags(tags),
    };
    const single = { ...call, retries: 0 };
    return retry(
      async ({ lastError }) => {
        // After an ambiguous failure the first attempt may have created the run: look for it before creating another.
        if (lastError instanceof MlflowApiError && lastError.networkCode !== 'ECONNREFUSED') {
          const found = await this.searchRuns(
            { experimentIds: [opts.experimentId], filter: `tags.\`${CLIENT_TOKEN_TAG}\` = '${token}'`, maxResults: 1 },
            call,
          ).catch(() => null);
          if (found && found.runs[0]) return this.remember(found.runs[0]);
        }
        const res = await this.request<{ run: Run }>({ method: 'POST', path: 'mlflow/runs/create', json: body, retry: 'connect-only' }, single);
        return this.remember(res.run);
      },
      this.retryPolicy(call, 'POST runs/create', (err) => err instanceof MlflowApiError && err.transient),
    );
  }

  async getRun(runId: string, call?: CallOptions): Promise<Run> {
    const res = await this.request<{ run: Run }>({ method: 'GET', path: 'mlflow/runs/get', query: { run_id: runId }, retry: 'transient' }, call);
    return this.remember(res.run);
  }

  async searchRuns(
    opts: { experimentIds: string[]; filter?: string; maxResults?: number; pageToken?: string },
    call?: CallOptions,
  ): Promise<{ runs: Run[]; nextPageToken?: string }> {
    const res = await this.request<{ runs?: Run[]; next_page_token?: string }>(
      {
        method: 'POST',
        path: 'mlflow/runs/search',
        json: {
          experiment_ids: opts.experimentIds,
          ...(opts.filter ? { filter: opts.filter } : {}),
          max_results: opts.maxResults ?? 100,
          ...(opts.pageToken ? { page_token: opts.pageToken } : {}),
        },
        retry: 'transient',
      },
      call,
    );
    return { runs: res.runs ?? [], ...(res.next_page_token ? { nextPageToken: res.next_page_token } : {}) };
  }

  /** Validated here: the server answers 200 to an unknown status and leaves the run as it was. */
  async updateRun(runId: string, opts: UpdateRunOptions, call?: CallOptions): Promise<RunInfo> {
    if (opts.status !== undefined && !RUN_STATUSES.includes(opts.status)) {
      throw new RangeError(`MLflow run status must be one of ${RUN_STATUSES.join(', ')}; got '${String(opts.status)}'`);
    }
    const res = await this.request<{ run_info: RunInfo }>(
      {
        method: 'POST',
        path: 'mlflow/runs/update',
        json: {
          run_id: runId,
          ...(opts.status ? { status: opts.status } : {}),
          ...(opts.endTime !== undefined ? { end_time: Math.round(opts.endTime) } : {}),
          ...(opts.runName !== undefined ? { run_name: opts.runName } : {}),
        },
        retry: 'transient',
      },
      call,
    );
    return res.run_info;
  }

  async setTag(runId: string, key: string, value: string, call?: CallOptions): Promise<void> {
    const [tag] = this.wireTags({ [key]: value });
    await this.request({ method: 'POST', path: 'mlflow/runs/set-tag', json: { run_id: runId, ...tag }, retry: 'transient' }, call);
  }

  /** Params the run already has are skipped when equal and reported as conflicts (not sent) when different. */
  async logParams(runId: string, params: Record<string, string> | KeyValue[], call?: CallOptions): Promise<{ paramConflicts: ParamConflict[] }> {
    return this.logBatch(runId, { params }, call);
  }

  /**
   * Sends metrics, params and tags in as many log-batch requests as the limits require, in order. Steps must be
   * integers (the server stores 1.5 as step 0, or rejects the whole batch with a misleading message).
   */
  async logBatch(runId: string, batch: BatchInput, call?: CallOptions): Promise<{ paramConflicts: ParamConflict[] }> {
    const metrics = (batch.metrics ?? []).map((m) => this.wireMetric(m));
    const tags = this.wireTags(toRecord(batch.tags ?? {}, 'tag', true));
    let params = this.wireParams(toRecord(batch.params ?? {}, 'param', false));
    let paramConflicts: ParamConflict[] = [];
    if (params.length > 0) ({ params, conflicts: paramConflicts } = await this.newParams(runId, params, call));

    for (const chunk of chunkBatch({ params, tags, metrics })) {
      try {
        await this.postBatch(runId, chunk, call);
      } catch (err) {
        // Someone else logged one of these params since we looked: re-read them and send only what is new.
        if (!(err instanceof MlflowApiError && /Changing param values is not allowed/.test(err.message))) throw err;
        this.knownParams.delete(runId);
        const again = await this.newParams(runId, chunk.params, call);
        paramConflicts = paramConflicts.concat(again.conflicts);
        await this.postBatch(runId, { ...chunk, params: again.params }, call);
      }
    }
    return { paramConflicts };
  }

  // ---- artifacts ----

  /**
   * Streams `localPath` to `artifactPath` (relative to the run's artifact root, file name included) with one PUT
   * through the server's mlflow-artifacts proxy. Overwrites an existing file.
   */
  async uploadArtifact(runId: string, localPath: string, artifactPath: string, call?: CallOptions): Promise<{ path: string; bytes: number }> {
    const rel = checkArtifactPath(artifactPath);
    const root = await this.artifactRoot(runId, call);
    const { size } = await stat(localPath);
    await this.request(
      { method: 'PUT', path: `mlflow-artifacts/artifacts/${encodePath(root)}/${encodePath(rel)}`, upload: { localPath, size }, retry: 'transient' },
      call,
    );
    return { path: rel, bytes: size };
  }

  /** Files and directories directly under `path` (relative to the run's artifact root); paths are run-relative. */
  async listArtifacts(runId: string, path?: string, call?: CallOptions): Promise<FileInfo[]> {
    const res = await this.request<{ files?: FileInfo[] }>(
      { method: 'GET', path: 'mlflow/artifacts/list', query: { run_id: runId, path }, retry: 'transient' },
      call,
    );
    return res.files ?? [];
  }

  // ---- internals ----

  private async artifactRoot(runId: string, call?: CallOptions): Promise<string> {
    const uri = this.artifactUris.get(runId) ?? (await this.getRun(runId, call)).info.artifact_uri;
    const m = /^mlflow-artifacts:(?:\/\/[^/]*)?\/*(.*?)\/*$/.exec(uri);
    if (!m) {
      throw new MlflowApiError(
        0,
        'ARTIFACTS_NOT_PROXIED',
        `MLflow run ${runId} stores artifacts at '${uri}', which this client cannot reach; start the server with --serve-artifacts`,
        'uploadArtifact',
      );
    }
    return m[1] ?? '';
  }

  private remember(run: Run): Run {
    run.data ??= {};
    if (run.info.artifact_uri) this.artifactUris.set(run.info.run_id, run.info.artifact_uri);
    return run;
  }

  private async newParams(runId: string, params: KeyValue[], call?: CallOptions): Promise<{ params: KeyValue[]; conflicts: ParamConflict[] }> {
    let known = this.knownParams.get(runId);
    if (!known) {
      const run = await this.getRun(runId, call);
      known = new Map((run.data.params ?? []).map((p) => [p.key, p.value]));
      this.knownParams.set(runId, known);
    }
    const fresh: KeyValue[] = [];
    const conflicts: ParamConflict[] = [];
    for (const p of params) {
      const logged = known.get(p.key);
      if (logged === undefined) fresh.push(p);
      else if (logged !== p.value) conflicts.push({ key: p.key, logged, attempted: p.value });
    }
    return { params: fresh, conflicts };
  }

  private async postBatch(runId: string, chunk: WireBatch, call?: CallOptions): Promise<void> {
    if (chunk.params.length + chunk.tags.length + chunk.metrics.length === 0) return;
    await this.request({ method: 'POST', path: 'mlflow/runs/log-batch', json: { run_id: runId, ...chunk }, retry: 'transient' }, call);
    const known = this.knownParams.get(runId);
    if (known) for (const p of chunk.params) known.set(p.key, p.value);
  }

  private wireMetric(m: { key: string; value: number; step: number; timestamp?: number }): Metric {
    checkKey('metric', m.key);
    if (typeof m.value !== 'number') throw new RangeError(`MLflow metric '${m.key}' must be a number; got ${typeof m.value}`);
    if (!Number.isSafeInteger(m.step)) throw new RangeError(`MLflow metric '${m.key}' step must be an integer; got ${m.step}`);
    return { key: m.key, value: toWireNumber(m.value), timestamp: Math.round(m.timestamp ?? Date.now()), step: m.step };
  }

  private wireParams(params: Record<string, string>): KeyValue[] {
    return Object.entries(params).map(([key, value]) => {
      checkKey('param', key);
      return { key, value: this.fit('param', key, value, LIMITS.paramValueLength) };
    });
  }

  private wireTags(tags: Record<string, string>): KeyValue[] {
    return Object.entries(tags).map(([key, value]) => {
      checkKey('tag', key);
      return { key, value: this.fit('tag', key, value, LIMITS.tagValueLength) };
    });
  }

  private fit(kind: 'param' | 'tag', key: string, value: string, limit: number): string {
    if (typeof value !== 'string') throw new RangeError(`MLflow ${kind} '${key}' value must be a string; got ${typeof value}`);
    if (value.length <= limit) return value;
    this.onWarning(
      'value-truncated',
      `MLflow ${kind} '${key}' is ${value.length} characters long; it was cut to ${limit} (the server's limit) and ends with a '...[truncated, N chars]' marker`,
    );
    return truncateValue(value, limit);
  }

  private request<T>(spec: RequestSpec, call: CallOptions = {}): Promise<T> {
    const op = `${spec.method} ${spec.path.replace(/^mlflow\//, '')}`;
    return retry(
      () => this.once<T>(spec, call),
      this.retryPolicy(call, op, (err) =>
        err instanceof MlflowApiError &&
        (spec.retry === 'transient' ? err.transient : err.errorCode === 'NETWORK_ERROR' && err.networkCode === 'ECONNREFUSED'),
      ),
    );
  }

  /** Doubling pauses from `retryDelayMs`, no jitter; a caller's abort ends the retries, and a pause, with ABORTED. */
  private retryPolicy(call: CallOptions, op: string, shouldRetry: (err: unknown) => boolean): RetryPolicy {
    return {
      attempts: 1 + (call.retries ?? this.retries),
      backoff: { baseMs: this.retryDelayMs, jitter: 'none' },
      shouldRetry,
      ...(call.signal ? { signal: call.signal } : {}),
      onAbort: () => new MlflowApiError(0, 'ABORTED', `${op}: aborted`, op),
      // Tracking is background work: a pending retry must not keep a finished job alive.
      unref: true,
    };
  }

  private async once<T>(spec: RequestSpec, call: CallOptions): Promise<T> {
    const op = `${spec.method} ${spec.path.replace(/^mlflow\//, '')}`;
    const url = new URL(`${this.trackingUri}/api/2.0/${spec.path}`);
    for (const [k, v] of Object.entries(spec.query ?? {})) if (v !== undefined) url.searchParams.set(k, v);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.authHeader) headers['authorization'] = this.authHeader;
    let body: string | ReadableStream | undefined;
    let timeoutMs = call.timeoutMs ?? this.timeoutMs;
    if (spec.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(spec.json);
    } else if (spec.upload) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = String(spec.upload.size);
      // A fresh stream per attempt: the file is never held in memory.
      body = Readable.toWeb(createReadStream(spec.upload.localPath)) as ReadableStream;
      timeoutMs += Math.ceil((spec.upload.size / MIN_UPLOAD_RATE) * 1000);
    }
    const timeout = AbortSignal.timeout(timeoutMs);
    const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
    let status: number;
    let text: string;
    try {
      const init: RequestInit & { duplex?: 'half' } = { method: spec.method, headers, signal };
      if (body !== undefined) init.body = body as NonNullable<RequestInit['body']>;
      if (spec.upload) init.duplex = 'half';
      const res = await fetch(url, init);
      status = res.status;
      text = await res.text();
    } catch (err) {
      if (call.signal?.aborted) throw new MlflowApiError(0, 'ABORTED', `${op}: aborted`, op);
      if (timeout.aborted) throw new MlflowApiError(0, 'TIMEOUT', `${op}: no answer within ${timeoutMs} ms`, op);
      const code = networkCode(err);
      throw new MlflowApiError(0, 'NETWORK_ERROR', `${op}: ${code ?? (err as Error).message} (${this.trackingUri})`, op, code);
    }
    if (status < 200 || status >= 300) throw errorFromResponse(status, text, op);
    if (!text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new MlflowApiError(status, 'INVALID_RESPONSE', `${op}: HTTP ${status} with a body that is not JSON (is ${this.trackingUri} an MLflow server?)`, op);
    }
  }
}

function checkKey(kind: string, key: string): void {
  const problem = typeof key === 'string' ? keyProblem(key) : 'is not a string';
  if (problem) throw new RangeError(`MLflow ${kind} key '${String(key).slice(0, 80)}' ${problem}`);
}

function toRecord(input: Record<string, string> | KeyValue[], kind: string, lastWins: boolean): Record<string, string> {
  if (!Array.isArray(input)) return input;
  const out: Record<string, string> = {};
  for (const { key, value } of input) {
    // One batch may not name a param twice (400 "Duplicate parameter keys"), even with the same value.
    if (!lastWins && key in out && out[key] !== value) throw new RangeError(`MLflow ${kind} '${key}' is given twice with different values`);
    out[key] = value;
  }
  return out;
}

function checkArtifactPath(path: string): string {
  const rel = path.replace(/^\/+/, '');
  const segs = rel.split('/');
  if (!rel || segs.some((s) => s === '' || s === '.' || s === '..')) {
    throw new RangeError(`MLflow artifact path '${path}' must be a relative path without empty, '.' or '..' parts`);
  }
  return rel;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .filter((s) => s !== '')
    .map(encodeURIComponent)
    .join('/');
}

function networkCode(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}
