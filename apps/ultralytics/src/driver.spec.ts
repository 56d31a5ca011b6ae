import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bridgeRuntimeDir,
  InterruptedError,
  ModelUnavailableError,
  OutOfMemoryError,
  parseConfigObject,
  TrainingFailedError,
  type Task,
  type TrainResult,
} from '@trainers/trainer-contract';
import { captureLogger, failureOf, trainWith } from '@trainers/trainer-contract/testing';
import { createUltralyticsDriver } from './driver.js';
import { ultralyticsConfigSchema } from './config.js';
import { FAKE_ULTRALYTICS_PATH, SYSTEM_PYTHON, makeFakeDataset, preparedDataset, readFakeCheckpoint } from '../e2e/support/fake.js';

let base: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'ul-driver-'));
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface RunOptions {
  model?: string;
  task?: Task;
  config?: Record<string, unknown>;
  knobs?: Record<string, string>;
  workDir?: string;
  resumeFrom?: string;
  stopWhen?: (e: { kind: 'epoch' | 'checkpoint'; epoch: number }) => boolean;
}

function train(o: RunOptions = {}) {
  const task = o.task ?? 'detect';
  const workDir = o.workDir ?? mkdtempSync(join(base, 'work-'));
  const env = { PATH: process.env['PATH'], TRAINER_PYTHON: SYSTEM_PYTHON, PYTHONPATH: FAKE_ULTRALYTICS_PATH, AWS_SECRET_ACCESS_KEY: 'sekrit', ...o.knobs };
  const run = trainWith(createUltralyticsDriver({ env, killGraceMs: 5000 }), {
    modelName: o.model ?? 'yolov8n.yaml',
    config: parseConfigObject(ultralyticsConfigSchema, { epochs: 3, imgsz: 64, batch: 4, device: 'cpu', plots: false, ...o.config }),
    task,
    dataset: preparedDataset(task, makeFakeDataset(mkdtempSync(join(base, 'ds-')), task)),
    workDir,
    ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
    ...(o.stopWhen ? { stopWhen: o.stopWhen } : {}),
  });
  return { ...run, workDir };
}

describe('ultralytics driver with the test double', () => {
  it('trains detect: one event per epoch with canonical and raw metrics, checkpoints, best epoch, artifacts', async () => {
    const run = train();
    const result: TrainResult = await run.promise;
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(run.epochs.every((e) => e.totalEpochs === 3)).toBe(true);
    const first = run.epochs[0]!;
    expect(Object.keys(first.metrics).sort()).toEqual(
      ['box_loss', 'cls_loss', 'dfl_loss', 'loss', 'mAP50', 'mAP50-95', 'precision', 'recall', 'val_box_loss', 'val_cls_loss', 'val_dfl_loss', 'val_loss'].sort(),
    );
    expect(first.rawMetrics['metrics/mAP50-95(B)']).toBe(first.metrics['mAP50-95']);
    expect(Object.keys(first.lr ?? {})).toEqual(['lr/pg0', 'lr/pg1', 'lr/pg2']);
    expect(first.epochTime).toBeGreaterThanOrEqual(0);
    expect(run.checkpoints.filter((c) => c.kind === 'last').map((c) => c.epoch)).toEqual([1, 2, 3]);
    for (const c of run.checkpoints) expect(c.path.startsWith(run.workDir)).toBe(true);

    expect(result.bestEpoch).toBe(3);
    expect(result.finalMetrics['mAP50-95']).toBe(run.epochs[2]!.metrics['mAP50-95']);
    expect(result.rawFinalMetrics['metrics/mAP50-95(B)']).toBe(run.epochs[2]!.rawMetrics['metrics/mAP50-95(B)']);
    expect(result.saveDir).toBe(join(run.workDir, 'run'));
    expect(result.bestCheckpoint).toBe(join(run.workDir, 'run', 'weights', 'best.pt'));
    expect(readFakeCheckpoint(result.bestCheckpoint)).toMatchObject({ epoch: -1, hasOptimizer: false });
    expect(result.artifacts.map((a) => a.slice(result.saveDir.length + 1))).toEqual(['args.yaml', 'results.csv']);
    expect(readFileSync(join(result.saveDir, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(4);

    // Integrations off, config dir and font inside WORK_DIR, and no credentials handed to Python.
    const settings = JSON.parse(readFileSync(join(run.workDir, 'yolo-config', 'Ultralytics', 'settings.json'), 'utf8'));
    for (const k of ['mlflow', 'wandb', 'comet', 'clearml', 'dvc', 'hub', 'neptune', 'raytune', 'tensorboard', 'sync']) expect(settings[k]).toBe(false);
    expect(existsSync(join(run.workDir, 'yolo-config', 'Ultralytics', 'Arial.ttf'))).toBe(true);
    const args = readFileSync(join(result.saveDir, 'args.yaml'), 'utf8');
    expect(args).toMatch(/exist_ok: true/);
    expect(run.lines.join('')).not.toContain('sekrit');
  });

  it.each([
    ['yolo11n-seg.yaml', 'segment', ['mAP50-95', 'mAP50-95(M)', 'precision(M)', 'seg_loss']],
    ['yolov8n-pose.yaml', 'pose', ['mAP50-95', 'mAP50-95(P)', 'recall(P)', 'pose_loss', 'kobj_loss']],
    ['yolo11n-cls.yaml', 'classify', ['accuracy_top1', 'accuracy_top5', 'loss', 'val_loss']],
  ] as const)('trains %s (%s) with that task’s canonical keys', async (model, task, keys) => {
    const run = train({ model, task, config: { epochs: 2 } });
    const result = await run.promise;
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    for (const k of keys) expect(result.finalMetrics).toHaveProperty(k);
    if (task === 'classify') expect(result.finalMetrics).not.toHaveProperty('mAP50');
  });

  it('reports the best epoch, not the last one', async () => {
    const run = train({ config: { epochs: 4 }, knobs: { FAKE_ULTRALYTICS_BEST_EPOCH: '2' } });
    const result = await run.promise;
    expect(result.bestEpoch).toBe(2);
    expect(result.finalMetrics).toEqual(run.epochs[1]!.metrics);
    expect(run.checkpoints.filter((c) => c.kind === 'best').map((c) => c.epoch)).toEqual([1, 2]);
  });

  it('turns a crash mid-epoch into TrainingFailedError with the Python message and traceback', async () => {
    const run = train({ knobs: { FAKE_ULTRALYTICS_CRASH_AT_EPOCH: '2' } });
    const err = await failureOf(run.promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toBe('fake_ultralytics: simulated crash in epoch 2');
    expect(err.detail).toMatch(/Traceback[\s\S]*RuntimeError: fake_ultralytics: simulated crash in epoch 2/);
    expect(run.epochs.map((e) => e.epoch)).toEqual([1]);
  });

  it('turns CUDA OOM into OutOfMemoryError', async () => {
    const err = await failureOf(train({ knobs: { FAKE_ULTRALYTICS_OOM: '1' } }).promise);
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.message).toMatch(/CUDA out of memory/);
  });

  it('reports a local .pt that is not a checkpoint as MODEL_UNAVAILABLE', async () => {
    const bad = join(mkdtempSync(join(base, 'm-')), 'broken.pt');
    writeFileSync(bad, 'not a checkpoint');
    const err = await failureOf(train({ model: bad }).promise);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err.exitCode).toBe(3);
    expect(err.message).toContain('broken.pt');
  });

  it('reports an unreadable dataset as a training failure naming the file', async () => {
    const workDir = mkdtempSync(join(base, 'work-'));
    const driver = createUltralyticsDriver({ env: { PATH: process.env['PATH'], TRAINER_PYTHON: SYSTEM_PYTHON, PYTHONPATH: FAKE_ULTRALYTICS_PATH } });
    const dataset = preparedDataset('detect', { root: workDir, dataYaml: join(workDir, 'missing.yaml') });
    const run = trainWith(driver, { modelName: 'yolov8n.yaml', task: 'detect', config: parseConfigObject(ultralyticsConfigSchema, { epochs: 1 }), dataset, workDir });
    const err = await failureOf(run.promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toContain('missing.yaml');
  });

  it('stops within a batch on abort, keeps a resumable last.pt, and a new work dir resumes from it', async () => {
    const slow = { FAKE_ULTRALYTICS_BATCH_SECONDS: '0.05', FAKE_ULTRALYTICS_BATCHES: '20' };
    const first = train({
      config: { epochs: 4 },
      knobs: slow,
      stopWhen: (e) => e.kind === 'epoch' && e.epoch === 1,
    });
    const err = await failureOf(first.promise);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.exitCode).toBe(143);
    // Epoch 2 (20 batches) never finished: the stop came at a batch boundary, not at the epoch's end.
    expect(first.epochs.map((e) => e.epoch)).toEqual([1]);
    expect(readFileSync(join(first.workDir, 'run', 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(2);
    const last = first.checkpoints.filter((c) => c.kind === 'last').at(-1)!;
    expect(last.epoch).toBe(1);
    const ckpt = readFakeCheckpoint(last.path);
    expect(ckpt).toMatchObject({ epoch: 0, hasOptimizer: true });
    // The run's own last.pt was not stripped or cut either.
    expect(readFakeCheckpoint(join(first.workDir, 'run', 'weights', 'last.pt'))).toMatchObject({ epoch: 0, hasOptimizer: true });

    const second = train({ config: { epochs: 4 }, resumeFrom: last.path });
    const result = await second.promise;
    expect(second.epochs.map((e) => e.epoch)).toEqual([2, 3, 4]);
    expect(result.saveDir.startsWith(second.workDir)).toBe(true);
    const rows = readFileSync(join(result.saveDir, 'results.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.map((r) => Number(r.split(',')[0]))).toEqual([1, 2, 3, 4]);
    expect(result.bestEpoch).toBe(4);
    const resumedArgs = readFakeCheckpoint(result.bestCheckpoint).trainArgs;
    expect(String(resumedArgs['save_dir'])).toBe(result.saveDir);
    expect(String(resumedArgs['data']).startsWith(base)).toBe(true);
  });

  it('keeps training when one of its own hooks fails', async () => {
    const workDir = mkdtempSync(join(base, 'work-'));
    writeFileSync(join(workDir, 'checkpoint-snapshots'), 'a file where the snapshot folder should be');
    const run = train({ workDir });
    const result = await run.promise;
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(run.checkpoints).toEqual([]);
    expect(result.bestEpoch).toBe(3);
    expect(run.lines.join('').match(/hook on_model_save failed \(training continues\)/g)).toHaveLength(1);
  });

  it('starts over when the checkpoint to resume from is already finished', async () => {
    const done = await train({ config: { epochs: 2 } }).promise;
    const again = train({ config: { epochs: 2 }, resumeFrom: done.lastCheckpoint! });
    await again.promise;
    expect(again.epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(again.lines.join('')).toMatch(/finished checkpoint/);
  });
});

describe('preflight', () => {
  const config = parseConfigObject(ultralyticsConfigSchema, { epochs: 1 });

  it('passes when ultralytics imports', async () => {
    const workDir = mkdtempSync(join(base, 'pre-'));
    const driver = createUltralyticsDriver();
    const { logger, lines } = captureLogger();
    await driver.preflight({ jobId: 'j', modelName: 'yolov8n', config, task: 'detect', workDir, logger, env: { PATH: process.env['PATH'], TRAINER_PYTHON: SYSTEM_PYTHON, PYTHONPATH: FAKE_ULTRALYTICS_PATH } });
    expect(lines.join('')).toContain('"ultralytics":"8.4.190"');
    expect(existsSync(join(workDir, 'yolo-config', 'Ultralytics', 'settings.json'))).toBe(true);
  });

  it('fails with MODEL_UNAVAILABLE and the install command when ultralytics is missing', async () => {
    const driver = createUltralyticsDriver();
    const { logger } = captureLogger();
    const err = await failureOf(
      driver.preflight({ jobId: 'j', modelName: 'yolov8n', config, task: 'detect', workDir: mkdtempSync(join(base, 'pre-')), logger, env: { PATH: process.env['PATH'], TRAINER_PYTHON: SYSTEM_PYTHON, PYTHONPATH: join(base, 'empty') } }),
    );
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err.exitCode).toBe(3);
    expect(err.problems[0]).toBe(`ultralytics cannot be imported by ${SYSTEM_PYTHON}: ModuleNotFoundError: No module named 'ultralytics'`);
    expect(err.problems[1]).toMatch(/-m pip install -r .*apps\/ultralytics\/requirements\.txt/);
  });

  it('fails for a local model file that does not exist, before touching Python', async () => {
    const driver = createUltralyticsDriver();
    const { logger } = captureLogger();
    const err = await failureOf(
      driver.preflight({ jobId: 'j', modelName: join(base, 'nope.pt'), config, task: 'detect', workDir: base, logger, env: { TRAINER_PYTHON: join(base, 'no-python') } }),
    );
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err.message).toContain('nope.pt');
  });

  it('resolveTask checks config.task and primary_metric against the model', () => {
    const driver = createUltralyticsDriver();
    expect(driver.resolveTask('yolo11n-seg', parseConfigObject(ultralyticsConfigSchema, {}))).toBe('segment');
    expect(() => driver.resolveTask('yolo11n-seg', parseConfigObject(ultralyticsConfigSchema, { task: 'pose' }))).toThrow(/config\.task/);
    expect(() => driver.resolveTask('yolov8n', parseConfigObject(ultralyticsConfigSchema, { primary_metric: 'accuracy_top1' }))).toThrow(/primary_metric/);
    expect(() => driver.resolveTask('not-a-model', parseConfigObject(ultralyticsConfigSchema, {}))).toThrow(ModelUnavailableError);
  });
});

describe('childEnv', () => {
  it('hands Python no credentials, puts the runtime on PYTHONPATH, pins caches into WORK_DIR and turns off other trackers', () => {
    const env = createUltralyticsDriver().childEnv(
      { PATH: '/bin', AWS_SECRET_ACCESS_KEY: 's', AWS_ACCESS_KEY_ID: 'a', MLFLOW_TRACKING_URI: 'http://m', CALLBACK_SECRET: 'c', S3_ENDPOINT: 'e', ULTRALYTICS_API_KEY: 'k', PYTHONPATH: '/p', CUDA_VISIBLE_DEVICES: '0' },
      '/work',
    );
    expect(env).toEqual({
      PATH: '/bin',
      PYTHONPATH: `${bridgeRuntimeDir()}:/p`,
      CUDA_VISIBLE_DEVICES: '0',
      YOLO_CONFIG_DIR: '/work/yolo-config',
      YOLO_OFFLINE: 'True',
      YOLO_AUTOINSTALL: 'False',
      XDG_CACHE_HOME: '/work/cache',
      HF_HOME: '/work/cache/huggingface',
      TORCH_HOME: '/work/cache/torch',
      MPLCONFIGDIR: '/work/cache/matplotlib',
      TORCHINDUCTOR_CACHE_DIR: '/work/cache/torchinductor',
      TRITON_CACHE_DIR: '/work/cache/triton',
      WANDB_MODE: 'disabled',
      COMET_MODE: 'disabled',
    });
  });
});

describe('--describe', () => {
  it('names the framework, its tested range, tasks, formats, metrics and checkpoints', () => {
    const d = createUltralyticsDriver().describe();
    expect(d.framework).toEqual({ name: 'ultralytics', module: 'ultralytics', tested_range: '>=8.4.0,<8.5', pinned: '8.4.190' });
    expect(d.tasks).toEqual(['detect', 'segment', 'pose', 'classify', 'obb']);
    expect(d.dataset_formats).toEqual({ detect: 'yolo', segment: 'yolo', pose: 'yolo', classify: 'yolo', obb: 'yolo' });
    expect(d.metrics['detect']).toEqual(expect.arrayContaining(['loss', 'mAP50', 'mAP50-95', 'precision', 'recall']));
    expect(d.default_primary_metric).toMatchObject({ detect: 'mAP50-95', segment: 'mAP50-95(M)', classify: 'accuracy_top1' });
    expect(d.checkpoints).toEqual({ best: 'best.pt', last: 'last.pt' });
  });
});
