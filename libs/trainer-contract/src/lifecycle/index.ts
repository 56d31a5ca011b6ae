export { runTrainerCli, schemaFor, type RunIo } from './run.js';
export type { LifecycleServices, OutputStore, RunTracker } from './services.js';
export { type CheckpointEvent, type EpochEndEvent, type PreflightContext, type TrainContext, type TrainerDriver, type TrainResult } from './types.js';
export { abortOnSignals } from './signals.js';
