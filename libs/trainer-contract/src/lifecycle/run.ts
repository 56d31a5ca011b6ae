import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { parseTrainerArgs, type TrainerArgs } from '../cli/index.js';
import { parseConfigText, type CommonConfig } from '../config/index.js';
import {
  callbackErrorCode,
  CheckpointUploadError,
  ConfigError,
  ExitCode,
  InterruptedError,
  toTrainerError,
  TrainerError,
} from '../errors/index.js';
import { configureRedaction, createLogger, redact, type Logger } from '../log/index.js';
import { createCallbackClient, finiteOrNull, jobIdForPayload, type CallbackClient } from '../callbacks/index.js';
import type { PreparedDataset } from '../convert/index.js';
import type { LifecycleServices, OutputStore, RunTracker } from './services.js';
import type { EpochEndEvent, Task, TrainerDriver, TrainResult } from './types.js';
import { describeTrainer, schemaFor } from './describe.js';
import { abortOnSignals } from './signals.js';
import { writeTerminationLog } from './termination.js';
// The S3 error mapping alone, not the S3 index: the AWS SDK loads lazily (see resolveServices).
import { mapS3Error } from '../s3/errors.js';
import { CheckpointUploader } from './uploads.js';
import { EventRecord } from './event-record.js';
import { PhaseProgress, phaseIntervalMs } from './phase-progress.js';
import { k8sManifestCommand, K8S_MANIFEST_COMMAND } from '../k8s/index.js';
import { createKubeflowStatusReporter, type KubeflowStatusReporter } from '../kubeflow/index.js';

export interface RunIo {
  env?: NodeJS.ProcessEnv;
  stdout?: NodeJS.WritableStream & { isTTY?: boolean };
  stderr?: NodeJS.WritableStream;
  /** Replaces some of the default stages (tests, or a trainer with special needs). */
  services?: Partial<LifecycleServices>;
  /** Handle SIGTERM/SIGINT (default true); tests that run several jobs in one process turn it off and pass `signal`. */
  handleSignals?: boolean;
  signal?: AbortSignal;
}

const JOB_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const RUN_STATE_FILE = 'run-state.json';

/**
 * Runs one trainer end to end and returns the exit code: parse → stage data → convert → train
 * (the app's driver) → upload → report. It never calls process.exit.
 */
export async function runTrainerCli<C extends CommonConfig>(
  argv: readonly string[],
  driver: TrainerDriver<C>,
  io: RunIo & { services: LifecycleServices } | (RunIo & { services?: Partial<LifecycleServices> }),
): Promise<number> {
  const env = io.env ?? process.env;
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const scriptName = `trainer-${driver.name}`;
  configureRedaction(env);
  // The AWS SDK prints a multi-line notice on Node 20 to stderr, where only our own problem lines belong.
  process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

  // Each failure is told once, as soon as it is known: its problem lines on stderr, one log line, the termination
  // log. Reporting to the backend comes after, so a user's typo is on screen before any retry against a dead backend.
  const announced = new WeakSet<TrainerError>();
  const announce = (err: TrainerError, logger?: Logger): void => {
    if (announced.has(err)) return;
    announced.add(err);
    const lines = err.problems.map((l) => `${scriptName}: ${redact(l)}`);
    stderr.write(lines.join('\n') + '\n');
    if (logger) {
      const stack = err.cause instanceof Error ? err.cause.stack : err.stack;
      const extra = err.isUserError ? {} : { detail: err.detail ? redact(err.detail) : undefined, stack: err.code === 'INTERNAL' ? stack : undefined };
      logger.error({ ...err.summary, ...extra }, redact(err.message));
    }
    writeTerminationLog(env, { code: err.code, message: redact(err.message), exit_code: err.exitCode, retriable: err.retriable });
  };
  const fail = (err: TrainerError, logger?: Logger): number => {
    announce(err, logger);
    return err.exitCode;
  };

  if (argv[0] === K8S_MANIFEST_COMMAND) {
    try {
      const { output } = await k8sManifestCommand(argv.slice(1), { app: driver.name, version: driver.version, configSchema: driver.configSchema, env });
      stdout.write(output);
      return ExitCode.OK;
    } catch (err) {
      return fail(toTrainerError(err));
    }
  }

  let args: TrainerArgs;
  try {
    const outcome = await parseTrainerArgs(argv, { env, scriptName, version: driver.version });
    if (outcome.kind === 'schema') {
      stdout.write(JSON.stringify(schemaFor(driver as unknown as TrainerDriver, outcome.which), null, 2) + '\n');
      return ExitCode.OK;
    }
    if (outcome.kind === 'describe') {
      stdout.write(JSON.stringify(describeTrainer(driver as unknown as TrainerDriver), null, 2) + '\n');
      return ExitCode.OK;
    }
    if (outcome.kind === 'exit') {
      stdout.write(outcome.output + (outcome.output.endsWith('\n') ? '' : '\n'));
      return outcome.code;
    }
    args = outcome.args;
  } catch (err) {
    return fail(toTrainerError(err));
  }

  const logger = createLogger({ level: args.logLevel, stream: stdout, name: scriptName });
  const services = await resolveServices(io.services);
  const job = new Job(driver, args, env, logger, services, { ...io, stdout, stderr }, (err) => announce(err, logger));
  try {
    return await job.run();
  } catch (err) {
    return fail(toTrainerError(err), logger);
  }
}

async function resolveServices(partial?: Partial<LifecycleServices>): Promise<LifecycleServices> {
  const needed = ['stageDataset', 'prepareDataset', 'summarizeReport', 'createOutputStore', 'createTracker', 'fetchModel'] as const;
  if (partial && needed.every((k) => partial[k])) return partial as LifecycleServices;
  // Loaded lazily so `--help` and flag errors do not pay for the AWS SDK's start-up.
  const { defaultServices } = await import('./default-services.js');
  return { ...defaultServices, ...partial } as LifecycleServices;
}

class Job<C extends CommonConfig> {
  private callbacks!: CallbackClient;
  private store?: OutputStore;
  private tracker?: RunTracker;
  private uploader?: CheckpointUploader;
  private lastEpoch = 0;
  private totalEpochs = 0;
  private lastCheckpoint?: { path: string; epoch: number };
  /** The epoch of a last.pt uploaded outside the background uploader (on failure or interrupt). */
  private uploadedDirectly?: number;
  private readonly record: EventRecord;
  private phases?: PhaseProgress;
  private kubeflow?: KubeflowStatusReporter;

  constructor(
    private readonly driver: TrainerDriver<C>,
    private readonly args: TrainerArgs,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logger: Logger,
    private readonly services: LifecycleServices,
    private readonly io: RunIo,
    private readonly announce: (err: TrainerError) => void,
  ) {
    this.record = new EventRecord(logger);
  }

  async run(): Promise<number> {
    const { args, env, logger } = this;
    const signals = this.io.handleSignals === false ? undefined : abortOnSignals((sig) => logger.warn({ signal: sig }, `received ${sig}: stopping at the next safe point`));
    const signal = anySignal([signals?.signal, this.io.signal]);
    let budgetMs = DEFAULT_FAILURE_BUDGET_MS;
    this.kubeflow = createKubeflowStatusReporter(env, logger);
    try {
      budgetMs = failureBudgetMs(env);
      if (!JOB_ID.test(args.jobId)) {
        throw new ConfigError(`--job-id: "${args.jobId}" must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`);
      }
      this.callbacks = createCallbackClient({
        baseUrl: validateCallbackUrl(args.callbackUrl),
        jobId: args.jobId,
        token: env['CALLBACK_TOKEN'] || undefined,
        secret: env['CALLBACK_SECRET'] || undefined,
        logger,
        onSend: (event) => this.record.add(event),
        ...callbackTuning(env),
      });
      return await this.execute(signal);
    } catch (err) {
      const failure = toTrainerError(err);
      if (failure.code === 'INTERRUPTED' || (signal.aborted && !failure.isUserError)) return await this.handleInterrupt(failure);
      this.announce(failure);
      return await this.handleFailure(failure, budgetMs);
    } finally {
      // The record holds the final event even when the backend never got it (exit 2, or a failure it missed).
      await this.record.flush(budgetMs + 30_000);
      signals?.dispose();
    }
  }

  private async execute(signal: AbortSignal): Promise<number> {
    const { args, env, logger, driver, services } = this;
    const interval = parseCallbackInterval(env['CALLBACK_INTERVAL']);
    const config = parseConfigText(driver.configSchema as never, args.configText) as C;
    let task = driver.resolveTask(args.modelName, config);
    this.totalEpochs = config.epochs;

    const workDir = resolve(args.workDir ?? (await mkdtemp(join(tmpdir(), `trainer-${args.jobId}-`))));
    await mkdir(workDir, { recursive: true });
    logger.info({ jobId: args.jobId, trainer: driver.name, version: driver.version, model: args.modelName, task, workDir }, 'job starting');

    let modelName = args.modelName;
    if (/^s3:\/\//i.test(modelName)) {
      modelName = await services.fetchModel(modelName, { destDir: join(workDir, 'models'), env, logger });
    }
    task = (await driver.preflight({ jobId: args.jobId, modelName, config, task, workDir, logger, env })) ?? task;
    throwIfAborted(signal);

    // --validate-only reports nothing to the backend: it is a dry run.
    const phases = (this.phases = args.validateOnly
      ? undefined
      : new PhaseProgress(
          (p) => this.callbacks.progress(p),
          () => ({ job_id: jobIdForPayload(args.jobId), current_epoch: this.lastEpoch, total_epochs: this.totalEpochs }),
          phaseIntervalMs(env),
        ));
    const staged = await services.stageDataset(args.datasetUri, {
      workDir: join(workDir, 'download'),
      env,
      logger,
      signal,
      ...(phases
        ? { onProgress: (p) => phases.update('staging', { done: p.files, total: p.totalFiles, unit: 'objects', bytesDone: p.bytes, bytesTotal: p.totalBytes }) }
        : {}),
    });
    throwIfAborted(signal);
    phases?.update('converting', { done: 0, total: 1, unit: 'datasets' });
    const dataset = await services.prepareDataset({
      inputDir: staged.dir,
      outputDir: join(workDir, 'dataset'),
      task,
      format: driver.datasetFormat(task),
      splitConfig: config.split_config,
      strict: config.strict_data,
      logger,
    });
    const summary = services.summarizeReport(dataset.report);
    logger.info({ report: summary }, 'dataset ready');
    phases?.update('converting', { done: 1, total: 1, unit: 'datasets' });

    if (args.validateOnly) {
      this.printPlan(modelName, task, config, dataset, summary);
      return ExitCode.OK;
    }
    throwIfAborted(signal);

    const names = this.checkpointNames;
    const store = (this.store = services.createOutputStore({ jobId: args.jobId, env, logger, localDir: args.outputDir }));
    this.uploader = new CheckpointUploader(store, join(workDir, 'upload-staging'), logger);
    await this.record.open(store);
    const { resumeFrom, resumeBest } = await this.findResumeCheckpoints(store, workDir);
    const state = await readRunState(store);

    const tracker = (this.tracker = services.createTracker({ env, logger, defaultExperiment: `trainer-${driver.name}` }));
    const runId = await tracker.start({
      jobId: args.jobId,
      trainer: driver.name,
      trainerVersion: driver.version,
      task,
      modelName: args.modelName,
      existingRunId: state.mlflow_run_id ?? null,
    });
    if (runId && runId !== state.mlflow_run_id) {
      await store.putText(RUN_STATE_FILE, JSON.stringify({ ...state, mlflow_run_id: runId })).catch((err: Error) => logger.warn(`could not save the MLflow run id: ${err.message}`));
    }
    tracker.logParams({ ...config, model_name: args.modelName, dataset_uri: args.datasetUri, dataset: datasetCounts(dataset) });

    const runDir = join(workDir, 'run');
    const result = await driver.train({
      jobId: args.jobId,
      modelName,
      config,
      task,
      dataset,
      workDir,
      runDir,
      resumeFrom,
      ...(resumeBest ? { resumeBest } : {}),
      signal,
      logger,
      onEpochEnd: (event) => this.onEpochEnd(event, interval),
      onCheckpoint: (event) => {
        if (event.kind === 'last') this.lastCheckpoint = { path: event.path, epoch: event.epoch };
        if (event.epoch % config.checkpoint_interval !== 0 && event.epoch !== this.totalEpochs) return;
        if (event.kind === 'last') {
          void this.uploader!.enqueue(names.last, event.path, event.epoch);
        } else if (event.epoch !== this.totalEpochs) {
          // A new best reaches the store while training, after its epoch's `last` (bridges announce them in that
          // order): a crash keeps it, and a restart in a fresh work dir finds it (timm's last.pt then need not
          // carry a copy). The final one goes up with the completion.
          void this.uploader!.enqueue(names.best, event.path, event.epoch);
        }
      },
    });
    return await this.finishSuccess(result, config, task, dataset, workDir);
  }

  /** `best.pt`/`last.pt`, or the names the driver's description gives (Hugging Face's folders travel as archives). */
  private get checkpointNames(): { best: string; last: string } {
    return this.driver.describe?.().checkpoints ?? { best: 'best.pt', last: 'last.pt' };
  }

  private onEpochEnd(event: EpochEndEvent, interval: number): void {
    this.lastEpoch = event.epoch;
    this.totalEpochs = event.totalEpochs;
    this.logger.info(
      { epoch: event.epoch, epochs: event.totalEpochs, metrics: event.metrics, epochTime: event.epochTime, progress: { label: 'training', done: event.epoch, total: event.totalEpochs, unit: 'epochs' } },
      `epoch ${event.epoch}/${event.totalEpochs}`,
    );
    this.tracker?.logMetrics(event.epoch, { ...event.rawMetrics, ...event.metrics, ...(event.lr ?? {}) });
    this.kubeflow?.report({ epoch: event.epoch, totalEpochs: event.totalEpochs, metrics: event.metrics, ...(event.epochTime !== undefined ? { epochSeconds: event.epochTime } : {}) });
    if (event.epoch % interval === 0 || event.epoch >= event.totalEpochs) {
      this.callbacks.progress({
        job_id: jobIdForPayload(this.args.jobId),
        status: 'running',
        current_epoch: event.epoch,
        total_epochs: event.totalEpochs,
        progress_percent: percent(event.epoch, event.totalEpochs),
        metrics: { ...finiteOrNull(event.metrics), extra_metrics: finiteOrNull(event.rawMetrics) },
        epoch_time: event.epochTime,
        timestamp: new Date().toISOString(),
        phase: 'training',
      });
    }
  }

  private async finishSuccess(result: TrainResult, config: C, task: Task, dataset: PreparedDataset, workDir: string): Promise<number> {
    const { logger, driver } = this;
    const store = this.store!;
    const uploader = this.uploader!;
    const tracker = this.tracker!;
    const names = this.checkpointNames;
    const classesPath = join(workDir, 'classes.json');
    const reportPath = join(workDir, 'dataset-report.json');
    const hasLast = Boolean(result.lastCheckpoint && existsSync(result.lastCheckpoint));
    const extraFiles = [classesPath, reportPath, ...result.artifacts.filter((f) => existsSync(f))].filter((f) => /\.(csv|yaml|json)$/.test(f));
    const uploads = { done: 0, total: 1 + (hasLast ? 1 : 0) + extraFiles.length, unit: 'files' };
    const uploaded = () => this.phases?.update('uploading', { ...uploads, done: ++uploads.done });
    this.phases?.update('uploading', uploads);
    await uploader.drain();
    await this.kubeflow?.drain();
    let best: { uri: string };
    try {
      best = await store.upload(result.bestCheckpoint, this.checkpointNames.best);
      uploaded();
    } catch (err) {
      throw new CheckpointUploadError(`${names.best} upload to ${store.uriFor(names.best)} failed: ${(err as Error).message}`, { cause: err });
    }
    if (hasLast) {
      await this.uploadQuietly(result.lastCheckpoint!, this.checkpointNames.last);
      uploaded();
    }
    await writeFile(classesPath, JSON.stringify(dataset.classes, null, 2));
    await writeFile(reportPath, JSON.stringify(dataset.report, null, 2));
    for (const file of [classesPath, reportPath, ...result.artifacts]) {
      if (!existsSync(file)) continue;
      if (/\.(csv|yaml|json)$/.test(file)) {
        await this.uploadQuietly(file, basename(file));
        uploaded();
      }
      tracker.logArtifact(file);
    }
    if (config.mlflow_log_model) tracker.logArtifact(result.bestCheckpoint, 'weights');

    const primaryName = config.primary_metric ?? driver.defaultPrimaryMetric(task);
    const primaryValue = result.finalMetrics[primaryName] ?? result.rawFinalMetrics[primaryName];
    if (primaryValue === undefined) logger.warn({ primaryMetric: primaryName, available: Object.keys(result.finalMetrics) }, `primary metric "${primaryName}" was not reported`);
    tracker.setTags({ best_epoch: String(result.bestEpoch) });
    await tracker.finish('FINISHED');
    await this.callbacks.flush();
    logger.info({ checkpoint: best.uri, bestEpoch: result.bestEpoch, metrics: result.finalMetrics }, 'training complete');
    const payload = {
      job_id: jobIdForPayload(this.args.jobId),
      status: 'completed' as const,
      final_metrics: finiteOrNull(result.finalMetrics),
      checkpoint_path: best.uri,
      mlflow_run_id: tracker.runId,
      primary_metric: primaryName,
      primary_metric_value: primaryValue !== undefined && Number.isFinite(primaryValue) ? primaryValue : null,
      best_epoch: result.bestEpoch,
      timestamp: new Date().toISOString(),
    };
    // The checkpoint is safe in the store before this point, so an undelivered completion never loses the model.
    await this.callbacks.completion(payload);
    return ExitCode.OK;
  }

  private async uploadQuietly(path: string, name: string): Promise<boolean> {
    try {
      await this.store!.upload(path, name);
      return true;
    } catch (err) {
      this.logger.warn({ file: name }, `upload of ${name} failed: ${(err as Error).message}`);
      return false;
    }
  }

  /** `last` from an earlier attempt, and `best` beside it for a driver whose `last` does not carry the best epoch's
   *  weights (timm's, on an epoch that did not improve): others would only download it again for nothing. */
  private async findResumeCheckpoints(store: OutputStore, workDir: string): Promise<{ resumeFrom?: string; resumeBest?: string }> {
    const { last, best } = this.checkpointNames;
    const fetch = async (name: string): Promise<string | undefined> => {
      const dest = join(workDir, 'resume', name);
      try {
        return (await store.download(name, dest)) ? dest : undefined;
      } catch (err) {
        // Training from scratch while S3 is down would lose the earlier attempt's epochs and fail at upload anyway.
        const mapped = mapS3Error(err, store.uriFor(name));
        if (mapped.code === 'DATA_UNAVAILABLE') throw new ConfigError(`S3_BUCKET: ${mapped.message}`, { cause: err });
        throw mapped;
      }
    };
    const resumeFrom = await fetch(last);
    if (!resumeFrom) return {};
    this.logger.info({ from: store.uriFor(last) }, `found ${last} from an earlier attempt: resuming`);
    const resumeBest = this.driver.resumeReadsBest ? await fetch(best) : undefined;
    return resumeBest ? { resumeFrom, resumeBest } : { resumeFrom };
  }

  private printPlan(modelName: string, task: Task, config: C, dataset: PreparedDataset, summary: string): void {
    const plan = {
      job_id: this.args.jobId,
      trainer: this.driver.name,
      model: modelName,
      task,
      dataset: {
        uri: this.args.datasetUri,
        format: dataset.format,
        source: dataset.source,
        root: dataset.root,
        ...(dataset.dataYaml ? { data_yaml: dataset.dataYaml } : {}),
        ...(dataset.coco ? { coco: dataset.coco } : {}),
        ...(dataset.imageFolder ? { image_folder: dataset.imageFolder } : {}),
        classes: dataset.classes.length,
      },
      config,
      report: dataset.report,
    };
    // Logged, not printed to stderr: stderr carries only problem lines, so pipelines can rely on it.
    this.logger.info({ plan, summary }, 'validate-only: config, model and dataset are valid; not training');
  }

  /**
   * Saves what the run produced, then reports the failure within its own budget (`CALLBACK_FAILURE_BUDGET_S`):
   * the MLflow run and the completion callback share it, so a dead backend cannot hold the exit for minutes.
   */
  private async handleFailure(err: TrainerError, budgetMs: number): Promise<number> {
    const { logger, args } = this;
    if (err.code === 'CALLBACK_UNDELIVERED') throw err;
    // A failed job's newest complete checkpoint is still worth having: a retry of the Job resumes from it.
    await this.saveNewestCheckpoint();
    const started = Date.now();
    const deadline = AbortSignal.timeout(budgetMs);
    const completion = this.callbacks
      ? this.callbacks
          .completion(
            {
              job_id: jobIdForPayload(args.jobId),
              status: 'failed',
              final_metrics: {},
              checkpoint_path: null,
              mlflow_run_id: this.tracker?.runId ?? null,
              error: { code: callbackErrorCode(err), message: redact(err.message).slice(0, 4000), retriable: err.retriable, exit_code: err.exitCode },
              timestamp: new Date().toISOString(),
            },
            { signal: deadline },
          )
          .catch((sendErr: Error) => logger.error(`failure could not be reported to the backend: ${sendErr.message}`))
      : Promise.resolve();
    await Promise.all([this.tracker?.finish('FAILED', { tags: { error_code: err.code }, deadlineMs: budgetMs }), completion, untilAborted(this.openRecordLate(err), deadline)]);
    logger.debug({ ms: Date.now() - started, budgetMs }, 'failure reported');
    throw err;
  }

  /**
   * A job that failed before its outputs were set up (S3 down while staging, say) still records its failure next to
   * the checkpoints; a user's mistake writes nothing outside WORK_DIR.
   */
  private async openRecordLate(err: TrainerError): Promise<void> {
    if (this.record.opened || err.isUserError || this.args.validateOnly) return;
    try {
      this.store ??= this.services.createOutputStore({ jobId: this.args.jobId, env: this.env, logger: this.logger, localDir: this.args.outputDir });
      await this.record.open(this.store);
    } catch (openErr) {
      this.logger.warn(`event record: ${(openErr as Error).message}`);
    }
  }

  /** Uploads the newest complete last.pt unless the store already holds that epoch's. */
  private async saveNewestCheckpoint(): Promise<void> {
    const last = this.lastCheckpoint;
    if (!last || !this.store) return;
    await this.uploader?.drain();
    const stored = this.uploader?.uploaded.get(this.checkpointNames.last)?.epoch ?? this.uploadedDirectly;
    if (stored !== undefined && stored >= last.epoch) return;
    if (await this.uploadQuietly(last.path, this.checkpointNames.last)) {
      this.uploadedDirectly = last.epoch;
      this.logger.info({ epoch: last.epoch, uri: this.store.uriFor(this.checkpointNames.last) }, `saved the newest last.pt (epoch ${last.epoch})`);
    }
  }

  private async handleInterrupt(cause: TrainerError): Promise<number> {
    const { logger, args } = this;
    const err = cause.code === 'INTERRUPTED' ? cause : new InterruptedError(`interrupted: ${cause.message}`);
    await this.saveNewestCheckpoint();
    const last = this.lastCheckpoint;
    this.callbacks?.progress({
      job_id: jobIdForPayload(args.jobId),
      status: 'interrupted',
      current_epoch: this.lastEpoch,
      total_epochs: Math.max(1, this.totalEpochs),
      progress_percent: percent(this.lastEpoch, Math.max(1, this.totalEpochs)),
      metrics: { extra_metrics: {} },
      timestamp: new Date().toISOString(),
    });
    await this.callbacks?.flush();
    await this.tracker?.finish('KILLED');
    logger.warn({ epoch: this.lastEpoch, checkpoint: last ? this.store?.uriFor(this.checkpointNames.last) : null }, 'interrupted: state saved, exiting for a restart');
    this.announce(err);
    throw err;
  }
}

const DEFAULT_FAILURE_BUDGET_MS = 30_000;

/** Waits for `work`, or until `signal` fires (the work then goes on unawaited; what it finds later is lost). */
function untilAborted(work: Promise<void>, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return Promise.race([work, new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))]);
}

/**
 * `CALLBACK_FAILURE_BUDGET_S` (default 30): the most time reporting a failure may take in all (the completion
 * callback with its retries, and closing the MLflow run, which run side by side).
 */
function failureBudgetMs(env: NodeJS.ProcessEnv): number {
  const raw = env['CALLBACK_FAILURE_BUDGET_S'];
  if (raw === undefined || raw === '') return DEFAULT_FAILURE_BUDGET_MS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || n > 3600) throw new ConfigError(`CALLBACK_FAILURE_BUDGET_S: expected seconds from 0 to 3600, got "${raw}"`);
  return n * 1000;
}

function anySignal(signals: Array<AbortSignal | undefined>): AbortSignal {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  return present.length === 1 ? present[0]! : AbortSignal.any(present.length ? present : [new AbortController().signal]);
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new InterruptedError('interrupted before training started');
}

function percent(epoch: number, total: number): number {
  return Math.round((epoch / total) * 10000) / 100;
}

function validateCallbackUrl(url: string | undefined): string | undefined {
  if (url === undefined || url.trim() === '') return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError(`--callback-url: "${redact(url)}" is not a valid URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(`--callback-url: expected http:// or https://, got ${parsed.protocol}`);
  return url;
}

/** `CALLBACK_TIMEOUT` (seconds per request) and `CALLBACK_RETRIES` (retries of the completion) tune delivery. */
function callbackTuning(env: NodeJS.ProcessEnv): { timeoutMs?: number; completionRetries?: number; progressRetries?: number } {
  const out: { timeoutMs?: number; completionRetries?: number; progressRetries?: number } = {};
  const timeout = env['CALLBACK_TIMEOUT'];
  if (timeout !== undefined && timeout !== '') {
    const n = Number(timeout);
    if (!Number.isFinite(n) || n <= 0) throw new ConfigError(`CALLBACK_TIMEOUT: expected seconds > 0, got "${timeout}"`);
    out.timeoutMs = n * 1000;
  }
  const retries = env['CALLBACK_RETRIES'];
  if (retries !== undefined && retries !== '') {
    const n = Number(retries);
    if (!Number.isInteger(n) || n < 0 || n > 100) throw new ConfigError(`CALLBACK_RETRIES: expected a whole number from 0 to 100, got "${retries}"`);
    out.completionRetries = n;
    out.progressRetries = Math.min(n, 3);
  }
  return out;
}

function parseCallbackInterval(raw: string | undefined): number {
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(`CALLBACK_INTERVAL: expected a whole number of epochs >= 1, got "${raw}"`);
  return n;
}

function datasetCounts(dataset: PreparedDataset): Record<string, unknown> {
  const r = dataset.report;
  return {
    format: r.format,
    classes: dataset.classes.length,
    images: r.images.used,
    annotations: r.annotations.kept,
    train_images: r.splits.train.images,
    val_images: r.splits.val.images,
    test_images: r.splits.test.images,
    dropped: Object.values(r.dropped).reduce((n, g) => n + g.count, 0),
  };
}

async function readRunState(store: OutputStore): Promise<{ mlflow_run_id?: string }> {
  try {
    const text = await store.getText(RUN_STATE_FILE);
    return text ? (JSON.parse(text) as { mlflow_run_id?: string }) : {};
  } catch {
    return {};
  }
}
