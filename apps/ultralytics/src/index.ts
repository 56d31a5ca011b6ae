export { createUltralyticsDriver, pythonFor, childEnv, DRIVER_VERSION, TESTED_ULTRALYTICS, type UltralyticsDriverOptions } from './driver.js';
export { ultralyticsConfigShape, ultralyticsConfigSchema, toUltralyticsArgs, ULTRALYTICS_OWNED_KEYS, type UltralyticsConfig } from './config.js';
export { resolveModel, resolveTaskFor, taskFromName, checkModelAvailable, type ModelRef, type ModelKind } from './model.js';
export { canonicalMetrics, canonicalMetricNames, defaultPrimaryMetric, checkPrimaryMetric, DEFAULT_PRIMARY_METRIC } from './metrics.js';
