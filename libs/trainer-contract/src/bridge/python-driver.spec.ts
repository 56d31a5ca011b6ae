import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { defineConfig, parseConfigObject } from '../config/index.js';
import { ConfigError, InterruptedError, ModelUnavailableError, TrainingFailedError } from '../errors/index.js';
import { captureLogger, failureOf, trainWith } from '../testing/index.js';
import type { TrainContext } from '../lifecycle/types.js';
import { bridgeRuntimeDir, createPythonBridgeDriver } from './index.js';

const PYTHON = '/usr/bin/python3';

// A framework in a few lines: it trains nothing, but reports like one, on the shared runtime.
const BRIDGE = `
import json, os, time
from pathlib import Path
from trainer_bridge import run

with open("bridge-pids", "a") as f:  # cwd is the work dir: one line per bridge process started
    f.write(f"{os.getpid()}\\n")

def train(ctx):
    spec = ctx.spec
    Path(spec["work_dir"], "seen-spec.json").write_text(json.dumps(spec))
    Path(spec["work_dir"], "seen-env.json").write_text(json.dumps(dict(os.environ)))
    Path(spec["work_dir"], "seen-pid").write_text(str(os.getpid()))
    if spec["fail"]:
        raise RuntimeError("framework exploded")
    run_dir = Path(spec["run_dir"])
    weights = run_dir / "weights"
    weights.mkdir(parents=True, exist_ok=True)
    epochs = spec["epochs"]
    start = json.loads(Path(spec["resume"]).read_text())["epoch"] if spec["resume"] else 0
    ctx.train_start(epochs=epochs, start_epoch=start, save_dir=run_dir)
    for epoch in range(start + 1, epochs + 1):
        for step in range(5):
            ctx.raise_if_stopped()
            ctx.heartbeat(step)
            time.sleep(float(os.environ.get("STEP_S", "0")))
        (weights / "last.pt").write_text(json.dumps({"epoch": epoch}))
        ctx.checkpoint("last", weights / "last.pt", epoch)
        ctx.epoch_end(epoch, {"raw/acc": epoch / 10, "raw/loss": 1 / epoch}, lr={"lr/pg0": 0.1}, epoch_time=0.01)
    if spec["write_best"]:
        (weights / "best.pt").write_text("best")
    (run_dir / "results.csv").write_text("epoch\\n")
    (run_dir / "notes.txt").write_text("not an artifact")
    ctx.train_end(epochs, {"raw/acc": epochs / 10}, run_dir)

def known(name):
    if name == "boom":
        raise LookupError("no registry")
    return {"known": name == "demo-s", "pid": os.getpid()}

run(train, check=known)
`;

const schema = defineConfig({ lr: z.number().default(0.1) });
type Config = z.output<typeof schema>;
let base: string;
let appRoot: string;
beforeAll(() => {
  base = mkdtempSync(join(tmpdir(), 'python-driver-'));
  appRoot = join(base, 'app');
  mkdirSync(join(appRoot, 'python'), { recursive: true });
  writeFileSync(join(appRoot, 'python', 'bridge.py'), BRIDGE);
  writeFileSync(join(appRoot, 'requirements.txt'), '');
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

function driver(env: NodeJS.ProcessEnv = {}, testedRange = '>=2.0,<3', more: { distributed?: boolean } = {}) {
  return createPythonBridgeDriver<Config>({ ...more, ...driverOptions(env, testedRange) });
}

function driverOptions(env: NodeJS.ProcessEnv = {}, testedRange = '>=2.0,<3') {
  return {
    name: 'demo',
    version: '1.2.3',
    framework: { name: 'Demo', module: 'json', testedRange, pinned: '2.0.9' },
    appRoot,
    configSchema: schema as never,
    tasks: ['classify', 'detect'],
    resolveTask: (_model, config) => (config.task as 'classify' | undefined) ?? 'classify',
    datasetFormat: (task) => (task === 'classify' ? 'imagefolder' : 'coco'),
    canonicalMetrics: (_task, raw) => ({ ...(raw['raw/acc'] !== undefined ? { accuracy_top1: raw['raw/acc'] } : {}), ...(raw['raw/loss'] !== undefined ? { loss: raw['raw/loss'] } : {}) }),
    metricNames: (task) => (task === 'classify' ? ['loss', 'accuracy_top1'] : ['loss', 'mAP50-95']),
    defaultPrimaryMetric: (task) => (task === 'classify' ? 'accuracy_top1' : 'mAP50-95'),
    buildSpec: (ctx) => ({ epochs: ctx.config.epochs, fail: ctx.modelName === 'explode', write_best: ctx.modelName !== 'no-best' }),
    childEnv: (_env, workDir) => ({ DEMO_CONFIG_DIR: join(workDir, 'demo-config') }),
    env: { PATH: process.env['PATH'], TRAINER_PYTHON: PYTHON, ...env },
    killGraceMs: 5000,
  } satisfies Parameters<typeof createPythonBridgeDriver<Config>>[0];
}

function capture() {
  const { logger, lines } = captureLogger();
  return { logger, records: () => lines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>) };
}

function train(o: { model?: string; env?: NodeJS.ProcessEnv; epochs?: number; resumeFrom?: string; abortAfterEpoch?: number } = {}) {
  const workDir = mkdtempSync(join(base, 'work-'));
  const dataset = {
    root: join(base, 'ds'),
    task: 'classify',
    format: 'imagefolder',
    source: 'diceformat',
    imageFolder: { train: join(base, 'ds', 'train'), val: join(base, 'ds', 'val') },
    classes: [{ index: 0, id: 7, name: 'cat' }],
    report: {},
  } as unknown as TrainContext['dataset'];
  const run = trainWith(driver(o.env), {
    modelName: o.model ?? 'demo-s',
    config: parseConfigObject(schema, { epochs: o.epochs ?? 3 }),
    task: 'classify',
    dataset,
    workDir,
    ...(o.resumeFrom ? { resumeFrom: o.resumeFrom } : {}),
    stopWhen: (e) => e.kind === 'epoch' && e.epoch === o.abortAfterEpoch,
  });
  const seen = (f: string) => JSON.parse(readFileSync(join(workDir, f), 'utf8')) as Record<string, unknown>;
  const records = () => run.lines.flatMap((l) => l.split('\n')).filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  return { ...run, workDir, seen, records };
}

describe('createPythonBridgeDriver: train', () => {
  it('runs the bridge on the runtime: epochs, published checkpoints, heartbeats and the assembled result', async () => {
    const run = train({ env: { TRAINER_HEARTBEAT_S: '0' } });
    const result = await run.promise;
    expect(run.epochs.map((e) => [e.epoch, e.totalEpochs])).toEqual([[1, 3], [2, 3], [3, 3]]);
    expect(run.epochs[0]).toMatchObject({ metrics: { accuracy_top1: 0.1, loss: 1 }, rawMetrics: { 'raw/acc': 0.1, 'raw/loss': 1 }, lr: { 'lr/pg0': 0.1 }, epochTime: 0.01 });
    const snapshots = join(run.workDir, 'checkpoint-snapshots');
    expect(run.checkpoints).toEqual([1, 2, 3].map((epoch) => ({ kind: 'last', path: join(snapshots, 'last.pt'), epoch })));
    expect(run.records().filter((l) => l['msg'] === 'heartbeat')).toHaveLength(15);
    expect(result).toEqual({
      bestEpoch: 3,
      finalMetrics: { accuracy_top1: 0.3 },
      rawFinalMetrics: { 'raw/acc': 0.3 },
      bestCheckpoint: join(run.workDir, 'run', 'weights', 'best.pt'),
      lastCheckpoint: join(run.workDir, 'run', 'weights', 'last.pt'),
      artifacts: [join(run.workDir, 'run', 'results.csv')],
      saveDir: join(run.workDir, 'run'),
    });
  });

  it('writes one spec: the common keys, the dataset in the format asked for, then the framework keys', async () => {
    const run = train({ epochs: 1 });
    await run.promise;
    expect(run.seen('seen-spec.json')).toEqual({
      task: 'classify',
      work_dir: run.workDir,
      run_dir: join(run.workDir, 'run'),
      resume: null,
      resume_best: null,
      checkpoint_interval: 1,
      snapshot_dir: join(run.workDir, 'checkpoint-snapshots'),
      dataset: { format: 'imagefolder', root: join(base, 'ds'), data_yaml: null, coco: null, image_folder: { train: join(base, 'ds', 'train'), val: join(base, 'ds', 'val') }, classes: ['cat'] },
      epochs: 1,
      fail: false,
      write_best: true,
    });
    expect(existsSync(join(run.workDir, 'demo-job.json'))).toBe(true);
  });

  it('gives the child no credentials, the runtime first on PYTHONPATH and its caches in the work dir', async () => {
    const run = train({ epochs: 1, env: { AWS_SECRET_ACCESS_KEY: 'aws-sekrit-7f3e', CALLBACK_TOKEN: 'callback-tok-7f3e', MLFLOW_TRACKING_PASSWORD: 'mlflow-pw-7f3e', PYTHONPATH: 'relative/dir' } });
    await run.promise;
    const env = run.seen('seen-env.json') as Record<string, string>;
    expect(Object.keys(env).filter((k) => /AWS|CALLBACK|MLFLOW/.test(k))).toEqual([]);
    expect(env['PYTHONPATH']!.split(':')).toEqual([bridgeRuntimeDir(), join(process.cwd(), 'relative/dir')]);
    expect(env).toMatchObject({
      HF_HOME: join(run.workDir, 'cache', 'huggingface'),
      TORCH_HOME: join(run.workDir, 'cache', 'torch'),
      MPLCONFIGDIR: join(run.workDir, 'cache', 'matplotlib'),
      XDG_CACHE_HOME: join(run.workDir, 'cache'),
      DEMO_CONFIG_DIR: join(run.workDir, 'demo-config'),
    });
    // Secrets long enough that a random temp dir name cannot contain them by chance.
    expect(run.lines.join('')).not.toMatch(/aws-sekrit-7f3e|callback-tok-7f3e|mlflow-pw-7f3e/);
  });

  it('stops at a step on abort (exit 143 → InterruptedError) and resumes from the published last.pt', async () => {
    const first = train({ epochs: 4, env: { STEP_S: '0.2' }, abortAfterEpoch: 1 });
    expect(await failureOf(first.promise)).toBeInstanceOf(InterruptedError);
    expect(first.epochs.map((e) => e.epoch)).toEqual([1]);
    const last = first.checkpoints.at(-1)!;
    expect(JSON.parse(readFileSync(last.path, 'utf8'))).toEqual({ epoch: 1 });
    const second = train({ epochs: 4, resumeFrom: last.path });
    await second.promise;
    expect(second.epochs.map((e) => e.epoch)).toEqual([2, 3, 4]);
    expect(second.seen('seen-spec.json')['resume']).toBe(last.path);
  });

  it('turns an exception in the framework into TrainingFailedError with the traceback', async () => {
    const err = await failureOf(train({ model: 'explode' }).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toBe('framework exploded');
    expect(err.detail).toMatch(/Traceback[\s\S]*RuntimeError: framework exploded/);
  });

  it('fails when training ends without the best checkpoint', async () => {
    const run = train({ model: 'no-best', epochs: 1 });
    const err = await failureOf(run.promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toBe(`training finished without a best.pt in ${join(run.workDir, 'run')}/weights`);
  });
});

describe('createPythonBridgeDriver: before training', () => {
  const config = parseConfigObject(schema, {});
  const preflight = (d: ReturnType<typeof driver>, env: NodeJS.ProcessEnv = {}) => {
    const { logger, records } = capture();
    const done = d.preflight({ jobId: 'j', modelName: 'demo-s', config, task: 'classify', workDir: mkdtempSync(join(base, 'pre-')), logger, env });
    return { done, records };
  };

  it('checks that Python imports the framework and logs its version', async () => {
    const { done, records } = preflight(driver());
    await done;
    const lines = records();
    expect(lines.find((l) => l['msg'] === 'json is importable')).toMatchObject({ python: PYTHON, json: expect.stringMatching(/^2\./) });
    expect(lines.filter((l) => l['level'] === 'warn')).toEqual([]);
  });

  it('warns when the version is outside the tested range', async () => {
    const { done, records } = preflight(driver({}, '>=3.0,<3.1'));
    await done;
    expect(records().find((l) => l['level'] === 'warn')?.['msg']).toMatch(/^json 2\.[\d.]+ is outside the tested range >=3\.0,<3\.1$/);
  });

  it('fails with MODEL_UNAVAILABLE and the install command when the framework does not import', async () => {
    const err = await failureOf(preflight(driver(), { TRAINER_PYTHON: join(base, 'no-python') }).done);
    expect(err).toBeInstanceOf(ModelUnavailableError);
    expect(err.exitCode).toBe(3);
    expect(err.problems[0]).toMatch(/^json cannot be imported by .*no-python: cannot run /);
    expect(err.problems[1]).toBe(`install it with: ${join(base, 'no-python')} -m pip install -r ${join(appRoot, 'requirements.txt')} (or set TRAINER_PYTHON to a Python that has it)`);
  });

  it("the app's own checks: one without Python fails before any Python starts, its probe's answer or failure counts once the framework imports", async () => {
    type Preflight = NonNullable<Parameters<typeof createPythonBridgeDriver<Config>>[0]['preflight']>;
    const withPreflight = (check: Preflight, env: NodeJS.ProcessEnv = {}) => {
      const { logger } = capture();
      const d = createPythonBridgeDriver<Config>({ ...driverOptions(env), preflight: check });
      return d.preflight({ jobId: 'j', modelName: 'demo-s', config, task: 'classify', workDir: mkdtempSync(join(base, 'pre-')), logger, env: {} });
    };
    const noPython = { TRAINER_PYTHON: join(base, 'no-python') };
    const early = await failureOf(withPreflight(() => { throw new ModelUnavailableError('model_name: /m.pt: no such file'); }, noPython));
    expect(early.problems).toEqual(['model_name: /m.pt: no such file']);
    expect(await withPreflight(() => Promise.resolve('detect'))).toBe('detect');
    const refused = await failureOf(withPreflight(() => Promise.reject(new ModelUnavailableError('model_name: "resnt18" is not a demo model'))));
    expect(refused.problems).toEqual(['model_name: "resnt18" is not a demo model']);
    // A probe that fails because the framework is missing: the missing framework is what the user needs to hear.
    const missing = await failureOf(withPreflight(() => Promise.reject(new ModelUnavailableError('probe failed')), noPython));
    expect(missing.problems[0]).toMatch(/^json cannot be imported by .*no-python/);
  });

  it('the import check is the bridge itself: started by preflight, it trains the job in the same process', async () => {
    const d = driver();
    const { logger, records } = capture();
    const workDir = mkdtempSync(join(base, 'warm-'));
    await d.preflight({ jobId: 'j', modelName: 'demo-s', config, task: 'classify', workDir, logger, env: {} });
    expect(records().find((l) => l['msg'] === 'json is importable')).toMatchObject({ json: expect.stringMatching(/^2\./) });
    const pids = () => readFileSync(join(workDir, 'bridge-pids'), 'utf8').trim().split('\n');
    expect(pids()).toHaveLength(1); // imported, now waiting for its spec
    const dataset = { root: join(base, 'ds'), task: 'classify', format: 'imagefolder', source: 'diceformat', classes: [{ index: 0, id: 7, name: 'cat' }], report: {} } as unknown as TrainContext['dataset'];
    const run = trainWith(d, { modelName: 'demo-s', config: parseConfigObject(schema, { epochs: 2 }), task: 'classify', dataset, workDir });
    expect((await run.promise).bestEpoch).toBe(2);
    expect(pids()).toEqual([readFileSync(join(workDir, 'seen-pid'), 'utf8')]);
  });

  it("the app's check is answered by the bridge that imports the framework and then trains; under torchrun by a bridge of its own", async () => {
    type Answer = { result?: { known: boolean; pid: number }; error?: string };
    const answers: Answer[] = [];
    const asking = (names: string[]) =>
      createPythonBridgeDriver<Config>({
        ...driverOptions(),
        preflight: async (ctx) => {
          for (const name of names) answers.push((await ctx.check([name])) as Answer);
        },
      });
    const { logger } = capture();
    const workDir = mkdtempSync(join(base, 'check-'));
    const d = asking(['demo-s', 'other', 'boom']);
    await d.preflight({ jobId: 'j', modelName: 'demo-s', config, task: 'classify', workDir, logger, env: {} });
    const pids = () => readFileSync(join(workDir, 'bridge-pids'), 'utf8').trim().split('\n').map(Number);
    expect(pids()).toHaveLength(1); // no second Python for the checks
    expect(answers).toEqual([{ result: { known: true, pid: pids()[0] } }, { result: { known: false, pid: pids()[0] } }, { error: 'LookupError: no registry' }]);
    const dataset = { root: join(base, 'ds'), task: 'classify', format: 'imagefolder', source: 'diceformat', classes: [{ index: 0, id: 7, name: 'cat' }], report: {} } as unknown as TrainContext['dataset'];
    await trainWith(d, { modelName: 'demo-s', config: parseConfigObject(schema, { epochs: 1 }), task: 'classify', dataset, workDir }).promise;
    expect(readFileSync(join(workDir, 'seen-pid'), 'utf8')).toBe(String(pids()[0]));

    answers.length = 0;
    const ddpDir = mkdtempSync(join(base, 'check-ddp-'));
    await asking(['demo-s']).preflight({ jobId: 'j', modelName: 'demo-s', config: parseConfigObject(schema, { nproc_per_node: 2 }), task: 'classify', workDir: ddpDir, logger, env: {} });
    expect(answers).toEqual([{ result: { known: true, pid: expect.any(Number) } }]);
    expect(readFileSync(join(ddpDir, 'bridge-pids'), 'utf8').trim().split('\n').map(Number)).toEqual([answers[0]!.result!.pid]);
  });

  it('a preloaded bridge killed before its job trains is a failed run, told by how it died', async () => {
    const d = driver();
    const { logger } = capture();
    const workDir = mkdtempSync(join(base, 'killed-'));
    await d.preflight({ jobId: 'j', modelName: 'demo-s', config, task: 'classify', workDir, logger, env: {} });
    const pid = Number(readFileSync(join(workDir, 'bridge-pids'), 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`).length > 0; i++) execFileSync('sleep', ['0.05']);
    const dataset = { root: join(base, 'ds'), task: 'classify', format: 'imagefolder', source: 'diceformat', classes: [{ index: 0, id: 7, name: 'cat' }], report: {} } as unknown as TrainContext['dataset'];
    const err = await failureOf(trainWith(d, { modelName: 'demo-s', config: parseConfigObject(schema, { epochs: 1 }), task: 'classify', dataset, workDir }).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toMatch(/killed by SIGKILL/);
  });

  it('a bridge started by preflight for a job that then fails before training ends when the trainer does', () => {
    // A separate Node process runs preflight and exits: the waiting bridge sees EOF on its stdin and exits too.
    const workDir = mkdtempSync(join(base, 'orphan-'));
    const script = [
      `const { createPythonBridgeDriver } = await import(${JSON.stringify(new URL('../../dist/bridge/index.js', import.meta.url).href)});`,
      `const d = createPythonBridgeDriver(${JSON.stringify({ name: 'demo', version: '1', framework: { module: 'json', testedRange: '>=2.0,<3' }, appRoot, tasks: ['classify'], env: { PATH: process.env['PATH'], TRAINER_PYTHON: PYTHON } })});`,
      `const logger = { info() {}, warn() {}, debug() {}, error() {}, child() { return logger; } };`,
      `await d.preflight({ jobId: 'j', modelName: 'm', config: {}, task: 'classify', workDir: ${JSON.stringify(workDir)}, logger, env: {} });`,
    ].join('\n');
    execFileSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 60_000 });
    const pid = Number(readFileSync(join(workDir, 'bridge-pids'), 'utf8').trim());
    // Gone, or a zombie waiting for init to reap it: either way no longer running.
    const running = () => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && running(); i++) execFileSync('sleep', ['0.05']);
    expect(running()).toBe(false);
  });

  it('a bridge that is not distributed refuses a run of several processes, from the config or from torchrun\'s env', async () => {
    const single = driver({}, undefined, { distributed: false });
    const two = parseConfigObject(schema, { nproc_per_node: 2 });
    const { logger } = capture();
    const at = (c: Config, env: NodeJS.ProcessEnv) => single.preflight({ jobId: 'j', modelName: 'demo-s', config: c, task: 'classify', workDir: mkdtempSync(join(base, 'pre-')), logger, env });
    const err = await failureOf(at(two, {}));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.problems[0]).toBe('config.nproc_per_node=2: trainer-demo trains in one process; drop nproc_per_node, list one device, or run it outside torchrun');
    expect((await failureOf(at(config, { PET_NNODES: '2' }))).problems[0]).toMatch(/^torchrun environment \(PET_NNODES=2, .*trainer-demo trains in one process/);
    await at(config, {});
    await driver().preflight({ jobId: 'j', modelName: 'demo-s', config: two, task: 'classify', workDir: mkdtempSync(join(base, 'pre-')), logger, env: {} });
  });

  it('refuses a task the app does not train and a primary metric the task does not report', () => {
    const d = driver();
    expect(d.resolveTask('demo-s', parseConfigObject(schema, { task: 'detect', primary_metric: 'mAP50-95' }))).toBe('detect');
    expect(() => d.resolveTask('demo-s', parseConfigObject(schema, { task: 'pose' }))).toThrow(new ConfigError('config.task: "pose" is not supported by trainer-demo; use one of classify, detect'));
    expect(() => d.resolveTask('demo-s', parseConfigObject(schema, { primary_metric: 'mAP50' }))).toThrow(
      new ConfigError('config.primary_metric: "mAP50" is not reported for classify; choose one of loss, accuracy_top1'),
    );
  });

  it('describes the framework, tasks, formats, metrics and checkpoints', () => {
    const d = driver();
    expect(d.datasetFormat('detect')).toBe('coco');
    expect(d.describe()).toEqual({
      framework: { name: 'Demo', module: 'json', tested_range: '>=2.0,<3', pinned: '2.0.9' },
      tasks: ['classify', 'detect'],
      dataset_formats: { classify: 'imagefolder', detect: 'coco' },
      metrics: { classify: ['loss', 'accuracy_top1'], detect: ['loss', 'mAP50-95'] },
      default_primary_metric: { classify: 'accuracy_top1', detect: 'mAP50-95' },
      checkpoints: { best: 'best.pt', last: 'last.pt' },
    });
  });
});
