export { MlflowClient, type MlflowClientOptions, type MlflowAuth, type CallOptions, type CreateRunOptions, type UpdateRunOptions } from './client.js';
export { MlflowApiError } from './errors.js';
export { createTracker, type Tracker, type TrackerStartInfo, type FinalStatus, type CreateTrackerOptions } from './tracker.js';
export { resolveTrackingConfig, type TrackingConfig } from './config.js';
export { flattenParams } from './flatten.js';
export { LIMITS, chunkBatch, sanitizeKey, keyProblem, truncateValue, toWireNumber, type WireBatch } from './limits.js';
export * from './types.js';
