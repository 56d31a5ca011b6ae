import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { experimentFor, RECEIVER, type Harness, type RunDirs, type RunResult } from './harness.js';
import { descendantsOf, isAlive, killQuietly } from './processes.js';
import type { ReceivedRequest } from './receiver.js';
import { isTrainingPhase } from './check-kit.js';

/**
 * The trainer runs the checks look at. Checks that can share a run do (one successful job answers for paths,
 * schemas, signing, the interval, the completion, the S3 layout and MLflow), so the suite stays short.
 */
export interface Scenario {
  id: string;
  /** A scenario that must finish first (a restart after an interruption). */
  after?: string;
  /** Runs that train start first, so the short ones fill the gaps. */
  trains: boolean;
  run(h: Harness): Promise<RunResult>;
}

/** Epochs of every training run: enough for an interval of 2 to skip one, and for a signal to land before the end. */
export const EPOCHS = 3;
export const INTERVAL = 2;

export const JOB_IDS = {
  success: '4101',
  refused: '4102',
  crash: '4103',
  interrupt: '4104',
  validate: '4105',
} as const;

export interface JobArgs {
  jobId?: string | null;
  model?: string;
  dataset?: string;
  config?: Record<string, unknown> | string | null;
  callbackUrl?: string | null;
  extra?: string[];
}

/** The seed's invocation, every input a flag; `null` leaves a flag out. */
export function jobArgs(h: Harness, dirs: RunDirs, o: JobArgs): string[] {
  const config = o.config === undefined ? h.config(EPOCHS) : o.config;
  return [
    ...(o.jobId === null ? [] : ['--job-id', o.jobId ?? '0']),
    '--model-name', o.model ?? h.profile.model,
    '--dataset-s3-uri', o.dataset ?? h.datasets.good,
    ...(o.callbackUrl === null ? [] : ['--callback-url', o.callbackUrl ?? RECEIVER]),
    ...(config === null ? [] : ['--config', typeof config === 'string' ? config : JSON.stringify(config)]),
    '--work-dir', dirs.work,
    ...(o.extra ?? []),
  ];
}

const bodyOf = (r: ReceivedRequest) => (r.json ?? {}) as Record<string, unknown>;
const anyProgress = (received: ReceivedRequest[]) => received.some((r) => r.kind === 'progress' && bodyOf(r)['status'] === 'running' && isTrainingPhase(bodyOf(r)));

function simple(id: string, args: string[], trains = false): Scenario {
  return { id, trains, run: (h) => h.run({ id, args: () => args }) };
}

export const SCENARIOS: Scenario[] = [
  {
    id: 'success',
    trains: true,
    run: (h) => {
      let firstProgress: string | undefined;
      return h.run({
        id: 'success',
        jobId: JOB_IDS.success,
        args: async (dirs) => {
          const file = join(dirs.inputs, 'config.json');
          await writeFile(file, JSON.stringify(h.config(EPOCHS)));
          return [
            '--job-id', JOB_IDS.success,
            '--model-name', h.profile.model,
            '--dataset-s3-uri', h.datasets.good,
            '--callback-url', RECEIVER,
            '--config', `@${file}`,
            '--log-level', 'info',
            '--work-dir', dirs.work,
          ];
        },
        // Every flag also has a wrong value in its env var: the run succeeds only if each flag wins.
        env: {
          JOB_ID: '4999',
          MODEL_NAME: h.profile.badModel ?? 'no-such-model-x9',
          DATASET_S3_URI: 's3://datasets/no-such-prefix/',
          CALLBACK_URL: `${RECEIVER}/env-lost`,
          CONFIG: JSON.stringify(h.config(1)),
          LOG_LEVEL: 'not-a-level',
          CALLBACK_INTERVAL: String(INTERVAL),
        },
        policy: (r) => {
          if (r.kind === 'progress') {
            firstProgress ??= r.id;
            if (r.id === firstProgress && r.attemptOfId === 1) return { status: 503 };
          }
          if (r.kind === 'completion' && r.attemptOfId === 1) return { status: 429, headers: { 'retry-after': '1' } };
          return undefined;
        },
      });
    },
  },
  {
    id: 'refused',
    trains: true,
    run: (h) =>
      h.run({
        id: 'refused',
        jobId: JOB_IDS.refused,
        args: (dirs) => jobArgs(h, dirs, { jobId: JOB_IDS.refused, dataset: h.datasets.archive, config: h.config(2) }),
        policy: (r) => (r.kind === 'completion' ? { status: 422 } : undefined),
      }),
  },
  {
    id: 'crash',
    trains: true,
    run: (h) =>
      h.run({
        id: 'crash',
        jobId: JOB_IDS.crash,
        slow: true,
        args: (dirs) => jobArgs(h, dirs, { jobId: JOB_IDS.crash }),
        during: async (ctl) => {
          if (!(await ctl.until(() => anyProgress(ctl.receiver.received)))) return { killed: [], reason: 'the trainer exited before any progress callback' };
          const killed = descendantsOf(ctl.pid);
          for (const pid of killed) killQuietly(pid, 'SIGKILL');
          return { killed };
        },
      }),
  },
  {
    id: 'interrupt',
    trains: true,
    run: (h) =>
      h.run({
        id: 'interrupt',
        jobId: JOB_IDS.interrupt,
        slow: true,
        experiment: experimentFor('interrupt'),
        args: (dirs) => jobArgs(h, dirs, { jobId: JOB_IDS.interrupt }),
        during: async (ctl) => {
          if (!(await ctl.until(() => anyProgress(ctl.receiver.received)))) return { signalled: false };
          const children = descendantsOf(ctl.pid);
          killQuietly(ctl.pid, 'SIGTERM');
          await ctl.until(() => false);
          // A moment for the kernel to reap; a child still alive now was orphaned.
          await new Promise((r) => setTimeout(r, 300));
          return { signalled: true, children, orphans: children.filter(isAlive) };
        },
      }),
  },
  {
    id: 'resume',
    after: 'interrupt',
    trains: true,
    run: (h) =>
      h.run({
        id: 'resume',
        jobId: JOB_IDS.interrupt,
        experiment: experimentFor('interrupt'),
        args: (dirs) => jobArgs(h, dirs, { jobId: JOB_IDS.interrupt }),
      }),
  },
  {
    id: 'validate-only',
    trains: false,
    run: (h) =>
      h.run({
        id: 'validate-only',
        jobId: JOB_IDS.validate,
        args: () => ['--validate-only'],
        env: {
          JOB_ID: JOB_IDS.validate,
          MODEL_NAME: h.profile.model,
          DATASET_S3_URI: h.datasets.local,
          CONFIG: JSON.stringify(h.config(1)),
          CALLBACK_URL: RECEIVER,
          LOG_LEVEL: 'info',
        },
      }),
  },
  simple('help', ['--help']),
  simple('describe', ['--describe']),
  simple('schema-config', ['--print-schema', 'config']),
  simple('schema-progress', ['--print-schema', 'progress']),
  simple('schema-completion', ['--print-schema', 'completion']),
];
