/**
 * Integration test against REAL Ultralytics (not the test double): 2 epochs of yolov8n.yaml on a tiny generated
 * dataset, CPU, imgsz 64, nothing downloaded. Then a SIGTERM mid-training and a resume in a fresh WORK_DIR.
 *
 * Runs when `import ultralytics` works for the trainer's Python (TRAINER_PYTHON, else apps/ultralytics/.venv,
 * else python3), and is skipped with a message otherwise. On a Debian machine with python3-torch and an
 * Ultralytics 8.3.186 source tree:  TRAINER_PYTHON=/usr/bin/python3 PYTHONPATH=/path/to/ultralytics-src npx jest …
 */
import { describe, it, expect, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import {
  checkPythonModule,
  createLogger,
  InterruptedError,
  parseConfigObject,
  type CheckpointEvent,
  type EpochEndEvent,
  type TrainResult,
} from '@trainers/trainer-contract';
import { createUltralyticsDriver, pythonFor } from '../src/driver.js';
import { ultralyticsConfigSchema } from '../src/config.js';
import { APP_ROOT, preparedDataset } from './support/fake.js';

const env = { ...process.env };
const python = pythonFor(env, APP_ROOT);
const base = mkdtempSync(join(tmpdir(), 'ul-real-'));
const probe = await checkPythonModule(python, 'ultralytics', { ...env, YOLO_CONFIG_DIR: join(base, 'probe-config'), YOLO_OFFLINE: 'True' });
if (!probe.ok) {
  process.stderr.write(`real-ultralytics e2e skipped: ${python} cannot import ultralytics (${probe.error}); set TRAINER_PYTHON (and PYTHONPATH) to a Python with ultralytics>=8.3,<8.4\n`);
}
const suite = probe.ok ? describe : describe.skip;
afterAll(() => rmSync(base, { recursive: true, force: true }));

function dataset(nTrain: number): string {
  const dir = mkdtempSync(join(base, 'ds-'));
  execFileSync(python, [join(APP_ROOT, 'e2e', 'make_tiny_dataset.py'), dir, String(nTrain), '8', '64'], { env });
  return dir;
}

async function run(opts: { epochs: number; datasetDir: string; resumeFrom?: string; abortAfterEpoch?: number }) {
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
    modelName: 'yolov8n.yaml',
    config: parseConfigObject(ultralyticsConfigSchema, { epochs: opts.epochs, imgsz: 64, batch: 2, device: 'cpu', workers: 0, amp: false, plots: false }),
    task: 'detect',
    dataset: preparedDataset('detect', { root: opts.datasetDir, dataYaml: join(opts.datasetDir, 'data.yaml') }),
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

suite(`real Ultralytics ${probe.version ?? ''} (${python})`, () => {
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
    // Ultralytics 8.4 keeps its settings one folder down (YOLO_CONFIG_DIR/Ultralytics), 8.3 in YOLO_CONFIG_DIR.
    const settingsFile = ['Ultralytics/settings.json', 'settings.json'].map((f) => join(r.workDir, 'yolo-config', f)).find((f) => existsSync(f))!;
    const settings = JSON.parse(readFileSync(settingsFile, 'utf8'));
    // 8.4 dropped the hub and neptune settings: absent or off.
    for (const k of ['mlflow', 'wandb', 'comet', 'clearml', 'dvc', 'hub', 'neptune', 'raytune', 'tensorboard', 'sync']) expect(settings[k] ?? false).toBe(false);
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
