import type { Logger } from '../log/index.js';
import type { ConversionReport, PreparedDataset, PrepareOptions } from '../convert/index.js';
import type { CheckpointStore, StageProgressListener } from '../s3/index.js';
import type { Tracker } from '../mlflow/index.js';

/** Where a job's outputs live (`s3://{S3_BUCKET}/checkpoints/{job_id}/`, or a local folder). */
export type OutputStore = Pick<CheckpointStore, 'baseUri' | 'uriFor' | 'upload' | 'download' | 'getText' | 'putText'>;

export type RunTracker = Tracker;

/**
 * The stages the lifecycle drives. Each is a seam: production wires the real S3, converter and MLflow
 * modules (defaultServices), and tests may swap one for a variant without touching the lifecycle.
 */
export interface LifecycleServices {
  stageDataset(
    uri: string,
    opts: { workDir: string; env: NodeJS.ProcessEnv; logger: Logger; signal: AbortSignal; onProgress?: StageProgressListener },
  ): Promise<{ dir: string }>;
  prepareDataset(opts: PrepareOptions): Promise<PreparedDataset>;
  summarizeReport(report: ConversionReport): string;
  createOutputStore(opts: { jobId: string; env: NodeJS.ProcessEnv; logger: Logger; localDir?: string }): OutputStore;
  createTracker(opts: { env: NodeJS.ProcessEnv; logger: Logger; defaultExperiment: string }): RunTracker;
  /** Fetches a model given as a URI (s3://…/weights.pt) to a local path; returns the local path. */
  fetchModel(uri: string, opts: { destDir: string; env: NodeJS.ProcessEnv; logger: Logger }): Promise<string>;
}
