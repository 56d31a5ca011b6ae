import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import semver from 'semver';
import type { z } from 'zod';
import type { DatasetFormat, Task } from '../domain/index.js';
import { ConfigError, ModelUnavailableError, TrainingFailedError } from '../errors/index.js';
import type { CommonConfig } from '../config/index.js';
import type { PreparedDataset } from '../convert/index.js';
import type { DriverDescription, PreflightContext, TrainContext, TrainerDriver, TrainResult } from '../lifecycle/types.js';
import { checkInOwnBridge, checkPythonModule, type CheckAnswer } from './check.js';
import { bridgeChildEnv } from './child-env.js';
import type { BridgeEvent, TrainEndBridgeEvent } from './events.js';
import { pythonFor } from './python-env.js';
import { runPythonBridge } from './run.js';
import { bridgeRuntimeDir, bridgeScriptPath } from './runtime-dir.js';
import { torchrunPlan } from './torchrun.js';
import { startWarmBridge, type WarmBridge } from './warm.js';

export interface PythonFramework {
  /** As `--describe` names it (default: the module). */
  name?: string;
  /** The import name preflight checks, so a broken image fails before any download. */
  module: string;
  /** The versions the app was tested with, as pip writes them: `>=8.4.0,<8.5`. Others run, with a warning. */
  testedRange: string;
  /** The version requirements.txt pins. */
  pinned?: string;
  /**
   * More modules the bridge imports ahead of its spec, while the dataset is staged (`torch` when `module` imports
   * lazily). None may start a GPU: the bridge picks its devices after it reads the spec.
   */
  preload?: readonly string[];
}

/** What an app supplies: only what is its framework's. Everything about the Python child is the factory's. */
export interface PythonBridgeDriverOptions<C extends CommonConfig> {
  name: string;
  version: string;
  framework: PythonFramework;
  /** The app's folder: requirements.txt, python/bridge.py, dist/. */
  appRoot: string;
  /** Relative to appRoot (default `python/bridge.py`); a bundle runs the copy in `dist/python/`. */
  bridgeFile?: string;
  configSchema: z.ZodType<C>;
  tasks: readonly Task[];
  /** The task from the model name and config; the factory then checks it is in `tasks` and `primary_metric` fits. */
  resolveTask(modelName: string, config: C): Task;
  datasetFormat: DatasetFormat | ((task: Task) => DatasetFormat);
  /** The framework's raw metric keys → the contract's canonical keys (CONTRACT §4). */
  canonicalMetrics(task: Task, raw: Record<string, number>): Record<string, number>;
  /** Every canonical key a task reports (for `primary_metric` and `--describe`). */
  metricNames(task: Task): readonly string[];
  defaultPrimaryMetric(task: Task): string;
  /**
   * Whether the bridge trains under torchrun (default true): one that cannot has a run that asks for more than one
   * process refused in preflight, instead of several ranks each training alone into one work dir.
   */
  distributed?: boolean;
  /** The bridge reads the store's best on resume (the spec's `resume_best`); only then is it downloaded. */
  resumeReadsBest?: boolean;
  /** Checkpoint file names in the run's `weights/` and in `checkpoints/<job_id>/` (default best.pt, last.pt). */
  checkpoints?: { best: string; last: string };
  /** The framework's part of the bridge's spec; merged over the common part (task, run_dir, resume, dataset, …). */
  buildSpec(ctx: TrainContext<C>): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Variables the framework needs on top of the common child environment (offline switches, config dirs). */
  childEnv?(env: NodeJS.ProcessEnv, workDir: string): NodeJS.ProcessEnv;
  /**
   * Checks before training; may give the task the model implies. What needs no Python (a local model file exists,
   * …) it checks synchronously and throws, so the job fails before any Python starts. A probe of its own it
   * returns as a promise: it runs `ctx.python` in `ctx.childEnv` (its caches land in the work dir like the child's),
   * side by side with the import check, which starts when this returns (so make what that import needs first).
   */
  preflight?(ctx: FrameworkPreflightContext<C>): void | Task | Promise<void | Task>;
  /** Adjusts the assembled result (more artifacts, another checkpoint path). */
  collectResult?(result: TrainResult, trainEnd: TrainEndBridgeEvent, ctx: TrainContext<C>): TrainResult | Promise<TrainResult>;
  /** Environment for choosing the interpreter and for the child (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long a stopping child gets after SIGTERM before SIGKILL (default 30 s). */
  killGraceMs?: number;
}

interface FrameworkPreflightContext<C extends CommonConfig> extends PreflightContext<C> {
  /** The interpreter the child will run. */
  python: string;
  /** The child's environment for this work dir (no secrets, caches inside the work dir). */
  childEnv: NodeJS.ProcessEnv;
  /**
   * Asks the bridge's `check` (python: `run(train, check=…)`) with these arguments: in the bridge that is importing
   * the framework for training, so a question only the framework can answer costs no second import; in a bridge
   * of its own under torchrun. `error` when it cannot answer (the framework does not import: preflight says so).
   */
  check(args: readonly string[]): Promise<CheckAnswer>;
}

/** What an app's create…Driver(options) passes through, so tests can point it at another root, env or grace period. */
export type PythonBridgeDriverSettings = Partial<Pick<PythonBridgeDriverOptions<CommonConfig>, 'appRoot' | 'env' | 'killGraceMs'>>;

export interface PythonBridgeDriver<C extends CommonConfig> extends TrainerDriver<C> {
  describe(): DriverDescription;
  /** The interpreter this driver runs (seam 5), for tests and tools. */
  python(env?: NodeJS.ProcessEnv): string;
  /** The child's environment for a work dir. */
  childEnv(env: NodeJS.ProcessEnv, workDir: string): NodeJS.ProcessEnv;
}

const DEFAULT_CHECKPOINTS = { best: 'best.pt', last: 'last.pt' };
const ARTIFACTS = /\.(csv|ya?ml|json|png|jpe?g)$/i;

/** A TrainerDriver whose training runs in `python <bridge.py> --spec <file>` on the shared bridge runtime (CONTRACT §8). */
export function createPythonBridgeDriver<C extends CommonConfig>(o: PythonBridgeDriverOptions<C>): PythonBridgeDriver<C> {
  const requirements = join(o.appRoot, 'requirements.txt');
  const runtimeDir = bridgeRuntimeDir();
  const script = bridgeScriptPath(o.appRoot, o.bridgeFile ?? join('python', 'bridge.py'));
  const checkpoints = o.checkpoints ?? DEFAULT_CHECKPOINTS;
  const formatFor = (task: Task) => (typeof o.datasetFormat === 'function' ? o.datasetFormat(task) : o.datasetFormat);
  const baseEnv = () => o.env ?? process.env;
  const python = (env: NodeJS.ProcessEnv = baseEnv()) => pythonFor(env, requirements);
  const childEnv = (env: NodeJS.ProcessEnv, workDir: string) => ({ ...bridgeChildEnv(env, workDir, runtimeDir), ...o.childEnv?.(env, workDir) });
  const { module } = o.framework;
  const specPathFor = (workDir: string) => join(workDir, `${o.name}-job.json`);
  // Bridges started by preflight, waiting for their job's train() (one per work dir).
  const warmChildren = new Map<string, WarmBridge>();
  const checkTask = (task: Task, config: C): Task => {
    if (!o.tasks.includes(task)) {
      throw new ConfigError(`config.task: "${task}" is not supported by trainer-${o.name}; use one of ${o.tasks.join(', ')}`);
    }
    const names = o.metricNames(task);
    if (config.primary_metric !== undefined && !names.includes(config.primary_metric)) {
      throw new ConfigError(`config.primary_metric: "${config.primary_metric}" is not reported for ${task}; choose one of ${names.join(', ')}`);
    }
    return task;
  };

  return {
    name: o.name,
    version: o.version,
    configSchema: o.configSchema,
    ...(o.resumeReadsBest ? { resumeReadsBest: true } : {}),
    python,
    childEnv,
    datasetFormat: formatFor,
    defaultPrimaryMetric: (task) => o.defaultPrimaryMetric(task),

    resolveTask: (modelName, config) => checkTask(o.resolveTask(modelName, config), config),

    async preflight(ctx) {
      const env = { ...baseEnv(), ...ctx.env };
      const plan = o.distributed === false ? torchrunPlan(ctx.config, env) : undefined;
      if (plan) throw new ConfigError(`${plan.reason}: trainer-${o.name} trains in one process; drop nproc_per_node, list one device, or run it outside torchrun`);
      const interpreter = python(env);
      const probeEnv = childEnv(env, ctx.workDir);
      // The import check is the bridge itself, started with --preload: it imports the framework while the dataset
      // is staged, and trains in the same process (under torchrun every worker imports for itself).
      warmChildren.get(ctx.workDir)?.dispose();
      let warm: WarmBridge | undefined;
      const startWarm = () => {
        if (warm || torchrunPlan(ctx.config, env)) return warm;
        mkdirSync(ctx.workDir, { recursive: true });
        warm = startWarmBridge({ python: interpreter, script, specPath: specPathFor(ctx.workDir), modules: [module, ...(o.framework.preload ?? [])], env: probeEnv, cwd: ctx.workDir, ...(o.killGraceMs !== undefined ? { killGraceMs: o.killGraceMs } : {}) });
        return warm;
      };
      // A check the app asks goes to that bridge, which then starts at once.
      const askBridge = (args: readonly string[]) => {
        const bridge = startWarm();
        return bridge ? bridge.check(args) : checkInOwnBridge(interpreter, script, args, probeEnv, ctx.workDir);
      };
      let probing: ReturnType<NonNullable<typeof o.preflight>>;
      try {
        probing = o.preflight?.({ ...ctx, python: interpreter, childEnv: probeEnv, check: askBridge });
      } catch (e) {
        // What the app checks without Python throws here, before any Python starts.
        (warm as WarmBridge | undefined)?.dispose();
        throw e;
      }
      startWarm();
      // The app's probe and the import each start a Python (seconds each): side by side, a job starts sooner.
      // A failed import explains a failed probe, so it is said first.
      const [probed, check] = await Promise.all([
        Promise.resolve(probing).then(
          (task) => ({ task }),
          (error: unknown) => ({ error }),
        ),
        warm ? warm.ready : checkPythonModule(interpreter, module, probeEnv),
      ]);
      if (warm && (!check.ok || 'error' in probed)) warm.dispose();
      else if (warm) warmChildren.set(ctx.workDir, warm);
      if (!check.ok) {
        throw new ModelUnavailableError([
          `${module} cannot be imported by ${interpreter}: ${check.error ?? 'unknown error'}`,
          `install it with: ${interpreter} -m pip install -r ${requirements} (or set TRAINER_PYTHON to a Python that has it)`,
        ]);
      }
      const version = check.version ?? '?';
      if (!inRange(check.version, o.framework.testedRange)) {
        ctx.logger.warn({ [module]: version }, `${module} ${version} is outside the tested range ${o.framework.testedRange}`);
      }
      ctx.logger.info({ python: interpreter, [module]: version }, `${module} is importable`);
      if ('error' in probed) throw probed.error;
      return probed.task ? checkTask(probed.task, ctx.config) : undefined;
    },

    async train(ctx) {
      const env = baseEnv();
      // One JSON file, not argv: no quoting problems, and nothing in `ps`.
      const spec = {
        task: ctx.task,
        work_dir: ctx.workDir,
        run_dir: ctx.runDir,
        resume: ctx.resumeFrom ?? null,
        resume_best: ctx.resumeBest ?? null,
        // The epochs whose checkpoints reach the store while training: a bridge whose `last` leans on the store's
        // `best` must know whether the store has every best epoch's.
        checkpoint_interval: ctx.config.checkpoint_interval,
        snapshot_dir: join(ctx.workDir, 'checkpoint-snapshots'),
        dataset: datasetSpec(ctx.dataset),
        ...(await o.buildSpec(ctx)),
      };
      const specPath = specPathFor(ctx.workDir);
      await mkdir(ctx.workDir, { recursive: true });
      await writeFile(specPath, JSON.stringify(spec, null, 2));

      let totalEpochs = ctx.config.epochs;
      const onEvent = (e: BridgeEvent) => {
        switch (e.event) {
          case 'train_start':
            totalEpochs = e.epochs;
            ctx.logger.info({ epochs: e.epochs, startEpoch: e.start_epoch, saveDir: e.save_dir }, e.start_epoch > 0 ? `resuming at epoch ${e.start_epoch + 1}` : 'training started');
            return;
          case 'epoch_end':
            if (e.epochs) totalEpochs = e.epochs;
            ctx.onEpochEnd({
              epoch: e.epoch,
              totalEpochs,
              metrics: o.canonicalMetrics(ctx.task, e.metrics),
              rawMetrics: e.metrics,
              lr: e.lr,
              ...(e.epoch_time != null ? { epochTime: e.epoch_time } : {}),
            });
            return;
          case 'checkpoint':
            ctx.onCheckpoint({ kind: e.kind, path: e.path, epoch: e.epoch });
            return;
          case 'heartbeat':
            ctx.logger.debug({ step: e.step }, 'heartbeat');
            return;
          default:
            return;
        }
      };
      const plan = torchrunPlan(ctx.config, env);
      if (plan) ctx.logger.info({ nprocPerNode: plan.nprocPerNode }, `launching torchrun: ${plan.reason}`);
      const runEnv = childEnv(env, ctx.workDir);
      const interpreter = python(env);
      const preloaded = warmChildren.get(ctx.workDir);
      warmChildren.delete(ctx.workDir);
      const warm = preloaded && !plan && preloaded.fits(interpreter, runEnv) ? preloaded : undefined;
      if (preloaded && !warm) preloaded.dispose();
      let trainEnd: TrainEndBridgeEvent;
      try {
        ({ trainEnd } = await runPythonBridge({
          ...(plan ? { torchrun: plan.args, eventsPath: join(ctx.workDir, 'bridge-events.jsonl') } : {}),
          ...(warm ? { warm } : {}),
          python: interpreter,
          script,
          args: ['--spec', specPath],
          env: runEnv,
          cwd: ctx.workDir,
          signal: ctx.signal,
          logger: ctx.logger,
          onEvent,
          ...(o.killGraceMs !== undefined ? { killGraceMs: o.killGraceMs } : {}),
          stallTimeoutMs: ctx.config.stall_timeout_s * 1000,
        }));
      } finally {
        // A run that ended before adopting it (aborted first) leaves the child waiting; after a run, a no-op.
        warm?.dispose();
      }
      const result = assembleResult(trainEnd, checkpoints, (raw) => o.canonicalMetrics(ctx.task, raw));
      return o.collectResult ? o.collectResult(result, trainEnd, ctx) : result;
    },

    describe: () => ({
      framework: { name: o.framework.name ?? module, module, tested_range: o.framework.testedRange, pinned: o.framework.pinned ?? null },
      tasks: [...o.tasks],
      dataset_formats: Object.fromEntries(o.tasks.map((t) => [t, formatFor(t)])),
      metrics: Object.fromEntries(o.tasks.map((t) => [t, [...o.metricNames(t)]])),
      default_primary_metric: Object.fromEntries(o.tasks.map((t) => [t, o.defaultPrimaryMetric(t)])),
      checkpoints: { ...checkpoints },
    }),
  };
}

/** The converted dataset as the bridge reads it: only the paths of the layout the driver asked for are set. */
function datasetSpec(d: PreparedDataset): Record<string, unknown> {
  return {
    format: d.format,
    root: d.root,
    data_yaml: d.dataYaml ?? null,
    coco: d.coco ?? null,
    image_folder: d.imageFolder ?? null,
    classes: d.classes.map((c) => c.name),
  };
}

function assembleResult(trainEnd: TrainEndBridgeEvent, names: { best: string; last: string }, canonical: (raw: Record<string, number>) => Record<string, number>): TrainResult {
  const saveDir = trainEnd.save_dir;
  const bestCheckpoint = trainEnd.best ?? join(saveDir, 'weights', names.best);
  if (!existsSync(bestCheckpoint)) throw new TrainingFailedError(`training finished without a ${names.best} in ${saveDir}/weights`);
  const lastCheckpoint = trainEnd.last ?? join(saveDir, 'weights', names.last);
  return {
    bestEpoch: trainEnd.best_epoch,
    finalMetrics: canonical(trainEnd.final_metrics),
    rawFinalMetrics: trainEnd.final_metrics,
    bestCheckpoint,
    ...(existsSync(lastCheckpoint) ? { lastCheckpoint } : {}),
    artifacts: existsSync(saveDir) ? readdirSync(saveDir).filter((f) => ARTIFACTS.test(f)).sort().map((f) => join(saveDir, f)) : [],
    saveDir,
  };
}

/** pip's `>=8.4.0,<8.5` read as a semver range; a version semver cannot read is outside. */
function inRange(version: string | undefined, range: string): boolean {
  const v = version ? semver.coerce(version) : null;
  return v !== null && semver.satisfies(v, range.replace(/,/g, ' '));
}
