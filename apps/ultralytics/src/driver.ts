import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ModelUnavailableError,
  TrainingFailedError,
  SECRET_ENV_VARS,
  checkPythonModule,
  runPythonBridge,
  type BridgeEvent,
  type PreflightContext,
  type Task,
  type TrainContext,
  type TrainerDriver,
  type TrainResult,
} from '@trainers/trainer-contract';
import { toUltralyticsArgs, ultralyticsConfigSchema, type UltralyticsConfig } from './config.js';
import { canonicalMetrics, checkPrimaryMetric, defaultPrimaryMetric } from './metrics.js';
import { checkModelAvailable, resolveModel, resolveTaskFor } from './model.js';

export const DRIVER_VERSION = '0.1.0';
/** The range requirements.txt pins; others may work but were not tested. */
export const TESTED_ULTRALYTICS = { min: [8, 3, 0], below: [8, 4, 0] } as const;

/** apps/ultralytics, from src/ (tests) or dist/ (the bundle): both sit one level below it. */
const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface UltralyticsDriverOptions {
  appRoot?: string;
  /** Environment for picking the interpreter and for the child (default process.env). */
  env?: NodeJS.ProcessEnv;
  killGraceMs?: number;
}

/** TRAINER_PYTHON, else the app's own venv, else python3 on PATH. */
export function pythonFor(env: NodeJS.ProcessEnv, appRoot = APP_ROOT): string {
  if (env['TRAINER_PYTHON']) return env['TRAINER_PYTHON'];
  const venv = join(appRoot, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

// The Python side needs none of the trainer's credentials, and without them no Ultralytics integration
// (MLflow, W&B, …) can wake up and log elsewhere even if a setting slipped through.
const CHILD_ENV_DROP = /^(AWS_|MLFLOW_|CALLBACK_|S3_|WANDB_|COMET_|NEPTUNE_|CLEARML_|DVC_|HUB_|ULTRALYTICS_API)/;

export function childEnv(env: NodeJS.ProcessEnv, workDir: string): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  const secrets = new Set<string>(SECRET_ENV_VARS);
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || secrets.has(k) || CHILD_ENV_DROP.test(k)) continue;
    out[k] = v;
  }
  // The bridge runs in the run directory, so a relative PYTHONPATH entry would silently stop resolving there.
  if (out['PYTHONPATH']) out['PYTHONPATH'] = out['PYTHONPATH'].split(delimiter).map((p) => (p ? resolve(p) : p)).join(delimiter);
  out['YOLO_CONFIG_DIR'] = join(workDir, 'yolo-config');
  out['YOLO_OFFLINE'] = 'True';
  out['YOLO_AUTOINSTALL'] = 'False';
  // matplotlib (fonts, plots) would otherwise cache under $HOME.
  out['MPLCONFIGDIR'] = join(workDir, 'mpl-config');
  return out;
}

function versionTuple(v: string): number[] {
  return v.split(/[.+-]/).slice(0, 3).map((p) => Number.parseInt(p, 10) || 0);
}
function cmp(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) - (b[i] ?? 0);
  return 0;
}

export function createUltralyticsDriver(options: UltralyticsDriverOptions = {}): TrainerDriver<UltralyticsConfig> {
  const appRoot = options.appRoot ?? APP_ROOT;
  const bridgeScript = join(appRoot, 'python', 'bridge.py');
  const baseEnv = () => options.env ?? process.env;

  return {
    name: 'ultralytics',
    version: DRIVER_VERSION,
    configSchema: ultralyticsConfigSchema as never,

    resolveTask(modelName: string, config: UltralyticsConfig): Task {
      const task = resolveTaskFor(resolveModel(modelName), modelName, config.task as Task | undefined);
      checkPrimaryMetric(task, config.primary_metric);
      return task;
    },

    defaultPrimaryMetric,

    async preflight(ctx: PreflightContext<UltralyticsConfig>): Promise<void> {
      checkModelAvailable(resolveModel(ctx.modelName));
      const env = { ...baseEnv(), ...ctx.env };
      const python = pythonFor(env, appRoot);
      await mkdir(join(ctx.workDir, 'yolo-config'), { recursive: true });
      const check = await checkPythonModule(python, 'ultralytics', childEnv(env, ctx.workDir));
      if (!check.ok) {
        throw new ModelUnavailableError([
          `ultralytics cannot be imported by ${python}: ${check.error ?? 'unknown error'}`,
          `install it with: ${python} -m pip install -r ${join(appRoot, 'requirements.txt')} (or set TRAINER_PYTHON to a Python that has it)`,
        ]);
      }
      const version = check.version ?? '?';
      const tested = check.version && cmp(versionTuple(check.version), TESTED_ULTRALYTICS.min) >= 0 && cmp(versionTuple(check.version), TESTED_ULTRALYTICS.below) < 0;
      if (!tested) ctx.logger.warn({ ultralytics: version }, `ultralytics ${version} is outside the tested range >=8.3.0,<8.4`);
      ctx.logger.info({ python, ultralytics: version }, 'ultralytics is importable');
    },

    async train(ctx: TrainContext<UltralyticsConfig>): Promise<TrainResult> {
      const ref = resolveModel(ctx.modelName);
      const env = { ...baseEnv() };
      const python = pythonFor(env, appRoot);
      const dataset = ctx.dataset;
      const data = ctx.task === 'classify' ? dataset.root : (dataset.dataYaml ?? join(dataset.root, 'data.yaml'));
      const spec = {
        model: ref.ultralytics,
        task: ctx.task,
        data,
        project: dirname(ctx.runDir),
        name: basename(ctx.runDir),
        train_args: toUltralyticsArgs(ctx.config as Record<string, unknown>),
        resume: ctx.resumeFrom ?? null,
        config_dir: join(ctx.workDir, 'yolo-config'),
        snapshot_dir: join(ctx.workDir, 'checkpoint-snapshots'),
      };
      const specPath = join(ctx.workDir, 'ultralytics-job.json');
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
              metrics: canonicalMetrics(ctx.task, e.metrics),
              rawMetrics: e.metrics,
              lr: e.lr,
              ...(e.epoch_time != null ? { epochTime: e.epoch_time } : {}),
            });
            return;
          case 'checkpoint':
            ctx.onCheckpoint({ kind: e.kind, path: e.path, epoch: e.epoch });
            return;
          default:
            return;
        }
      };

      const { trainEnd } = await runPythonBridge({
        python,
        script: bridgeScript,
        args: ['--spec', specPath],
        env: childEnv(env, ctx.workDir),
        cwd: ctx.workDir,
        signal: ctx.signal,
        logger: ctx.logger,
        onEvent,
        ...(options.killGraceMs !== undefined ? { killGraceMs: options.killGraceMs } : {}),
      });

      const saveDir = trainEnd.save_dir;
      const bestCheckpoint = trainEnd.best ?? join(saveDir, 'weights', 'best.pt');
      if (!existsSync(bestCheckpoint)) throw new TrainingFailedError(`training finished without a best.pt in ${saveDir}/weights`);
      const lastCheckpoint = trainEnd.last ?? join(saveDir, 'weights', 'last.pt');
      return {
        bestEpoch: trainEnd.best_epoch,
        finalMetrics: canonicalMetrics(ctx.task, trainEnd.final_metrics),
        rawFinalMetrics: trainEnd.final_metrics,
        bestCheckpoint,
        ...(existsSync(lastCheckpoint) ? { lastCheckpoint } : {}),
        artifacts: runArtifacts(saveDir),
        saveDir,
      };
    },
  };
}

/** results.csv, args.yaml and the plots Ultralytics wrote. */
function runArtifacts(saveDir: string): string[] {
  if (!existsSync(saveDir)) return [];
  return readdirSync(saveDir)
    .filter((f) => /\.(csv|yaml|png|jpg)$/i.test(f))
    .sort()
    .map((f) => join(saveDir, f));
}
