/** Wire shapes of the MLflow 2.x REST API (see shared/notes/mlflow-rest.md). IDs are strings, times epoch ms. */

export type RunStatus = 'RUNNING' | 'SCHEDULED' | 'FINISHED' | 'FAILED' | 'KILLED';
export const RUN_STATUSES: readonly RunStatus[] = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];

export type LifecycleStage = 'active' | 'deleted';

export interface KeyValue {
  key: string;
  value: string;
}

export interface Experiment {
  experiment_id: string;
  name: string;
  artifact_location?: string;
  lifecycle_stage: LifecycleStage;
  creation_time?: number;
  last_update_time?: number;
  tags?: KeyValue[];
}

export interface RunInfo {
  run_id: string;
  run_uuid?: string;
  experiment_id: string;
  run_name?: string;
  user_id?: string;
  status: RunStatus;
  start_time?: number;
  end_time?: number;
  artifact_uri: string;
  lifecycle_stage: LifecycleStage;
}

/** JSON has no NaN/Infinity, so MLflow takes and returns them as these strings. */
export type WireNumber = number | 'NaN' | 'Infinity' | '-Infinity';

export interface Metric {
  key: string;
  value: WireNumber;
  timestamp: number;
  step: number;
}

export interface Run {
  info: RunInfo;
  data: { metrics?: Metric[]; params?: KeyValue[]; tags?: KeyValue[] };
  inputs?: unknown;
}

export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

/** What callers hand to logBatch: plain numbers (NaN/±Infinity allowed) and ms timestamps. */
export interface MetricInput {
  key: string;
  value: number;
  step: number;
  timestamp?: number;
}

export interface BatchInput {
  metrics?: MetricInput[];
  params?: Record<string, string> | KeyValue[];
  tags?: Record<string, string> | KeyValue[];
}

export interface ParamConflict {
  key: string;
  logged: string;
  attempted: string;
}
