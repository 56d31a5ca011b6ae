import type { Task } from '../domain/index.js';

/** What the suite needs to know about one trainer; everything else it finds out from the outside. */
export interface ConformanceProfile {
  /** The app's short name: the trainer is `trainer-<name>`, and its stderr lines start with `trainer-<name>: `. */
  name: string;
  /** The built entry command, e.g. `[process.execPath, 'apps/ultralytics/bin/trainer-ultralytics.mjs']`. */
  command: readonly string[];
  /**
   * Added to every run: what gives the trainer a Python that runs its framework, real or a test double
   * (`TRAINER_PYTHON`, `PYTHONPATH`, `TRAINERS_VENV_HOME`, a double's knobs). Runs get no other variable of the
   * test process, the way a pod gets only what its spec sets.
   */
  env?: NodeJS.ProcessEnv;
  /**
   * Added to the runs that are signalled mid-training (SIGTERM, a killed framework process), so an epoch lasts
   * long enough for the signal to land inside the run. A real framework on tiny data usually needs nothing here.
   */
  slowEnv?: NodeJS.ProcessEnv;
  task: Task;
  /** A model that trains quickly from scratch (no download), e.g. `yolov8n.yaml`. */
  model: string;
  /** A model name the trainer must refuse with exit 3 (default `no-such-model-x9`). */
  badModel?: string;
  /** A quick config without `epochs` (the suite sets it), e.g. `{ imgsz: 32, batch: 4 }`. */
  config?: Record<string, unknown>;
  /** The generated DICEFormat shapes dataset (CONTRACT §7). */
  dataset?: { images?: number; size?: number; keypoints?: boolean };
  /** Run files expected beside the checkpoints in S3 (CONTRACT §6), default `['results.csv']`. */
  resultFiles?: string[];
  /** Checkpoint file names when `--describe` cannot tell (default best.pt / last.pt). */
  checkpoints?: { best: string; last: string };
  /** The longest one trainer run may take, default 180 s. */
  runTimeoutMs?: number;
}

/** An MLflow tracking server for the suite (a real `mlflow server` by default). */
export interface ConformanceMlflow {
  uri: string;
  /** Sent by the suite when it reads the server, and given to the trainer as MLFLOW_TRACKING_TOKEN when set. */
  token?: string;
  close(): Promise<void>;
}
export type MlflowFactory = () => Promise<ConformanceMlflow>;

export interface ConformanceOptions {
  /** Which MLflow server to run (default: a real `mlflow server` from the dev venv). */
  mlflow?: MlflowFactory;
  /** Run only these checks (ids or id prefixes such as `bad-input.`); default all. */
  only?: readonly string[];
  /** Leave out these checks (ids or id prefixes). */
  skip?: readonly string[];
  /** Trainer runs at the same time (default 3). */
  concurrency?: number;
  /** Keep the suite's scratch folder (its path is in the report) for a look afterwards. */
  keepScratch?: boolean;
  /** Progress lines (`scenario X: exit 0 in 2.1 s`), e.g. `console.log`. */
  log?: (line: string) => void;
}

export type CheckStatus = 'pass' | 'fail';

export interface CheckResult {
  id: string;
  /** The contract section, e.g. `§5`. */
  section: string;
  title: string;
  status: CheckStatus;
  /** In contract terms: `§5 exit code: a bad config exited 1, want 3`. */
  failures: string[];
}

export interface ScenarioSummary {
  id: string;
  args: string[];
  exitCode: number | null;
  signal: string | null;
  durationMs: number;
}

export interface ConformanceReport {
  trainer: string;
  checks: CheckResult[];
  scenarios: ScenarioSummary[];
  durationMs: number;
  scratch: string;
  passed: boolean;
}
