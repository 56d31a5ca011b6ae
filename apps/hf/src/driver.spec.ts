/**
 * The driver against the real python/bridge.py on the shared runtime (any Python 3 runs the stand-in): events →
 * epochs and checkpoints, errors → TrainerErrors, abort → a resumable last.pt. When the framework replaces the stand-in, keep these tests and
 * point them at a tiny model; they are the driver's half of the contract.
 */
import { describe, it, expect, afterAll } from '@jest/globals';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConfigError,
  InterruptedError,
  ModelUnavailableError,
  parseConfigObject,
  TrainingFailedError,
  type TrainContext,
} from '@trainers/trainer-contract';
import { captureLogger, failureOf, trainWith } from '@trainers/trainer-contract/testing';
import { createHfDriver } from './driver.js';
import { hfConfigSchema } from './config.js';

const base = mkdtempSync(join(tmpdir(), 'hf-driver-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

/** The child sees only this (plus TRAINER_PYTHON when the developer set one), like a pod would. */
const testEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: process.env['PATH'],
  ...(process.env['TRAINER_PYTHON'] ? { TRAINER_PYTHON: process.env['TRAINER_PYTHON'] } : {}),
  ...extra,
});

/** A dataset in the layout the contract's converter hands a driver. The stand-in only counts the files. */
function dataset(task: 'classify' | 'detect', trainImages = 4): TrainContext['dataset'] {
  const dir = mkdtempSync(join(base, 'ds-'));
  const classes = [
    { index: 0, id: 1, name: 'square' },
    { index: 1, id: 2, name: 'circle' },
  ];
  if (task === 'classify') {
    for (const split of ['train', 'val']) {
      for (const c of classes) {
        mkdirSync(join(dir, split, c.name), { recursive: true });
        for (let i = 0; i < (split === 'train' ? trainImages : 4); i++) writeFileSync(join(dir, split, c.name, `${i}.png`), '');
      }
    }
    const imageFolder = { train: join(dir, 'train'), val: join(dir, 'val') };
    return { root: dir, task, classes, imageFolder, report: {}, format: 'imagefolder', source: 'imagefolder' } as unknown as TrainContext['dataset'];
  }
  for (const split of ['train', 'val']) {
    mkdirSync(join(dir, split, 'images'), { recursive: true });
    const images = Array.from({ length: split === 'train' ? trainImages : 4 }, (_, i) => join(dir, split, 'images', `${i}.png`));
    for (const image of images) writeFileSync(image, '');
    writeFileSync(join(dir, `${split}.txt`), images.join('\n') + '\n');
  }
  const dataYaml = join(dir, 'data.yaml');
  writeFileSync(dataYaml, `path: "${dir}"\ntrain: "${join(dir, 'train.txt')}"\nval: "${join(dir, 'val.txt')}"\nnc: 2\nnames:\n  0: "square"\n  1: "circle"\n`);
  return { root: dir, task, dataYaml, classes, report: {}, format: 'yolo', source: 'yolo' } as unknown as TrainContext['dataset'];
}

interface RunOptions {
  task?: 'classify' | 'detect';
  model?: string;
  config?: Record<string, unknown>;
  env?: NodeJS.ProcessEnv;
  trainImages?: number;
  resumeFrom?: string;
  abortAfterEpoch?: number;
}

function train(o: RunOptions = {}) {
  const task = o.task ?? 'classify';
  const workDir = mkdtempSync(join(base, 'work-'));
  const run = trainWith(createHfDriver({ env: testEnv(o.env), killGraceMs: 5000 }), {
    modelName: o.model ?? 'standin-s',
    config: parseConfigObject(hfConfigSchema, { epochs: 3, batch: 4, task, ...o.config }),
    task,
    dataset: dataset(task, o.trainImages),
    workDir,
    ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
    stopWhen: (e) => e.kind === 'epoch' && e.epoch === o.abortAfterEpoch,
  });
  return { ...run, workDir };
}

const readCheckpoint = (path: string) => JSON.parse(readFileSync(path, 'utf8')) as { epoch: number; optimizer: unknown };

describe('hf driver', () => {
  it('trains classify: one event per epoch with canonical and raw metrics, checkpoints, best epoch, artifacts', async () => {
    const run = train();
    const result = await run.promise;
    expect(run.epochs.map((e) => e.epoch)).toEqual([1, 2, 3]);
    expect(run.epochs.every((e) => e.totalEpochs === 3)).toBe(true);
    const first = run.epochs[0]!;
    expect(Object.keys(first.metrics).sort()).toEqual(['accuracy_top1', 'accuracy_top5', 'loss', 'val_loss']);
    expect(first.rawMetrics['val/acc1']).toBe(first.metrics['accuracy_top1']);
    expect(Object.keys(first.lr ?? {})).toEqual(['lr/pg0']);
    expect(run.checkpoints.filter((c) => c.kind === 'last').map((c) => c.epoch)).toEqual([1, 2, 3]);

    const best = run.epochs.reduce((a, b) => (b.metrics['accuracy_top1']! >= a.metrics['accuracy_top1']! ? b : a));
    expect(result.bestEpoch).toBe(best.epoch);
    expect(result.finalMetrics).toEqual(best.metrics);
    expect(result.bestCheckpoint).toBe(join(run.workDir, 'run', 'weights', 'best.pt'));
    expect(readCheckpoint(result.bestCheckpoint)).toMatchObject({ epoch: best.epoch, optimizer: null });
    expect(result.artifacts.map((a) => a.slice(result.saveDir.length + 1))).toEqual(['args.json', 'results.csv']);
    expect(readFileSync(join(result.saveDir, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
  });

  it('trains detect with the detection metrics', async () => {
    const result = await train({ task: 'detect', config: { epochs: 2 } }).promise;
    expect(Object.keys(result.finalMetrics).sort()).toEqual(['loss', 'mAP50', 'mAP50-95', 'precision', 'recall', 'val_loss']);
  });

  it('stops at the next step on abort, keeps a resumable last.pt, and a new work dir resumes from it', async () => {
    const first = train({ config: { epochs: 5 }, env: { STANDIN_STEP_SECONDS: '0.3' }, abortAfterEpoch: 1 });
    const err = await failureOf(first.promise);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.exitCode).toBe(143);
    expect(first.epochs.map((e) => e.epoch)).toEqual([1]);
    const last = first.checkpoints.filter((c) => c.kind === 'last').at(-1)!;
    expect(last.epoch).toBe(1);
    expect(readCheckpoint(last.path).epoch).toBe(1);
    expect(readCheckpoint(last.path).optimizer).not.toBeNull();

    const second = train({ config: { epochs: 5 }, resumeFrom: last.path });
    const result = await second.promise;
    expect(second.epochs.map((e) => e.epoch)).toEqual([2, 3, 4, 5]);
    const rows = readFileSync(join(result.saveDir, 'results.csv'), 'utf8').trim().split('\n').slice(1);
    expect(rows.map((r) => Number(r.split(',')[0]))).toEqual([1, 2, 3, 4, 5]);
  });

  it('reports weights it cannot load as MODEL_UNAVAILABLE (exit 3)', async () => {
    const bad = join(base, 'broken.pt');
    writeFileSync(bad, 'not a checkpoint');
    const err = await failureOf(train({ model: bad }).promise);
    expect(err).toMatchObject({ code: 'MODEL_UNAVAILABLE', exitCode: 3 });
    expect(err.message).toMatch(/^cannot load \/.*\/broken\.pt: JSONDecodeError: /);
  });

  it('turns a framework exception into TrainingFailedError with the Python message and traceback', async () => {
    const err = await failureOf(train({ trainImages: 0 }).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toMatch(/^no training images in \//);
    expect(err.detail).toMatch(/Traceback[\s\S]*ValueError: no training images/);
  });
});

describe('preflight and resolveTask', () => {
  const config = parseConfigObject(hfConfigSchema, { epochs: 1 });
  const preflight = (env: NodeJS.ProcessEnv, modelName = 'standin-s') =>
    createHfDriver().preflight({ jobId: 'j', modelName, config, task: 'classify', workDir: mkdtempSync(join(base, 'pre-')), logger: captureLogger().logger, env });

  it('passes when Python can import the framework', async () => {
    await expect(preflight(testEnv())).resolves.toBeUndefined();
  });

  it('fails with MODEL_UNAVAILABLE and the install command when Python cannot run', async () => {
    const err = await failureOf(preflight({ TRAINER_PYTHON: join(base, 'no-python') }));
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err.exitCode).toBe(3);
    expect(err.problems[1]).toMatch(/-m pip install -r .*requirements\.txt/);
  });

  it('fails for a local model file that does not exist, before touching Python', async () => {
    const err = await failureOf(preflight({ TRAINER_PYTHON: join(base, 'no-python') }, join(base, 'nope.pt')));
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err.message).toBe(`model_name: file not found: ${join(base, 'nope.pt')}`);
  });

  it('resolveTask checks the model name, the task and primary_metric', () => {
    const driver = createHfDriver();
    const parse = (raw: Record<string, unknown>) => parseConfigObject(hfConfigSchema, raw);
    expect(driver.resolveTask('standin-s', parse({}))).toBe('classify');
    expect(driver.resolveTask('standin-m', parse({ task: 'detect' }))).toBe('detect');
    expect(() => driver.resolveTask('standin-s', parse({ task: 'pose' }))).toThrow(ConfigError);
    expect(() => driver.resolveTask('standin-s', parse({ primary_metric: 'mAP50' }))).toThrow(/config\.primary_metric/);
    expect(() => driver.resolveTask('no-such-model', parse({}))).toThrow(ModelUnavailableError);
  });
});

describe('config', () => {
  it('refuses unknown keys with a suggestion and owned keys with the reason, one line each', () => {
    let err: unknown;
    try {
      parseConfigObject(hfConfigSchema, { epoch: 3, output_dir: '/tmp/x', lr: -1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems;
    expect(problems).toHaveLength(3);
    expect(problems).toContain('config.epoch: unknown key (did you mean "epochs"?)');
    expect(problems).toContain('config.output_dir: not allowed, the trainer chooses the run directory inside WORK_DIR');
    expect(problems.find((p) => p.startsWith('config.lr: '))).toMatch(/\(got -1\)$/);
  });
});

describe('--describe', () => {
  it('publishes the tasks, their dataset formats and metrics', () => {
    const d = createHfDriver().describe();
    expect(d.tasks).toEqual(['classify', 'detect']);
    expect(d.dataset_formats).toEqual({ classify: 'imagefolder', detect: 'yolo' });
    expect(d.default_primary_metric).toEqual({ classify: 'accuracy_top1', detect: 'mAP50-95' });
  });
});
