import type { z } from 'zod';
import type { Logger } from '../log/index.js';
import type { CommonConfig } from '../config/index.js';
import type { PreparedDataset } from '../convert/index.js';
import type { DatasetFormat, Task } from '../domain/index.js';

export type { Task };

/** One finished epoch, as a driver reports it (1-based epoch). */
export interface EpochEndEvent {
  epoch: number;
  totalEpochs: number;
  /** Canonical keys (`loss`, `mAP50`, `mAP50-95`, `precision`, `recall`, `accuracy_top1`, …). */
  metrics: Record<string, number>;
  /** The framework's own keys, unchanged. */
  rawMetrics: Record<string, number>;
  lr?: Record<string, number>;
  epochTime?: number;
}

/**
 * A checkpoint file that is complete on disk. The driver must never modify it in place afterwards: a newer
 * checkpoint replaces it by rename (write a temp file, then rename), so a file being uploaded stays intact.
 */
export interface CheckpointEvent {
  kind: 'last' | 'best';
  path: string;
  epoch: number;
}

export interface TrainResult {
  bestEpoch: number;
  /** Canonical metrics of the best epoch. */
  finalMetrics: Record<string, number>;
  /** Raw metrics of the best epoch. */
  rawFinalMetrics: Record<string, number>;
  bestCheckpoint: string;
  lastCheckpoint?: string;
  /** Files worth keeping next to the checkpoints and in MLflow (results.csv, args.yaml, plots). */
  artifacts: string[];
  saveDir: string;
}

export interface TrainContext<C extends CommonConfig = CommonConfig> {
  jobId: string;
  modelName: string;
  config: C;
  task: Task;
  dataset: PreparedDataset;
  workDir: string;
  /** Where the framework writes its run (checkpoints, results.csv). */
  runDir: string;
  /** A local `last.pt` to resume from, when a previous attempt of this job left one. */
  resumeFrom?: string;
  /** The store's `best.pt` of that attempt, downloaded beside it for a driver that `resumeReadsBest` (absent when it
   *  kept none). */
  resumeBest?: string;
  /** Aborted on SIGTERM/SIGINT: stop at the next safe point, keep the last complete checkpoint, throw InterruptedError. */
  signal: AbortSignal;
  logger: Logger;
  onEpochEnd(event: EpochEndEvent): void;
  onCheckpoint(event: CheckpointEvent): void;
}

export interface PreflightContext<C extends CommonConfig = CommonConfig> {
  jobId: string;
  modelName: string;
  config: C;
  task: Task;
  workDir: string;
  logger: Logger;
  env: NodeJS.ProcessEnv;
}

/** What an app supplies; everything else is the lifecycle's. */
export interface TrainerDriver<C extends CommonConfig = CommonConfig> {
  /** Short name: `ultralytics`, `timm`; used for the default experiment name and logs. */
  name: string;
  version: string;
  /** The full config schema: the common schema extended with the framework's own keys. */
  configSchema: z.ZodType<C>;
  /** Picks the task from the config and the model name; throws ConfigError on a mismatch. */
  resolveTask(modelName: string, config: C): Task;
  /** The metric used for `primary_metric` when the config names none. */
  defaultPrimaryMetric(task: Task): string;
  /** The layout the framework reads for a task; the lifecycle asks the converter for it. */
  datasetFormat(task: Task): DatasetFormat;
  /**
   * Cheap checks before any download: the framework imports, the model name resolves. It may return the task when
   * only the model itself tells it (a Hugging Face config's architecture); that task then replaces resolveTask's.
   */
  preflight(ctx: PreflightContext<C>): Promise<Task | void>;
  train(ctx: TrainContext<C>): Promise<TrainResult>;
  /** A resume also downloads the store's `best` for `TrainContext.resumeBest` (its `last` leans on it). */
  resumeReadsBest?: boolean;
  /** What `--describe` says about the framework (CONTRACT §9); name, version and config schema are added to it. */
  describe?(): DriverDescription;
}

/** The framework half of `--describe`: everything a backend needs to know besides the config schema. */
export interface DriverDescription {
  framework: { name: string; module: string; tested_range: string; pinned: string | null };
  tasks: Task[];
  dataset_formats: Partial<Record<Task, DatasetFormat>>;
  /** Canonical metric names each task reports. */
  metrics: Partial<Record<Task, string[]>>;
  default_primary_metric: Partial<Record<Task, string>>;
  /** File names of the checkpoints in `checkpoints/<job_id>/`. */
  checkpoints: { best: string; last: string };
}
