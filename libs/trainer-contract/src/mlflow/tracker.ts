import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, sep } from 'node:path';
import { createRedactor, redact, type Logger } from '../log/index.js';
import { backoffDelay } from '../retry/index.js';
import { MlflowClient, type CallOptions } from './client.js';
import { resolveTrackingConfig, type TrackingConfig } from './config.js';
import { MlflowApiError } from './errors.js';
import { flattenParams } from './flatten.js';
import { LIMITS, chunkBatch, sanitizeKey, toWireNumber } from './limits.js';
import type { MetricInput, ParamConflict, Run } from './types.js';

export interface TrackerStartInfo {
  jobId: string;
  trainer: string;
  trainerVersion: string;
  task: string;
  modelName: string;
  /** The run a previous attempt of this job created; it is continued when it still exists. */
  existingRunId?: string | null;
  tags?: Record<string, string>;
}

export type FinalStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface Tracker {
  readonly enabled: boolean;
  readonly runId: string | null;
  /** Creates or resumes (existingRunId) the run; never throws; returns the run id or null. */
  start(info: TrackerStartInfo): Promise<string | null>;
  /** Flattened by the tracker (nested objects → a.b.c keys). */
  logParams(params: Record<string, unknown>): void;
  logMetrics(step: number, metrics: Record<string, number>): void;
  setTags(tags: Record<string, string>): void;
  /** A file goes to `artifactPath/<its name>`; a directory's contents go under `artifactPath` (or the root). */
  logArtifact(localPath: string, artifactPath?: string): void;
  /** Flushes everything queued within deadlineMs, then sets the final status; never throws. */
  finish(status: FinalStatus, opts?: { tags?: Record<string, string>; deadlineMs?: number }): Promise<void>;
}

export interface CreateTrackerOptions {
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Used when MLFLOW_EXPERIMENT_NAME is not set (a per-framework name). */
  defaultExperiment: string;
  /** Per MLflow request; default 10 s. start() waits at most this long for the run. */
  timeoutMs?: number;
  /** Quick re-tries of one request before the background back-off takes over; default 2. */
  retries?: number;
  /** First pause between quick re-tries; default 250 ms. */
  retryDelayMs?: number;
  /** Longest pause of the background back-off; default 30 s. */
  maxBackoffMs?: number;
}

/**
 * Tracking that never hurts training: every log call only queues and returns; one background pump sends the
 * queue in order (params, then tags and metrics in limit-sized batches, then artifacts) and, while MLflow is
 * down or failing, keeps the data and retries with a growing pause. Failures are logged once per kind.
 */
export function createTracker(opts: CreateTrackerOptions): Tracker {
  const env = opts.env ?? process.env;
  const resolved = resolveTrackingConfig(env, opts.defaultExperiment);
  if (!resolved.ok) {
    opts.logger[resolved.level]({ mlflow: 'off' }, resolved.reason);
    return new DisabledTracker();
  }
  return new RestTracker(resolved.config, opts, env);
}

class DisabledTracker implements Tracker {
  readonly enabled = false;
  readonly runId = null;
  async start(): Promise<string | null> {
    return null;
  }
  logParams(): void {}
  logMetrics(): void {}
  setTags(): void {}
  logArtifact(): void {}
  async finish(): Promise<void> {}
}

interface ArtifactJob {
  local: string;
  /** `under`: a file lands at dir/<name>, a directory's contents under dir; `exact`: the file's full path. */
  dir?: string;
  path?: string;
}

const FINAL_STATUSES: readonly FinalStatus[] = ['FINISHED', 'FAILED', 'KILLED'];
const INITIAL_BACKOFF_MS = 1000;
/** While finishing, retry at least this often: the deadline is short and the server may be back. */
const FINISH_BACKOFF_MS = 500;
/** Beyond this many queued points (MLflow down for very long), the oldest are dropped. */
const MAX_PENDING_METRICS = 200_000;
const MAX_BISECTS = 64;
const RUN_GONE = /must be in the 'active' state/;

class RestTracker implements Tracker {
  readonly enabled = true;
  private readonly client: MlflowClient;
  private readonly logger: Logger;
  private readonly redactText: (s: string) => string;
  private readonly timeoutMs: number;
  private readonly maxBackoffMs: number;
  private readonly warned = new Set<string>();

  private info: TrackerStartInfo | null = null;
  private run: { id: string } | null = null;
  private resumeAbandoned = false;
  /** Set when tracking cannot work for this job (deleted experiment, refused credentials): data is dropped. */
  private gaveUp = false;
  private closed = false;

  private readonly params = new Map<string, string>();
  private readonly tags = new Map<string, string>();
  private metrics: MetricInput[] = [];
  private artifacts: ArtifactJob[] = [];
  private chunkEntities: number = LIMITS.entitiesPerBatch;
  /** Halvings allowed to isolate rejected entities; beyond it a rejected batch is dropped whole. */
  private bisectBudget = MAX_BISECTS;

  private pumping: Promise<void> | null = null;
  /** Pauses since the pump last got something through; the backoff grows with it. */
  private failures = 0;
  private wakeUp: (() => void) | null = null;
  private ctl = new AbortController();
  private drainDeadline: number | null = null;
  private firstAttempt: Promise<void>;
  private firstAttemptDone!: () => void;

  constructor(
    private readonly config: TrackingConfig,
    opts: CreateTrackerOptions,
    env: NodeJS.ProcessEnv,
  ) {
    this.logger = opts.logger;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 30_000;
    // The process-wide redactor knows process.env; this one also knows the env we were given.
    const local = createRedactor(env);
    this.redactText = (s) => local(redact(s));
    this.client = new MlflowClient({
      trackingUri: config.trackingUri,
      ...(config.auth ? { auth: config.auth } : {}),
      timeoutMs: this.timeoutMs,
      retries: opts.retries ?? 2,
      retryDelayMs: opts.retryDelayMs ?? 250,
      onWarning: (kind, message) => this.warnOnce(kind, message),
    });
    this.firstAttempt = new Promise((resolve) => (this.firstAttemptDone = resolve));
    this.logger.info({ mlflow: 'on', experiment: config.experimentName }, `MLflow tracking to ${config.trackingUri}`);
  }

  get runId(): string | null {
    return this.run?.id ?? null;
  }

  async start(info: TrackerStartInfo): Promise<string | null> {
    try {
      if (this.info || this.closed) return this.runId;
      this.info = info;
      this.params.set('model_name', this.redactText(info.modelName));
      this.schedule();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.firstAttempt, new Promise<void>((r) => (timer = setTimeout(r, this.timeoutMs)))]);
      clearTimeout(timer);
      if (!this.run && !this.gaveUp) {
        this.logger.info({ mlflow: 'pending' }, 'MLflow run not created yet; training goes on and tracking keeps trying in the background');
      }
      return this.runId;
    } catch (err) {
      this.warnOnce('start:internal', `MLflow start failed: ${(err as Error).message}`);
      return null;
    }
  }

  logParams(params: Record<string, unknown>): void {
    if (!this.accepting()) return;
    try {
      for (const [key, value] of Object.entries(flattenParams(params))) this.params.set(this.key(key), this.redactText(value));
      this.schedule();
    } catch (err) {
      this.warnOnce('params:internal', `MLflow params not queued: ${(err as Error).message}`);
    }
  }

  logMetrics(step: number, metrics: Record<string, number>): void {
    if (!this.accepting()) return;
    if (!Number.isFinite(step)) return this.warnOnce('step-invalid', `MLflow metrics with step ${step} were skipped`);
    if (!Number.isInteger(step)) {
      this.warnOnce('step-not-integer', `MLflow steps must be integers; step ${step} was rounded`);
      step = Math.round(step);
    }
    const timestamp = Date.now();
    for (const [key, value] of Object.entries(metrics)) {
      if (typeof value !== 'number') {
        this.warnOnce('metric-not-number', `MLflow metric '${key}' is not a number and was skipped`);
        continue;
      }
      this.metrics.push({ key: this.key(key), value, step, timestamp });
    }
    if (this.metrics.length > MAX_PENDING_METRICS) {
      this.metrics.splice(0, this.metrics.length - MAX_PENDING_METRICS);
      this.warnOnce('metrics-dropped', `MLflow has been unreachable too long; the oldest queued metrics are being dropped`);
    }
    this.schedule();
  }

  setTags(tags: Record<string, string>): void {
    if (!this.accepting()) return;
    for (const [key, value] of Object.entries(tags)) this.tags.set(this.key(key), this.redactText(String(value)));
    this.schedule();
  }

  logArtifact(localPath: string, artifactPath?: string): void {
    if (!this.accepting()) return;
    const dir = (artifactPath ?? '').replace(/\\/g, '/').replace(/^\/+|\/+$/g, '');
    // The latest request for the same file and place wins; the file is read when its turn comes.
    this.artifacts = this.artifacts.filter((a) => !(a.local === localPath && a.dir === dir));
    this.artifacts.push({ local: localPath, dir });
    this.schedule();
  }

  async finish(status: FinalStatus, opts: { tags?: Record<string, string>; deadlineMs?: number } = {}): Promise<void> {
    try {
      if (this.closed) return;
      if (!FINAL_STATUSES.includes(status)) {
        this.warnOnce('status-invalid', `MLflow final status '${String(status)}' is not one of ${FINAL_STATUSES.join(', ')}; using FAILED`);
        status = 'FAILED';
      }
      if (!this.info) {
        this.closed = true;
        return;
      }
      if (opts.tags) this.setTags(opts.tags);
      const deadlineMs = Math.max(0, opts.deadlineMs ?? 30_000);
      const end = Date.now() + deadlineMs;
      // Keep part of the deadline for the status update, which matters more than the last points.
      this.drainDeadline = end - Math.min(this.timeoutMs, Math.floor(deadlineMs / 3));
      this.wake();
      this.schedule();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([this.pumping ?? Promise.resolve(), new Promise<void>((r) => (timer = setTimeout(r, Math.max(0, this.drainDeadline! - Date.now()))))]);
      clearTimeout(timer);
      this.closed = true;
      this.ctl.abort();
      this.wake();
      if (!this.run) {
        if (!this.gaveUp) this.logger.warn({ mlflow: 'no-run' }, `MLflow run could not be created before the deadline; nothing was recorded${this.unsentText()}`);
        return;
      }
      if (this.gaveUp) return;
      const unsent = this.unsentText();
      if (unsent) this.logger.warn({ mlflow: 'unsent' }, `MLflow did not receive everything before the deadline${unsent}`);
      const left = Math.max(250, end - Date.now());
      const call: CallOptions = { timeoutMs: Math.min(this.timeoutMs, left), signal: AbortSignal.timeout(left) };
      await this.client.updateRun(this.run.id, { status, endTime: Date.now() }, call);
    } catch (err) {
      this.report('status', err);
    }
  }

  // ---- the pump ----

  private accepting(): boolean {
    return !this.closed && !this.gaveUp;
  }

  private schedule(): void {
    if (this.pumping || !this.info || this.closed || this.gaveUp) return;
    this.pumping = this.pump();
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        if (this.gaveUp || this.closed || this.pastDeadline()) return;
        let progressed: boolean;
        if (!this.run) progressed = await this.tryStart();
        else if (!this.hasData()) return;
        else progressed = await this.sendSome();
        if (progressed) {
          this.failures = 0;
          continue;
        }
        if (!(await this.pause())) return;
      }
    } catch (err) {
      this.warnOnce('pump:internal', `MLflow tracking stopped: ${(err as Error).message}`);
    } finally {
      // Synchronously with the return, so a call queued from now on starts a new pump.
      this.pumping = null;
    }
  }

  private pastDeadline(): boolean {
    return this.drainDeadline !== null && Date.now() >= this.drainDeadline;
  }

  private pause(): Promise<boolean> {
    const cap = this.drainDeadline !== null ? FINISH_BACKOFF_MS : Infinity;
    let ms = Math.min(cap, backoffDelay(++this.failures, { baseMs: INITIAL_BACKOFF_MS, maxMs: this.maxBackoffMs }));
    if (this.drainDeadline !== null) {
      const left = this.drainDeadline - Date.now();
      if (left <= 0) return Promise.resolve(false);
      ms = Math.min(ms, left);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => done(true), ms);
      timer.unref();
      const done = (goOn: boolean) => {
        clearTimeout(timer);
        this.wakeUp = null;
        resolve(goOn && !this.closed);
      };
      this.wakeUp = () => done(true);
    });
  }

  private wake(): void {
    this.wakeUp?.();
  }

  private call(): CallOptions {
    return { signal: this.ctl.signal };
  }

  private hasData(): boolean {
    return this.params.size > 0 || this.tags.size > 0 || this.metrics.length > 0 || this.artifacts.length > 0;
  }

  private async tryStart(): Promise<boolean> {
    const info = this.info!;
    try {
      if (info.existingRunId && !this.resumeAbandoned) {
        const run = await this.client.getRun(info.existingRunId, this.call()).catch((err: unknown) => {
          if (err instanceof MlflowApiError && err.status === 404) return null;
          throw err;
        });
        if (run && run.info.lifecycle_stage === 'active') {
          if (run.info.status !== 'RUNNING') await this.client.updateRun(run.info.run_id, { status: 'RUNNING' }, this.call());
          this.adopt(run, true);
          return true;
        }
        this.warnOnce('resume-missing', `MLflow run ${info.existingRunId} of the previous attempt is ${run ? 'deleted' : 'gone'}; starting a new run`);
        this.resumeAbandoned = true;
      }
      const exp = await this.client.getOrCreateExperiment(this.config.experimentName, {}, this.call());
      const run = await this.client.createRun(
        { experimentId: exp.experiment_id, runName: `job-${info.jobId}`, tags: this.startTags(), userId: this.config.user },
        this.call(),
      );
      this.adopt(run, false);
      return true;
    } catch (err) {
      if (this.report('start', err) === 'permanent') {
        this.gaveUp = true;
        this.params.clear();
        this.tags.clear();
        this.metrics = [];
        this.artifacts = [];
      }
      return false;
    } finally {
      this.firstAttemptDone();
    }
  }

  private adopt(run: Run, resumed: boolean): void {
    this.run = { id: run.info.run_id };
    // A resumed run gets this attempt's tags too (a new trainer version, say); they are mutable.
    if (resumed) for (const [k, v] of Object.entries(this.startTags())) if (!this.tags.has(k)) this.tags.set(k, v);
    this.logger.info({ mlflow: 'run', run_id: run.info.run_id, resumed }, resumed ? 'MLflow run resumed' : 'MLflow run created');
  }

  private startTags(): Record<string, string> {
    const info = this.info!;
    const tags: Record<string, string> = {
      'mlflow.source.name': info.trainer,
      'mlflow.source.type': 'JOB',
      'mlflow.user': this.config.user,
      job_id: info.jobId,
      trainer: info.trainer,
      trainer_version: info.trainerVersion,
      task: info.task,
      model_name: info.modelName,
    };
    for (const [k, v] of Object.entries(info.tags ?? {})) tags[this.key(k)] = String(v);
    for (const k of Object.keys(tags)) tags[k] = this.redactText(tags[k] ?? '');
    return tags;
  }

  /** Sends one unit of queued work; false when it failed in a way worth waiting for. */
  private async sendSome(): Promise<boolean> {
    const runId = this.run!.id;
    if (this.params.size > 0) {
      const sent = new Map(this.params);
      try {
        const { paramConflicts } = await this.client.logParams(runId, Object.fromEntries(sent), this.call());
        for (const [k, v] of sent) if (this.params.get(k) === v) this.params.delete(k);
        if (paramConflicts.length) this.reportConflicts(paramConflicts);
        return true;
      } catch (err) {
        return this.onSendError('params', err, sent.size, () => {
          for (const [k, v] of sent) if (this.params.get(k) === v) this.params.delete(k);
        });
      }
    }
    if (this.tags.size > 0 || this.metrics.length > 0) {
      const tagList = [...this.tags].map(([key, value]) => ({ key, value }));
      const wire = this.metrics.map((m) => ({ key: m.key, value: toWireNumber(m.value), step: m.step, timestamp: m.timestamp ?? 0 }));
      const [chunk] = chunkBatch({ params: [], tags: tagList, metrics: wire }, { entitiesPerBatch: this.chunkEntities });
      const tags = tagList.slice(0, chunk?.tags.length ?? 0);
      const metrics = this.metrics.slice(0, chunk?.metrics.length ?? 0);
      const forget = () => {
        for (const t of tags) if (this.tags.get(t.key) === t.value) this.tags.delete(t.key);
        const done = new Set(metrics);
        this.metrics = this.metrics.filter((m) => !done.has(m));
      };
      try {
        await this.client.logBatch(runId, { tags, metrics }, this.call());
        forget();
        return true;
      } catch (err) {
        return this.onSendError('metrics', err, tags.length + metrics.length, forget);
      }
    }
    return this.sendArtifact(runId);
  }

  private async sendArtifact(runId: string): Promise<boolean> {
    const job = this.artifacts[0]!;
    const forget = () => {
      this.artifacts = this.artifacts.filter((a) => a !== job);
    };
    let isDir: boolean;
    try {
      isDir = (await stat(job.local)).isDirectory();
    } catch {
      forget();
      this.warnOnce('artifact-missing', `MLflow artifact ${job.local} does not exist and was skipped`);
      return true;
    }
    if (job.path === undefined && isDir) {
      const files = await listFiles(job.local);
      const jobs = files.map((f) => ({ local: f, path: joinArtifact(job.dir ?? '', relative(job.local, f).split(sep).join('/')) }));
      this.artifacts.splice(this.artifacts.indexOf(job), 1, ...jobs);
      return true;
    }
    const dest = job.path ?? joinArtifact(job.dir ?? '', basename(job.local));
    try {
      await this.client.uploadArtifact(runId, job.local, dest, this.call());
      forget();
      return true;
    } catch (err) {
      return this.onSendError('artifact', err, 1, forget);
    }
  }

  /**
   * Transient failures keep the data for a later try. A rejected batch is halved until the one entity the
   * server refuses is alone, and only that one is dropped.
   */
  private onSendError(op: string, err: unknown, entities: number, drop: () => void): boolean {
    const kind = this.report(op, err);
    if (kind === 'transient') return false;
    // Nothing more can be stored: credentials refused, or the run was deleted under us.
    if (err instanceof MlflowApiError && (err.status === 401 || err.status === 403 || err.status === 404 || RUN_GONE.test(err.message))) {
      this.gaveUp = true;
      return false;
    }
    if (op === 'metrics' && entities > 1 && this.bisectBudget > 0) {
      this.bisectBudget--;
      this.chunkEntities = Math.max(1, Math.ceil(entities / 2));
      return true;
    }
    drop();
    this.chunkEntities = LIMITS.entitiesPerBatch;
    return true;
  }

  /** Logs a failure once per kind and says whether waiting could help. */
  private report(op: string, err: unknown): 'transient' | 'permanent' {
    if (err instanceof MlflowApiError) {
      if (err.errorCode === 'ABORTED') return 'transient';
      const transient = err.transient;
      const then = transient
        ? op === 'status'
          ? 'the run keeps its previous status'
          : 'training goes on; the data is kept and sent when MLflow answers again'
        : op === 'start'
          ? 'MLflow tracking is off for this job'
          : 'that data was dropped';
      this.warnOnce(`${op}:${err.errorCode}`, `MLflow ${op} failed (${err.errorCode}): ${err.message}; ${then}`, { status: err.status });
      return transient ? 'transient' : 'permanent';
    }
    this.warnOnce(`${op}:internal`, `MLflow ${op} failed: ${(err as Error)?.message ?? String(err)}`);
    return 'permanent';
  }

  private reportConflicts(conflicts: ParamConflict[]): void {
    const cut = (s: string) => (s.length > 60 ? s.slice(0, 60) + '…' : s);
    const list = conflicts.map((c) => `${c.key} (logged '${cut(c.logged)}', now '${cut(c.attempted)}')`).join(', ');
    this.warnOnce('param-conflict', `MLflow params cannot change within a run; the logged values were kept for ${list}`);
  }

  private key(key: string): string {
    const clean = sanitizeKey(key);
    if (clean !== key && !this.warned.has('key-renamed')) {
      this.warned.add('key-renamed');
      this.logger.info({ mlflow: 'key-renamed' }, `MLflow keys allow only letters, digits, _ - . space and /; e.g. '${key}' is logged as '${clean}'`);
    }
    return clean;
  }

  private unsentText(): string {
    const parts: string[] = [];
    if (this.params.size) parts.push(`${this.params.size} params`);
    if (this.tags.size) parts.push(`${this.tags.size} tags`);
    if (this.metrics.length) parts.push(`${this.metrics.length} metric points`);
    if (this.artifacts.length) parts.push(`${this.artifacts.length} artifacts`);
    return parts.length ? ` (unsent: ${parts.join(', ')})` : '';
  }

  private warnOnce(kind: string, message: string, fields: Record<string, unknown> = {}): void {
    if (this.warned.has(kind)) return;
    this.warned.add(kind);
    this.logger.warn({ mlflow: kind, ...fields }, this.redactText(message));
  }
}

function joinArtifact(dir: string, name: string): string {
  return dir ? `${dir}/${name}` : name;
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await listFiles(full)));
    else if (entry.isFile()) out.push(full);
  }
  return out.sort();
}
