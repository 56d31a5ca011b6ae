import { Writable } from 'node:stream';
import { join } from 'node:path';
import type { CommonConfig } from '../config/index.js';
import { createLogger, type Logger, type LogLevel } from '../log/index.js';
import type { CheckpointEvent, EpochEndEvent, TrainContext, TrainerDriver, TrainResult } from '../lifecycle/types.js';

/** A logger whose output (JSON lines) is kept for assertions. */
export function captureLogger(level: LogLevel = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({ write: (chunk, _enc, done) => (lines.push(String(chunk)), done()) });
  return { logger: createLogger({ stream, pretty: false, level }), lines };
}

export type DriverRunOptions<C extends CommonConfig> = Pick<TrainContext<C>, 'modelName' | 'config' | 'task' | 'dataset' | 'workDir'> &
  Partial<Pick<TrainContext<C>, 'jobId' | 'runDir' | 'resumeFrom'>> & {
    /** Aborts the run (as SIGTERM would) once this returns true for an epoch or a checkpoint. */
    stopWhen?: (event: { kind: 'epoch' | 'checkpoint'; epoch: number }) => boolean;
  };

export interface DriverRun {
  promise: Promise<TrainResult>;
  epochs: EpochEndEvent[];
  checkpoints: CheckpointEvent[];
  /** The driver's log output. */
  lines: string[];
}

/** Calls `driver.train` the way the lifecycle does, recording what it reports. */
export function trainWith<C extends CommonConfig>(driver: TrainerDriver<C>, o: DriverRunOptions<C>): DriverRun {
  const epochs: EpochEndEvent[] = [];
  const checkpoints: CheckpointEvent[] = [];
  const ac = new AbortController();
  const { logger, lines } = captureLogger();
  const { stopWhen, ...ctx } = o;
  const promise = driver.train({
    jobId: 'job-1',
    runDir: join(o.workDir, 'run'),
    ...ctx,
    signal: ac.signal,
    logger,
    onEpochEnd: (e) => {
      epochs.push(e);
      if (stopWhen?.({ kind: 'epoch', epoch: e.epoch })) ac.abort();
    },
    onCheckpoint: (e) => {
      checkpoints.push(e);
      if (stopWhen?.({ kind: 'checkpoint', epoch: e.epoch })) ac.abort();
    },
  });
  return { promise, epochs, checkpoints, lines };
}
