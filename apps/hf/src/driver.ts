import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPythonBridgeDriver, type PythonBridgeDriver, type Task } from '@trainers/trainer-contract';
import { toHfArgs, hfConfigSchema, type HfConfig } from './config.js';
import { canonicalMetricNames, canonicalMetrics, DEFAULT_PRIMARY_METRIC, SUPPORTED_TASKS, type SupportedTask } from './metrics.js';
import { checkModelAvailable, resolveModel } from './model.js';

/*
 * The framework's seams on the TypeScript side, handed to createPythonBridgeDriver. It does the rest once for every
 * trainer: the interpreter (TRAINER_PYTHON, else the managed venv built from requirements.txt, else python3), the
 * child's environment (no credentials, caches in WORK_DIR, the bridge runtime on PYTHONPATH), the preflight import
 * check, the spec file, the events, SIGTERM, the result, and `--describe`. The lifecycle (runTrainerCli) does uploads,
 * callbacks, MLflow, resume and exit codes. The lifecycle calls, in order:
 *   resolveTask  → config and model name only, so bad input fails in milliseconds (exit 3);
 *   preflight    → before the dataset download: a local model exists, then Python imports the framework;
 *   train        → with the dataset converted to datasetFormat(task); runs python/bridge.py with buildSpec's spec.
 */

export const DRIVER_VERSION = '0.1.0';

/** apps/hf, from src/ (tests) or dist/ (the bundle): both sit one level below it. */
const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export interface HfDriverOptions {
  appRoot?: string;
  /** Environment for picking the interpreter and for the child (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** How long a stopping child gets after SIGTERM before SIGKILL. */
  killGraceMs?: number;
}

export function createHfDriver(options: HfDriverOptions = {}): PythonBridgeDriver<HfConfig> {
  return createPythonBridgeDriver<HfConfig>({
    ...options,
    name: 'hf',
    version: DRIVER_VERSION,
    // The Python import name preflight checks, the range requirements.txt allows, and its pin. STAND-IN: the loop in
    // python/bridge.py needs only the standard library, so `json` stands in; name the framework ('timm', 'transformers').
    framework: { name: 'hf', module: 'json', testedRange: '>=2.0,<3', pinned: '2.0.9' },
    appRoot: options.appRoot ?? APP_ROOT,
    // defineConfig's schema has defaults, so its input and output types differ; the lifecycle only parses with it.
    configSchema: hfConfigSchema as never,
    tasks: SUPPORTED_TASKS,
    // A framework whose model names imply a task (yolo11n-seg) derives it here and checks config.task against it.
    resolveTask: (modelName, config) => {
      resolveModel(modelName);
      return (config.task as Task | undefined) ?? 'classify';
    },
    // The layout the framework reads: 'yolo' (data.yaml), 'coco' (one COCO JSON per split, absolute image paths) or
    // 'imagefolder' ({train,val}/<class>/). The converter writes it from DICEFormat or a native dataset.
    datasetFormat: (task) => (task === 'classify' ? 'imagefolder' : 'yolo'),
    canonicalMetrics: (_task, raw) => canonicalMetrics(raw),
    metricNames: (task) => canonicalMetricNames(task as SupportedTask),
    defaultPrimaryMetric: (task) => DEFAULT_PRIMARY_METRIC[task as SupportedTask],
    preflight: (ctx) => checkModelAvailable(resolveModel(ctx.modelName)),
    // The framework's part of python/bridge.py's spec; the common part (task, run_dir, resume, dataset) is added.
    buildSpec: (ctx) => ({ model: resolveModel(ctx.modelName).value, train_args: toHfArgs(ctx.config) }),
    // Also: childEnv (the framework's own offline switches and config dirs), checkpoints (file names other than
    // best.pt/last.pt), collectResult (more artifacts). See PythonBridgeDriverOptions.
  });
}
