export { runTrainerCli, type RunIo } from './run.js';
export { CONTRACT_VERSION, describeTrainer, schemaFor, type TrainerDescription } from './describe.js';
export type { LifecycleServices, OutputStore, RunTracker } from './services.js';
export { type CheckpointEvent, type DriverDescription, type EpochEndEvent, type PreflightContext, type TrainContext, type TrainerDriver, type TrainResult } from './types.js';
export { abortOnSignals } from './signals.js';
export { isPathLike, readModelName, requireModelFile, taskAgreeing } from './model-name.js';
