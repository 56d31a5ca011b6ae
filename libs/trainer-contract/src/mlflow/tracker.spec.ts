import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../log/index.js';
import { startMlflowFaultProxy, type MlflowFaultProxyOptions, type MlflowFaultProxy } from '../testing/mlflow-faults.js';
import { startMlflowServer, type MlflowServer, type StoredRun } from '../testing/mlflow-server.js';
import { createTracker, type Tracker } from './index.js';

// What the tracker sent is read back from a real MLflow server; the fault proxy in front of it records requests
// and plays the failures a real server cannot produce on cue. Each test has an experiment of its own.
let real: MlflowServer;
let srv: MlflowFaultProxy;
let dir: string;
let experiment: string;
let n = 0;
beforeAll(async () => {
  real = await startMlflowServer();
}, 180_000);
afterAll(async () => {
  await real?.close();
});
beforeEach(async () => {
  srv = await startMlflowFaultProxy(real.uri);
  dir = await mkdtemp(join(tmpdir(), 'mlflow-tracker-'));
  experiment = `tracker-${process.pid}-${++n}`;
});
afterEach(async () => {
  await srv.close();
  await rm(dir, { recursive: true, force: true });
});

async function reproxy(opts: MlflowFaultProxyOptions): Promise<void> {
  await srv.close();
  srv = await startMlflowFaultProxy(real.uri, opts);
}

interface LogLine {
  level: string;
  msg: string;
  mlflow?: string;
  [k: string]: unknown;
}

function capture() {
  const lines: LogLine[] = [];
  let raw = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      raw += chunk.toString();
      for (const l of chunk.toString().split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      done();
    },
  });
  return { logger: createLogger({ stream, pretty: false, level: 'debug' }), lines, raw: () => raw };
}

// A real server on a loaded CI machine can take seconds per call; only the hang test wants a short timeout.
function tracker(env: NodeJS.ProcessEnv, logger = capture().logger, extra: { timeoutMs?: number } = {}): Tracker {
  return createTracker({ env: { MLFLOW_EXPERIMENT_NAME: experiment, ...env }, logger, defaultExperiment: 'ultralytics', timeoutMs: extra.timeoutMs ?? 5000, retries: 1, retryDelayMs: 10, maxBackoffMs: 100 });
}

const START = { jobId: '42', trainer: 'ultralytics', trainerVersion: '1.2.3', task: 'detect', modelName: 'yolov8n.pt' };

const warnings = (lines: LogLine[]) => lines.filter((l) => l.level === 'warn');
const onlyRun = async (name = experiment): Promise<StoredRun> => {
  const runs = await real.read.runsNamed('job-42', name);
  expect(runs).toHaveLength(1);
  return runs[0]!;
};
/** A run's metric points as [key, step, value], in step order per key. */
const points = (run: StoredRun) => Object.entries(run.metrics).flatMap(([key, list]) => list.map((m) => [key, m.step, m.value] as [string, number, number]));

describe('createTracker without MLFLOW_TRACKING_URI', () => {
  it('is disabled and says so in exactly one info line', async () => {
    const log = capture();
    const t = createTracker({ env: {}, logger: log.logger, defaultExperiment: 'x' });
    expect(t.enabled).toBe(false);
    expect(await t.start(START)).toBeNull();
    t.logParams({ a: 1 });
    t.logMetrics(1, { loss: 1 });
    t.setTags({ a: 'b' });
    t.logArtifact('/nonexistent');
    await t.finish('FINISHED');
    expect(t.runId).toBeNull();
    expect(log.lines).toEqual([expect.objectContaining({ level: 'info', msg: 'MLflow tracking is off: MLFLOW_TRACKING_URI is not set' })]);
  });
});

describe('Tracker against a healthy server', () => {
  it('records the whole job: run, tags, flattened params, metrics per epoch, artifacts, final status', async () => {
    const log = capture();
    const env = { MLFLOW_TRACKING_URI: srv.uri, MLFLOW_EXPERIMENT_NAME: `${experiment}-detect`, MLFLOW_TRACKING_TOKEN: 'sekrit-token-value', USER: 'alice' };
    const t = tracker(env, log.logger);
    const runId = await t.start({ ...START, tags: { team: 'vision' } });
    expect(runId).toMatch(/^[0-9a-f]{32}$/);
    expect(t.runId).toBe(runId);

    t.logParams({ epochs: 3, optimizer: { name: 'SGD', lr: 0.01, nested: { momentum: 0.9 } }, classes: ['cat', 'dog'], callback_token: 'abc', note: 'uses sekrit-token-value' });
    const before = srv.requests.length;
    for (let epoch = 1; epoch <= 3; epoch++) t.logMetrics(epoch, { loss: 1 / epoch, 'metrics/mAP50(B)': epoch / 10, nan_metric: NaN });
    // Queued, not sent inside the call.
    expect(srv.requests.length).toBe(before);
    await writeFile(join(dir, 'results.csv'), 'epoch,loss\n1,1\n');
    await mkdir(join(dir, 'plots', 'pr'), { recursive: true });
    await writeFile(join(dir, 'plots', 'confusion_matrix.png'), Buffer.from([1, 2, 3]));
    await writeFile(join(dir, 'plots', 'pr', 'curve.png'), Buffer.from([4, 5]));
    t.logArtifact(join(dir, 'results.csv'));
    t.logArtifact(join(dir, 'plots'), 'plots');
    await t.finish('FINISHED', { tags: { best_epoch: '3' } });

    const run = await onlyRun(`${experiment}-detect`);
    expect(run.info).toMatchObject({ run_id: runId, run_name: 'job-42', user_id: 'alice', status: 'FINISHED' });
    expect(Number(run.info.end_time)).toBeGreaterThan(0);
    expect(run.tags).toMatchObject({
      'mlflow.runName': 'job-42',
      'mlflow.source.name': 'ultralytics',
      'mlflow.source.type': 'JOB',
      'mlflow.user': 'alice',
      job_id: '42',
      trainer: 'ultralytics',
      trainer_version: '1.2.3',
      task: 'detect',
      model_name: 'yolov8n.pt',
      team: 'vision',
      best_epoch: '3',
    });
    expect(run.params).toEqual({
      model_name: 'yolov8n.pt',
      epochs: '3',
      'optimizer.name': 'SGD',
      'optimizer.lr': '0.01',
      'optimizer.nested.momentum': '0.9',
      classes: '["cat","dog"]',
      callback_token: '***',
      note: 'uses ***',
    });
    const all = points(run);
    expect(all).toHaveLength(9);
    expect(all).toContainEqual(['metrics/mAP50_B_', 2, 0.2]);
    expect(all).toContainEqual(['loss', 3, 1 / 3]);
    expect(run.metrics['nan_metric']!.map((m) => m.step)).toEqual([1, 2, 3]);
    expect(run.metrics['nan_metric']!.every((m) => Number.isNaN(m.value))).toBe(true);
    expect(await real.read.artifacts(runId!)).toEqual({ 'plots/confusion_matrix.png': 3, 'plots/pr/curve.png': 2, 'results.csv': 15 });
    expect(await real.read.download(runId!, 'plots/pr/curve.png')).toEqual(Buffer.from([4, 5]));
    // Status last, after all data.
    expect(srv.requests.at(-1)!.path).toMatch(/runs\/update$/);
    expect(srv.requests.every((r) => r.headers.authorization === 'Bearer sekrit-token-value')).toBe(true);
    expect(log.raw()).not.toContain('sekrit-token-value');
    expect(warnings(log.lines)).toEqual([]);
  });

  it('batches many metrics and params within the limits', async () => {
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri });
    await t.start(START);
    t.logParams(Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`p${i}`, i])));
    const many = Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`m${i}`, i]));
    t.logMetrics(1, many);
    t.logMetrics(2, many);
    await t.finish('FINISHED');
    // 1500 keys: the latest point of each from runs/get, the full history of a few (one call per key).
    const [found] = await real.read.runsNamed('job-42', experiment);
    const latest = (await real.read.call('GET', 'runs/get', { run_id: found!.info.run_id })).json.run.data;
    expect(latest.metrics).toHaveLength(1500);
    expect(new Set(latest.metrics.map((m: { step: number }) => m.step))).toEqual(new Set([2]));
    for (const key of ['m0', 'm777', 'm1499']) {
      const h = await real.read.call('GET', 'metrics/get-history', { run_id: found!.info.run_id, metric_key: key, max_results: 10 });
      expect(h.json.metrics.map((m: { step: number }) => m.step).sort()).toEqual([1, 2]);
    }
    expect(latest.params).toHaveLength(151);
    for (const r of srv.requestsTo('runs/log-batch')) {
      const b = r.json as { metrics?: unknown[]; params?: unknown[]; tags?: unknown[] };
      expect(r.status).toBe(200);
      expect((b.metrics?.length ?? 0) + (b.params?.length ?? 0) + (b.tags?.length ?? 0)).toBeLessThanOrEqual(1000);
      expect(b.params?.length ?? 0).toBeLessThanOrEqual(100);
    }
  });

  it('uses basic auth from the username/password variables and never logs the password', async () => {
    await reproxy({ auth: { username: 'bob', password: 'hunter2-long-password' } });
    const log = capture();
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri, MLFLOW_TRACKING_USERNAME: 'bob', MLFLOW_TRACKING_PASSWORD: 'hunter2-long-password' }, log.logger);
    expect(await t.start(START)).not.toBeNull();
    t.logParams({ db: 'postgres://bob:hunter2-long-password@db/x' });
    await t.finish('FINISHED');
    const run = await onlyRun();
    expect(run.params['db']).not.toContain('hunter2');
    expect(srv.requests.some((r) => r.status === 401)).toBe(false);
    expect(run.info.user_id).toBe('bob');
    expect(log.raw()).not.toContain('hunter2');
  });
});

describe('Tracker when MLflow misbehaves', () => {
  it('starts without a run while the server is down and sends everything once it is back', async () => {
    const log = capture();
    await srv.setDown(true);
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    expect(await t.start(START)).toBeNull();
    for (let epoch = 1; epoch <= 5; epoch++) t.logMetrics(epoch, { loss: epoch });
    t.logParams({ epochs: 5 });
    await new Promise((r) => setTimeout(r, 300));
    await srv.setDown(false);
    await t.finish('FINISHED', { deadlineMs: 5000 });
    const run = await onlyRun();
    expect(t.runId).toBe(run.info.run_id);
    expect(run.info.status).toBe('FINISHED');
    expect(run.metrics['loss']!.map((m) => m.step)).toEqual([1, 2, 3, 4, 5]);
    expect(run.params['epochs']).toBe('5');
    expect(warnings(log.lines).map((l) => l.mlflow)).toEqual(['start:NETWORK_ERROR']);
  });

  it('finishes within the deadline with runId null when the server never comes back', async () => {
    const log = capture();
    await srv.setDown(true);
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    expect(await t.start(START)).toBeNull();
    for (let epoch = 1; epoch <= 20; epoch++) t.logMetrics(epoch, { loss: epoch });
    await t.finish('FAILED', { deadlineMs: 1000 });
    expect(t.runId).toBeNull();
    const warned = warnings(log.lines);
    expect(warned.map((l) => l.mlflow)).toEqual(['start:NETWORK_ERROR', 'no-run']);
    expect(warned[1]!.msg).toContain('20 metric points');
  });

  it('keeps data through calls that hang past the timeout, with one warning for them', async () => {
    const log = capture();
    // 1 s, not less: start() waits that long for the run, and a loaded CI machine can take most of a second for it.
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger, { timeoutMs: 1000 });
    await t.start(START);
    srv.failNext(4, 'hang');
    for (let epoch = 1; epoch <= 4; epoch++) t.logMetrics(epoch, { loss: epoch });
    await t.finish('FINISHED', { deadlineMs: 20_000 });
    const run = await onlyRun();
    expect(run.info.status).toBe('FINISHED');
    expect([...new Set(run.metrics['loss']!.map((m) => m.step))]).toEqual([1, 2, 3, 4]);
    expect(warnings(log.lines).map((l) => l.mlflow)).toEqual(['params:TIMEOUT']);
    expect(srv.requests.filter((r) => r.injected === 'hang')).toHaveLength(4);
  });

  it('fails N calls, recovers, and logs everything with one warning per kind', async () => {
    const log = capture();
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    await t.start(START);
    await new Promise((r) => setTimeout(r, 100));
    srv.failNext(5, 'html500');
    srv.failNext(3, 'reset');
    for (let epoch = 1; epoch <= 10; epoch++) {
      t.logMetrics(epoch, { loss: 1 / epoch, acc: epoch / 10 });
      await new Promise((r) => setTimeout(r, 20));
    }
    await t.finish('FINISHED', { deadlineMs: 8000 });
    const run = await onlyRun();
    expect(run.info.status).toBe('FINISHED');
    const steps = run.metrics['loss']!.map((m) => m.step);
    expect([...new Set(steps)].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const kinds = warnings(log.lines).map((l) => l.mlflow);
    expect(new Set(kinds).size).toBe(kinds.length);
    expect(kinds.length).toBeLessThanOrEqual(2);
    expect(srv.requests.filter((r) => r.injected)).toHaveLength(8);
  });

  it('turns tracking off with a clear warning when the experiment is deleted', async () => {
    const log = capture();
    const id = (await real.read.call('POST', 'experiments/create', { name: experiment })).json.experiment_id as string;
    await real.read.call('POST', 'experiments/delete', { experiment_id: id });
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    expect(await t.start(START)).toBeNull();
    t.logMetrics(1, { loss: 1 });
    await t.finish('FINISHED', { deadlineMs: 2000 });
    expect(srv.requestsTo('runs/create')).toHaveLength(0);
    const warned = warnings(log.lines);
    expect(warned).toHaveLength(1);
    expect(warned[0]!.msg).toContain(`MLflow experiment '${experiment}' (id ${id}) is deleted`);
  });

  it('stops quietly when the run is deleted during training', async () => {
    const log = capture();
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    const runId = (await t.start(START))!;
    await new Promise((r) => setTimeout(r, 100));
    await real.read.call('POST', 'runs/delete', { run_id: runId });
    const before = srv.requests.length;
    for (let epoch = 1; epoch <= 3; epoch++) t.logMetrics(epoch, Object.fromEntries(Array.from({ length: 700 }, (_, i) => [`m${i}`, i])));
    // A deadline a loaded CI machine cannot reach: finish returns once the queue is done, and a 3 s one once ran out
    // before the first batch went out (a fresh-clone run saw no request at all).
    await t.finish('FINISHED', { deadlineMs: 30_000 });
    expect(points(await real.read.run(runId))).toHaveLength(0);
    // One rejected batch, then nothing more is sent.
    expect(srv.requests.slice(before).map((r) => r.path.split('/').pop())).toEqual(['log-batch']);
    expect(warnings(log.lines).map((l) => l.mlflow)).toEqual(['metrics:INVALID_PARAMETER_VALUE']);
  });
});

describe('Tracker resume', () => {
  it('continues the same run on a restart of the job', async () => {
    const first = tracker({ MLFLOW_TRACKING_URI: srv.uri });
    const runId = await first.start(START);
    first.logParams({ epochs: 4, lr: 0.01 });
    first.logMetrics(1, { loss: 1 });
    first.logMetrics(2, { loss: 0.5 });
    await first.finish('KILLED');
    expect((await real.read.run(runId!)).info.status).toBe('KILLED');

    const log = capture();
    const second = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    expect(await second.start({ ...START, trainerVersion: '1.2.4', existingRunId: runId })).toBe(runId);
    second.logParams({ epochs: 4, lr: 0.02 });
    second.logMetrics(3, { loss: 0.25 });
    second.logMetrics(4, { loss: 0.125 });
    await second.finish('FINISHED');

    const run = await onlyRun();
    expect(run.info.status).toBe('FINISHED');
    expect(run.metrics['loss']!.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    expect(run.params).toMatchObject({ epochs: '4', lr: '0.01' });
    expect(run.tags['trainer_version']).toBe('1.2.4');
    expect(srv.requests.some((r) => r.status === 400)).toBe(false);
    const conflict = warnings(log.lines).find((l) => l.mlflow === 'param-conflict');
    expect(conflict?.msg).toContain("lr (logged '0.01', now '0.02')");
  });

  it('starts a new run when the previous one is gone', async () => {
    const log = capture();
    const t = tracker({ MLFLOW_TRACKING_URI: srv.uri }, log.logger);
    const runId = await t.start({ ...START, existingRunId: 'f'.repeat(32) });
    expect(runId).not.toBeNull();
    expect(runId).not.toBe('f'.repeat(32));
    await t.finish('FINISHED');
    expect((await onlyRun()).info.status).toBe('FINISHED');
    expect(warnings(log.lines).map((l) => l.mlflow)).toEqual(['resume-missing']);
  });
});
