import { mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { appRootOf, createPythonBridgeDriver, type PythonBridgeDriver, type PythonBridgeDriverSettings } from '@trainers/trainer-contract';
import { toUltralyticsArgs, ultralyticsConfigSchema, type UltralyticsConfig } from './config.js';
import { canonicalMetricNames, canonicalMetrics, defaultPrimaryMetric } from './metrics.js';
import { checkModelAvailable, resolveModel, resolveTaskFor } from './model.js';

const DRIVER_VERSION = '0.1.0';
const APP_ROOT = appRootOf(import.meta.url);
/** The range requirements.txt pins; others may work but were not tested. */
export const TESTED_ULTRALYTICS = { range: '>=8.4.0,<8.5', pinned: '8.4.190' } as const;

export function createUltralyticsDriver(options: PythonBridgeDriverSettings = {}): PythonBridgeDriver<UltralyticsConfig> {
  return createPythonBridgeDriver<UltralyticsConfig>({
    ...options,
    appRoot: options.appRoot ?? APP_ROOT,
    name: 'ultralytics',
    version: DRIVER_VERSION,
    framework: { module: 'ultralytics', testedRange: TESTED_ULTRALYTICS.range, pinned: TESTED_ULTRALYTICS.pinned },
    configSchema: ultralyticsConfigSchema as never,
    tasks: ['detect', 'segment', 'pose', 'classify', 'obb'],
    resolveTask: (modelName, config) => resolveTaskFor(resolveModel(modelName), modelName, config.task as never),
    // classify reads the same {train,val}/<class>/ tree the yolo converter writes for it.
    datasetFormat: 'yolo',
    canonicalMetrics,
    metricNames: canonicalMetricNames,
    defaultPrimaryMetric,
    childEnv: (_env, workDir) => ({ YOLO_CONFIG_DIR: join(workDir, 'yolo-config'), YOLO_OFFLINE: 'True', YOLO_AUTOINSTALL: 'False' }),
    preflight(ctx) {
      checkModelAvailable(resolveModel(ctx.modelName));
      // `import ultralytics` writes its settings there, and the import check starts as soon as this returns.
      mkdirSync(join(ctx.workDir, 'yolo-config'), { recursive: true });
    },
    buildSpec: (ctx) => ({
      model: resolveModel(ctx.modelName).ultralytics,
      data: ctx.task === 'classify' ? ctx.dataset.root : (ctx.dataset.dataYaml ?? join(ctx.dataset.root, 'data.yaml')),
      project: dirname(ctx.runDir),
      name: basename(ctx.runDir),
      train_args: toUltralyticsArgs(ctx.config),
    }),
  });
}
