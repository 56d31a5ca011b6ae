import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPythonBridgeDriver, DataError, type PythonBridgeDriver, type PythonBridgeDriverSettings, type Task, type TrainContext } from '@trainers/trainer-contract';
import { toTimmArgs, timmConfigSchema, type TimmConfig } from './config.js';
import { canonicalMetricNames, canonicalMetrics, DEFAULT_PRIMARY_METRIC, SUPPORTED_TASKS, type SupportedTask } from './metrics.js';
import { checkModelFile, checkTimmName, resolveModel } from './model.js';

const DRIVER_VERSION = '0.1.0';

/** apps/timm, from src/ (tests) or dist/ (the bundle): both sit one level below it. */
const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The range requirements.txt pins; others may work but were not tested. */
const TESTED_TIMM = { range: '>=1.0.29,<1.1', pinned: '1.0.29' } as const;

/**
 * A classifier needs two classes, and an ImageFolder class folder with no image is a mistake (timm would silently
 * renumber the classes around it). Raised before the child starts, as a data error (exit 3).
 */
function checkClassifyDataset(dataset: TrainContext['dataset']): void {
  const classes = dataset.classes;
  if (classes.length < 2) {
    throw new DataError(`dataset: ${classes.length} class${classes.length === 1 ? ` ("${classes[0]!.name}")` : 'es'}; classification needs at least 2`);
  }
  const counts = dataset.report.classes ?? [];
  if (dataset.source === 'imagefolder') {
    const empty = counts.filter((c) => c.train + c.val + c.test === 0).map((c) => c.name);
    if (empty.length) throw new DataError(`dataset: class folder ${empty.map((n) => `train/${n}`).join(', ')} has no images`);
  }
}

export function createTimmDriver(options: PythonBridgeDriverSettings = {}): PythonBridgeDriver<TimmConfig> {
  const appRoot = options.appRoot ?? APP_ROOT;
  return createPythonBridgeDriver<TimmConfig>({
    ...options,
    appRoot,
    name: 'timm',
    version: DRIVER_VERSION,
    framework: { name: 'timm', module: 'timm', testedRange: TESTED_TIMM.range, pinned: TESTED_TIMM.pinned },
    // last.pt names the best epoch's weights in the store's best.pt instead of carrying a copy (python/bridge.py).
    resumeReadsBest: true,
    configSchema: timmConfigSchema as never,
    tasks: SUPPORTED_TASKS,
    resolveTask: (modelName, config) => {
      resolveModel(modelName);
      toTimmArgs(config);
      return (config.task as Task | undefined) ?? 'classify';
    },
    datasetFormat: 'imagefolder',
    canonicalMetrics: (_task, raw) => canonicalMetrics(raw),
    metricNames: (task) => canonicalMetricNames(task as SupportedTask),
    defaultPrimaryMetric: (task) => DEFAULT_PRIMARY_METRIC[task as SupportedTask],
    preflight(ctx) {
      const ref = resolveModel(ctx.modelName);
      checkModelFile(ref);
      return ref.kind === 'name' ? checkTimmName(ref.value, ctx.check) : undefined;
    },
    buildSpec: (ctx) => {
      checkClassifyDataset(ctx.dataset);
      return {
        model: resolveModel(ctx.modelName).value,
        train_args: toTimmArgs(ctx.config),
        primary_metric: ctx.config.primary_metric ?? DEFAULT_PRIMARY_METRIC.classify,
        classes: ctx.dataset.classes,
      };
    },
  });
}
