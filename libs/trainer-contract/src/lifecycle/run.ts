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
import { CheckpointUploader } from './uploads.js';

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

  const fail = (err: TrainerError, logger?: Logger): number => {
    const lines = err.problems.map((l) => `${scriptName}: ${redact(l)}`);
    stderr.write(lines.join('\n') + '\n');
    if (!err.isUserError && logger) {
      const stack = err.cause instanceof Error ? err.cause.stack : err.stack;
      logger.error({ code: err.code, detail: err.detail ? redact(err.detail) : undefined, stack: err.code === 'INTERNAL' ? stack : undefined }, redact(err.message));
    }
    writeTerminationLog(env, { code: err.code, message: redact(err.message), exit_code: err.exitCode });
    return err.exitCode;
  };

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
  const job = new Job(driver, args, env, logger, services, { ...io, stdout, stderr });
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

  constructor(
    private readonly driver: TrainerDriver<C>,
    private readonly args: TrainerArgs,
    private readonly env: NodeJS.ProcessEnv,
    private readonly logger: Logger,
    private readonly services: LifecycleServices,
    private readonly io: RunIo,
  ) {}

  async run(): Promise<number> {
    const { args, env, logger } = this;
    const signals = this.io.handleSignals === false ? undefined : abortOnSignals((sig) => logger.warn({ signal: sig }, `received ${sig}: stopping at the next safe point`));
    const signal = anySignal([signals?.signal, this.io.signal]);
    try {
      if (!JOB_ID.test(args.jobId)) {
        throw new ConfigError(`--job-id: "${args.jobId}" must be 1-128 characters of letters, digits, '.', '_' or '-', starting with a letter or digit`);
      }
      this.callbacks = createCallbackClient({
        baseUrl: validateCallbackUrl(args.callbackUrl),
        jobId: args.jobId,
        token: env['CALLBACK_TOKEN'] || undefined,
        secret: env['CALLBACK_SECRET'] || undefined,
        logger,
        ...callbackTuning(env),
      });
      return await this.execute(signal);
    } catch (err) {
      return await this.handleFailure(toTrainerError(err), signal);
    } finally {
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

    const staged = await services.stageDataset(args.datasetUri, { workDir: join(workDir, 'download'), env, logger, signal });
    throwIfAborted(signal);
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

    if (args.validateOnly) {
      this.printPlan(modelName, task, config, dataset, summary);
      return ExitCode.OK;
    }
    throwIfAborted(signal);

    const names = this.checkpointNames;
    const store = (this.store = services.createOutputStore({ jobId: args.jobId, env, logger, localDir: args.outputDir }));
    this.uploader = new CheckpointUploader(store, join(workDir, 'upload-staging'), logger);
    const resumeFrom = await this.findResumeCheckpoint(store, workDir);
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
      signal,
      logger,
      onEpochEnd: (event) => this.onEpochEnd(event, interval),
      onCheckpoint: (event) => {
        if (event.kind !== 'last') return;
        this.lastCheckpoint = { path: event.path, epoch: event.epoch };
        if (event.epoch % config.checkpoint_interval === 0 || event.epoch === this.totalEpochs) {
          void this.uploader!.enqueue(names.last, event.path, event.epoch);
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
      });
    }
  }

  private async finishSuccess(result: TrainResult, config: C, task: Task, dataset: PreparedDataset, workDir: string): Promise<number> {
    const { logger, driver } = this;
    const store = this.store!;
    const uploader = this.uploader!;
    const tracker = this.tracker!;
    const names = this.checkpointNames;
    await uploader.drain();
    let best: { uri: string };
    try {
      best = await store.upload(result.bestCheckpoint, names.best);
    } catch (err) {
      throw new CheckpointUploadError(`${names.best} upload to ${store.uriFor(names.best)} failed: ${(err as Error).message}`, { cause: err });
    }
    if (result.lastCheckpoint && existsSync(result.lastCheckpoint)) await this.uploadQuietly(result.lastCheckpoint, names.last);
    const classesPath = join(workDir, 'classes.json');
    await writeFile(classesPath, JSON.stringify(dataset.classes, null, 2));
    const reportPath = join(workDir, 'dataset-report.json');
    await writeFile(reportPath, JSON.stringify(dataset.report, null, 2));
    for (const file of [classesPath, reportPath, ...result.artifacts]) {
      if (!existsSync(file)) continue;
      if (/\.(csv|yaml|json)$/.test(file)) await this.uploadQuietly(file, basename(file));
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

  private async uploadQuietly(path: string, name: string): Promise<void> {
    try {
      await this.store!.upload(path, name);
    } catch (err) {
      this.logger.warn({ file: name }, `upload of ${name} failed: ${(err as Error).message}`);
    }
  }

  private async findResumeCheckpoint(store: OutputStore, workDir: string): Promise<string | undefined> {
    const { last } = this.checkpointNames;
    const dest = join(workDir, 'resume', last);
    try {
      if (await store.download(last, dest)) {
        this.logger.info({ from: store.uriFor(last) }, `found ${last} from an earlier attempt: resuming`);
        return dest;
      }
    } catch (err) {
      this.logger.warn(`could not check for an earlier ${last}: ${(err as Error).message}`);
    }
    return undefined;
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

  private async handleFailure(err: TrainerError, signal: AbortSignal): Promise<number> {
    const { logger, args } = this;
    if (err.code === 'INTERRUPTED' || (signal.aborted && !(err.code === 'CONFIG_INVALID' || err.code === 'DATA_INVALID'))) {
      return this.handleInterrupt(err);
    }
    if (err.code === 'CALLBACK_UNDELIVERED') {
      logger.error({ code: err.code }, redact(err.message));
      throw err;
    }
    // Keep whatever the run produced: a failed job's last complete checkpoint is still worth having.
    if (this.lastCheckpoint && this.store) {
      await this.uploader?.drain();
      const { last } = this.checkpointNames;
      if (!this.uploader?.uploaded.has(last)) await this.uploadQuietly(this.lastCheckpoint.path, last);
    }
    await this.tracker?.finish('FAILED', { tags: { error_code: err.code } });
    if (this.callbacks) {
      try {
        await this.callbacks.completion({
          job_id: jobIdForPayload(args.jobId),
          status: 'failed',
          final_metrics: {},
          checkpoint_path: null,
          mlflow_run_id: this.tracker?.runId ?? null,
          error: { code: callbackErrorCode(err), message: redact(err.message).slice(0, 4000) },
          timestamp: new Date().toISOString(),
        });
      } catch (sendErr) {
        logger.error(`failure could not be reported to the backend: ${(sendErr as Error).message}`);
      }
    }
    throw err;
  }

  private async handleInterrupt(cause: TrainerError): Promise<number> {
    const { logger, args } = this;
    const err = cause.code === 'INTERRUPTED' ? cause : new InterruptedError(`interrupted: ${cause.message}`);
    await this.uploader?.drain();
    const last = this.lastCheckpoint;
    const names = this.checkpointNames;
    if (last && this.store && this.uploader?.uploaded.get(names.last)?.epoch !== last.epoch) {
      await this.uploadQuietly(last.path, names.last);
    }
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
    logger.warn({ epoch: this.lastEpoch, checkpoint: last ? this.store?.uriFor(names.last) : null }, 'interrupted: state saved, exiting for a restart');
    throw err;
  }
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
