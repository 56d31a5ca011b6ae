import type { Logger } from '../log/index.js';
import type { SplitConfig } from '../convert/index.js';
import type { PreparedDataset } from '../convert/index.js';
import type { Task } from './types.js';

/** Where a job's outputs live (`s3://{S3_BUCKET}/checkpoints/{job_id}/`, or a local folder). */
export interface OutputStore {
  readonly baseUri: string;
  uriFor(name: string): string;
  upload(localPath: string, name: string): Promise<{ uri: string; sha256: string; bytes: number }>;
  download(name: string, destPath: string): Promise<boolean>;
  getText(name: string): Promise<string | null>;
  putText(name: string, text: string): Promise<void>;
}

export interface RunTracker {
  readonly enabled: boolean;
  readonly runId: string | null;
  start(info: {
    jobId: string;
    trainer: string;
    trainerVersion: string;
    task: string;
    modelName: string;
    existingRunId?: string | null;
    tags?: Record<string, string>;
  }): Promise<string | null>;
  logParams(params: Record<string, unknown>): void;
  logMetrics(step: number, metrics: Record<string, number>): void;
  setTags(tags: Record<string, string>): void;
  logArtifact(localPath: string, artifactPath?: string): void;
  finish(status: 'FINISHED' | 'FAILED' | 'KILLED', opts?: { tags?: Record<string, string>; deadlineMs?: number }): Promise<void>;
}

/**
 * The stages the lifecycle drives. Each is a seam: production wires the real S3, converter and MLflow
 * modules (defaultServices), and tests may swap one for a variant without touching the lifecycle.
 */
export interface LifecycleServices {
  stageDataset(uri: string, opts: { workDir: string; env: NodeJS.ProcessEnv; logger: Logger; signal: AbortSignal }): Promise<{ dir: string }>;
  prepareDataset(opts: {
    inputDir: string;
    outputDir: string;
    task: Task;
    splitConfig?: SplitConfig;
    strict?: boolean;
    logger: Logger;
  }): Promise<PreparedDataset>;
  summarizeReport(report: PreparedDataset['report']): string;
  createOutputStore(opts: { jobId: string; env: NodeJS.ProcessEnv; logger: Logger; localDir?: string }): OutputStore;
  createTracker(opts: { env: NodeJS.ProcessEnv; logger: Logger; defaultExperiment: string }): RunTracker;
  /** Fetches a model given as a URI (s3://…/weights.pt) to a local path; returns the local path. */
  fetchModel(uri: string, opts: { destDir: string; env: NodeJS.ProcessEnv; logger: Logger }): Promise<string>;
}
