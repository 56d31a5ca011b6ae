import { statSync } from 'node:fs';
import { join } from 'node:path';
import { appRootOf, bridgeScriptPath, createPythonBridgeDriver, DataError, ModelUnavailableError, type PythonBridgeDriver, type PythonBridgeDriverSettings, type Task } from '@trainers/trainer-contract';
import { hfConfigSchema, toTrainingArguments, type HfConfig } from './config.js';
import { inspectModel, taskFor } from './hub-check.js';
import { bestMetricFor, canonicalMetricNames, canonicalMetrics, DEFAULT_PRIMARY_METRIC, SUPPORTED_TASKS, type SupportedTask } from './metrics.js';
import { bridgeModel, modelFolder, resolveModel, taskFromLocalConfig } from './model.js';

const DRIVER_VERSION = '0.1.0';
const APP_ROOT = appRootOf(import.meta.url);
/** The range requirements.txt pins; others may work but were not tested. */
const TESTED_TRANSFORMERS = { range: '>=5.17.0,<5.19', pinned: '5.18.0' } as const;
/** Hugging Face checkpoints are folders: each travels as one archive (CONTRACT §6). */
const CHECKPOINTS = { best: 'best.tar', last: 'last.tar' } as const;

/** Without config.task or a local config.json to read, a task that fits primary_metric stands until preflight knows. */
function provisionalTask(config: HfConfig): SupportedTask {
  const primary = config.primary_metric;
  if (primary && !canonicalMetricNames('classify').includes(primary)) return 'detect';
  return 'classify';
}

export function createHfDriver(options: PythonBridgeDriverSettings = {}): PythonBridgeDriver<HfConfig> {
  const appRoot = options.appRoot ?? APP_ROOT;
  const helper = bridgeScriptPath(appRoot, join('python', 'hub_check.py'));
  const driver: PythonBridgeDriver<HfConfig> = createPythonBridgeDriver<HfConfig>({
    ...options,
    appRoot,
    name: 'hf',
    version: DRIVER_VERSION,
    // `import transformers` is lazy: torch and the Trainer are most of the import the bridge can do ahead. Neither
    // starts CUDA at import (checked with transformers 5.18: no torch.cuda call), so the bridge still picks the GPUs.
    framework: { name: 'transformers', module: 'transformers', testedRange: TESTED_TRANSFORMERS.range, pinned: TESTED_TRANSFORMERS.pinned, preload: ['torch', 'transformers.trainer'] },
    configSchema: hfConfigSchema as never,
    tasks: SUPPORTED_TASKS,
    resolveTask: (modelName, config) => {
      const ref = resolveModel(modelName);
      return (config.task as Task | undefined) ?? taskFromLocalConfig(ref) ?? provisionalTask(config);
    },
    datasetFormat: (task) => (task === 'classify' ? 'imagefolder' : 'coco'),
    canonicalMetrics: (_task, raw) => canonicalMetrics(raw),
    metricNames: (task) => canonicalMetricNames(task as SupportedTask),
    defaultPrimaryMetric: (task) => DEFAULT_PRIMARY_METRIC[task as SupportedTask],
    checkpoints: { ...CHECKPOINTS },
    childEnv: (env) => ({
      // HF_TOKEN is kept from logs (a secret), but the child needs it for gated and private models.
      ...(env['HF_TOKEN'] ? { HF_TOKEN: env['HF_TOKEN'] } : {}),
      HF_HUB_DISABLE_TELEMETRY: '1',
      TOKENIZERS_PARALLELISM: 'false',
    }),
    preflight(ctx) {
      const ref = resolveModel(ctx.modelName);
      if (ref.kind === 'local' && !modelFolder(ref.value)) {
        throw new ModelUnavailableError(`model_name: ${ref.value}: ${isDir(ref.value) ? 'no config.json in the folder (expected save_pretrained output)' : 'no such folder'}`);
      }
      return inspectModel(ctx.python, helper, bridgeModel(ref), ctx.childEnv, ctx.workDir).then((info) => {
        const task = taskFor(info, ctx.config.task as Task | undefined, ctx.modelName);
        ctx.logger.info({ model: ctx.modelName, modelType: info.model_type, architecture: info.architecture, task }, 'model checked');
        return task;
      });
    },
    buildSpec: (ctx) => {
      const { train, val } = ctx.dataset.report.splits;
      if (val.images === 0) {
        throw new DataError(`dataset: no val images (${train.images} train); give val/<class>/ folders or a DICEFormat dataset`);
      }
      const best = bestMetricFor(ctx.config.primary_metric ?? DEFAULT_PRIMARY_METRIC[ctx.task as SupportedTask]);
      return {
        model: bridgeModel(resolveModel(ctx.modelName)),
        train_args: toTrainingArguments(ctx.config),
        imgsz: ctx.config.imgsz ?? null,
        hflip: ctx.config.hflip,
        device: String(ctx.config.device),
        metric_for_best_model: best.metric,
        greater_is_better: best.greaterIsBetter,
      };
    },
  });
  return driver;
}

function isDir(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
