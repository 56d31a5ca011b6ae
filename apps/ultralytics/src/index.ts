export { createUltralyticsDriver, pythonFor, DRIVER_VERSION, type UltralyticsDriverOptions } from './driver.js';
export { ultralyticsConfigShape, ultralyticsConfigSchema, toUltralyticsArgs, ULTRALYTICS_OWNED_KEYS, type UltralyticsConfig } from './config.js';
export { resolveModel, resolveTaskFor, taskFromName, checkModelAvailable, type ModelRef, type ModelKind } from './model.js';
export { canonicalMetrics, canonicalMetricNames, defaultPrimaryMetric, DEFAULT_PRIMARY_METRIC } from './metrics.js';
