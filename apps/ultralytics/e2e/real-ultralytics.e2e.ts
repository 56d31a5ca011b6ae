/**
 * Integration test against REAL Ultralytics (the pinned 8.4.190 in the managed venv that `npm run setup` builds, or
 * TRAINER_PYTHON): every task for 1 epoch on tiny generated data, CPU, imgsz 64, models built from `.yaml`, nothing
 * downloaded; then a stop mid-training and a resume in a fresh WORK_DIR. Under CI=true a missing framework fails.
 */
import { describe, it, expect, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  createLogger,
  InterruptedError,
  parseConfigObject,
  type CheckpointEvent,
  type EpochEndEvent,
  type Task,
  type TrainResult,
} from '@trainers/trainer-contract';
import { frameworkPython, missingReal } from '@trainers/trainer-contract/testing';
import { createUltralyticsDriver, TESTED_ULTRALYTICS } from '../src/driver.js';
import { ultralyticsConfigSchema } from '../src/config.js';
import { APP_ROOT, preparedDataset } from './support/fake.js';

const python = frameworkPython(APP_ROOT);
const skipWhy = python ? undefined : missingReal('Ultralytics (the managed venv of apps/ultralytics/requirements.txt, or TRAINER_PYTHON)');
const env = { ...process.env, ...(python ? { TRAINER_PYTHON: python } : {}) };
const base = mkdtempSync(join(tmpdir(), 'ul-real-'));
const suite = python ? describe : describe.skip;
afterAll(() => rmSync(base, { recursive: true, force: true }));

const MODELS: Record<Task, string> = { detect: 'yolov8n.yaml', segment: 'yolov8n-seg.yaml', pose: 'yolov8n-pose.yaml', classify: 'yolov8n-cls.yaml', obb: 'yolov8n-obb.yaml' };
const HEADS: Record<Task, string[]> = {
  detect: ['metrics/mAP50-95(B)', 'train/box_loss', 'val/dfl_loss'],
  segment: ['metrics/mAP50-95(M)', 'metrics/mAP50-95(B)', 'train/seg_loss', 'train/sem_loss'],
  pose: ['metrics/mAP50-95(P)', 'train/pose_loss', 'train/kobj_loss'],
  classify: ['metrics/accuracy_top1', 'metrics/accuracy_top5', 'train/loss', 'val/loss'],
  obb: ['metrics/mAP50-95(B)', 'train/angle_loss'],
};

function dataset(nTrain: number, task: Task = 'detect'): string {
  const dir = mkdtempSync(join(base, 'ds-'));
  execFileSync(python!, [join(APP_ROOT, 'e2e', 'make_tiny_dataset.py'), dir, String(nTrain), '8', '64', task], { env });
  return dir;
}

async function run(opts: { epochs: number; datasetDir: string; resumeFrom?: string; abortAfterEpoch?: number; task?: Task }) {
  const task = opts.task ?? 'detect';
  const workDir = mkdtempSync(join(base, 'work-'));
  const driver = createUltralyticsDriver({ env });
  const ac = new AbortController();
  const lines: string[] = [];
  const logger = createLogger({ stream: new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }), pretty: false });
  const epochs: EpochEndEvent[] = [];
  const checkpoints: CheckpointEvent[] = [];
  const started = process.hrtime.bigint();
  const promise = driver.train({
    jobId: 'real-e2e',
    modelName: MODELS[task],
    config: parseConfigObject(ultralyticsConfigSchema, { epochs: opts.epochs, imgsz: 64, batch: 2, device: 'cpu', workers: 0, amp: false, plots: false }),
    task,
    dataset: preparedDataset(task, task === 'classify' ? { root: opts.datasetDir } : { root: opts.datasetDir, dataYaml: join(opts.datasetDir, 'data.yaml') }),
    workDir,
    runDir: join(workDir, 'run'),
    ...(opts.resumeFrom ? { resumeFrom: opts.resumeFrom } : {}),
    signal: ac.signal,
    logger,
    onEpochEnd: (e) => {
      epochs.push(e);
      if (e.epoch === opts.abortAfterEpoch) ac.abort();
    },
    onCheckpoint: (e) => checkpoints.push(e),
  });
  const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
  return { promise, epochs, checkpoints, workDir, lines, seconds };
}

suite(`real Ultralytics ${skipWhy ? `(skipped: ${skipWhy})` : `${TESTED_ULTRALYTICS.pinned} (${python})`}`, () => {
  it.each(Object.keys(MODELS))('%s: 1 epoch from the .yaml, the task\'s raw metrics, best.pt from Ultralytics\' own record', async (t) => {
    const task = t as Task;
    const r = await run({ epochs: 1, datasetDir: dataset(8, task), task });
    const result: TrainResult = await r.promise;
    process.stdout.write(`real-ultralytics: ${task} 1 epoch imgsz 64 CPU: driver.train ${r.seconds().toFixed(1)} s\n`);
    expect(r.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(Object.keys(r.epochs[0]!.rawMetrics)).toEqual(expect.arrayContaining(HEADS[task]));
    expect(r.epochs[0]!.metrics).toHaveProperty('loss');
    expect(result.bestEpoch).toBe(1);
    expect(existsSync(result.bestCheckpoint)).toBe(true);
    const header = readFileSync(join(result.saveDir, 'results.csv'), 'utf8').split('\n')[0]!.split(',');
    for (const key of HEADS[task]) expect(header).toContain(key);
    // The completion's numbers are results.csv's row of the best epoch.
    const row = readFileSync(join(result.saveDir, 'results.csv'), 'utf8').trim().split('\n')[1]!.split(',');
    for (const key of HEADS[task]) expect(result.rawFinalMetrics[key]).toBeCloseTo(Number(row[header.indexOf(key)]), 6);
  });

  it('trains yolov8n.yaml for 2 epochs on CPU with no downloads', async () => {
    const r = await run({ epochs: 2, datasetDir: dataset(16) });
    const result: TrainResult = await r.promise;
    process.stdout.write(`real-ultralytics: 2 epochs yolov8n.yaml imgsz 64 CPU: driver.train ${r.seconds().toFixed(1)} s\n`);

    expect(r.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const e of r.epochs) {
      expect(Object.keys(e.rawMetrics)).toEqual(
        expect.arrayContaining(['train/box_loss', 'metrics/precision(B)', 'metrics/mAP50-95(B)', 'val/dfl_loss']),
      );
      expect(e.metrics).toHaveProperty('mAP50-95');
      expect(e.metrics).toHaveProperty('loss');
    }
    expect(r.checkpoints.filter((c) => c.kind === 'last').map((c) => c.epoch)).toEqual([1, 2]);
    expect(result.bestEpoch).toBeGreaterThanOrEqual(1);
    expect(existsSync(result.bestCheckpoint)).toBe(true);
    expect(readFileSync(join(result.saveDir, 'results.csv'), 'utf8').split('\n')[0]).toBe(
      'epoch,time,train/box_loss,train/cls_loss,train/dfl_loss,metrics/precision(B),metrics/recall(B),metrics/mAP50(B),metrics/mAP50-95(B),val/box_loss,val/cls_loss,val/dfl_loss,lr/pg0,lr/pg1,lr/pg2',
    );
    const settings = JSON.parse(readFileSync(join(r.workDir, 'yolo-config', 'Ultralytics', 'settings.json'), 'utf8'));
    // 8.4 has no hub/neptune settings any more; every integration it has is off.
    for (const k of ['mlflow', 'wandb', 'comet', 'clearml', 'dvc', 'raytune', 'tensorboard', 'sync']) expect(settings[k]).toBe(false);
    for (const k of ['hub', 'neptune']) expect(settings[k] ?? false).toBe(false);
    // No model or font was fetched: the yaml builds from scratch and the font came from the system.
    expect(existsSync(join(r.workDir, 'weights'))).toBe(false);
    expect(r.lines.join('')).not.toMatch(/Downloading https?:/);
  });

  it('stops on abort with a resumable last.pt and resumes in a fresh WORK_DIR', async () => {
    const ds = dataset(32);
    const first = await run({ epochs: 3, datasetDir: ds, abortAfterEpoch: 1 });
    await expect(first.promise).rejects.toBeInstanceOf(InterruptedError);
    const last = first.checkpoints.filter((c) => c.kind === 'last').at(-1)!;
    expect(last.epoch).toBeGreaterThanOrEqual(1);

    const second = await run({ epochs: 3, datasetDir: ds, resumeFrom: last.path });
    const result = await second.promise;
    process.stdout.write(`real-ultralytics: resume from epoch ${last.epoch} to 3: driver.train ${second.seconds().toFixed(1)} s\n`);
    expect(second.epochs[0]!.epoch).toBe(last.epoch + 1);
    expect(second.epochs.at(-1)!.epoch).toBe(3);
    expect(result.saveDir.startsWith(second.workDir)).toBe(true);
    const rows = readFileSync(join(result.saveDir, 'results.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.map((row) => Number(row.split(',')[0]))).toEqual([1, 2, 3]);
  });
});
