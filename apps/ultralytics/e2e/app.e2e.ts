/**
 * The built `trainer-ultralytics` run as a child process, the way a Kubernetes Job runs it, training REAL
 * Ultralytics (the pinned venv from `npm run setup`, or TRAINER_PYTHON) against a real s3rver, a real callback
 * receiver (HMAC checked) and a real MLflow server. Assertions are on what arrived: exact callback bodies (with
 * the framework's own results.csv as the oracle), S3 bytes, what the MLflow server holds, exit codes and stderr.
 * The test double stands in only where the real framework cannot fail on cue: a crash mid-epoch.
 * Build first (`npx nx build ultralytics`; the nx test target does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  frameworkPython,
  missingReal,
  startCallbackReceiver,
  startMlflowServer,
  startS3Server,
  writeShapesDataset,
  type CallbackReceiver,
  type MlflowServer,
  type ReceivedCallback,
  type S3TestServer,
} from '@trainers/trainer-contract/testing';
import { APP_ROOT, SYSTEM_PYTHON, readCheckpoint } from './support/fake.js';
import { appEnv, assertBuilt, processesMentioning, startApp, type AppResult, type AppRun } from './support/app.js';
import { getObject, listKeys, testS3Client, uploadDir, uploadFile, zipDir } from './support/s3.js';
import { canonicalOf, rawMetricsOf, readResultsCsv } from './support/expected.js';

const SECRET = 'whsec_' + Buffer.from('ultralytics-e2e-signing-key-32by').toString('base64');
const BUCKET = 'ckpts';

let s3: S3TestServer;
let mlflow: MlflowServer;
/** Real Ultralytics; under CI=true its absence fails the suite instead of skipping it. */
const REAL_PYTHON = frameworkPython(APP_ROOT) ?? missingReal('Ultralytics (npm run setup, or TRAINER_PYTHON)');
/** Small enough for 2 CPU cores: the generated images are 32 px. */
const REAL_CONFIG = { imgsz: 32, batch: 4, workers: 0, device: 'cpu', plots: false };
let client: S3Client;
let root: string;

beforeAll(async () => {
  assertBuilt();
  if (!frameworkPython(APP_ROOT)) throw new Error(REAL_PYTHON);
  root = mkdtempSync(join(tmpdir(), 'ul-app-e2e-'));
  s3 = await startS3Server({ buckets: ['datasets', BUCKET] });
  mlflow = await startMlflowServer();
  client = testS3Client(s3.env);
  // detect, segment and classify read one DICEFormat folder under a prefix; pose gets a keypoint dataset as a zip.
  const shapes = join(root, 'shapes');
  await writeShapesDataset(shapes, { images: 12, size: 32 });
  await uploadDir(client, shapes, 'datasets', 'shapes');
  const shapes24 = join(root, 'shapes-24');
  await writeShapesDataset(shapes24, { images: 30, size: 32, seed: 7 });
  await uploadDir(client, shapes24, 'datasets', 'shapes-24');
  const pose = join(root, 'shapes-pose');
  await writeShapesDataset(pose, { images: 12, size: 32, keypoints: true });
  zipDir(pose, join(root, 'shapes-pose.zip'));
  await uploadFile(client, join(root, 'shapes-pose.zip'), 'datasets', 'archives/shapes-pose.zip');
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await mlflow?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Job {
  jobId: string;
  model: string;
  dataset?: string;
  config?: object;
  rx?: CallbackReceiver;
  callbackUrl?: string;
  env?: NodeJS.ProcessEnv;
  /** The test double instead of Ultralytics (only for failures the real one cannot produce on cue). */
  fake?: boolean;
  /** Distinguishes the work dir of a restarted pod. */
  attempt?: number;
}

interface Launched {
  run: AppRun;
  workDir: string;
  cwd: string;
}

function launch(job: Job): Launched {
  const tag = `${job.jobId}-${job.attempt ?? 1}`;
  const workDir = join(root, `work-${tag}`);
  // A dedicated cwd shows whether anything is written outside WORK_DIR.
  const cwd = join(root, `cwd-${tag}`);
  mkdirSync(cwd, { recursive: true });
  const callbackUrl = job.callbackUrl ?? job.rx?.url;
  const args = [
    '--job-id', job.jobId,
    '--model-name', job.model,
    '--dataset-s3-uri', job.dataset ?? 's3://datasets/shapes/',
    '--config', JSON.stringify({ ...(job.fake ? {} : REAL_CONFIG), ...(job.config ?? { epochs: 2 }) }),
    '--work-dir', workDir,
    ...(callbackUrl ? ['--callback-url', callbackUrl] : []),
  ];
  const env = appEnv(
    {
      ...s3.env,
      S3_BUCKET: BUCKET,
      MLFLOW_TRACKING_URI: mlflow.uri,
      CALLBACK_SECRET: SECRET,
      CALLBACK_RETRIES: '2',
      CALLBACK_TIMEOUT: '5',
      TERMINATION_LOG: join(root, `termination-${tag}.log`),
      // Epochs a little apart, so each epoch's progress is usually delivered before the next replaces it.
      FAKE_ULTRALYTICS_BATCH_SECONDS: '0.03',
      PYTHONDONTWRITEBYTECODE: '1',
      ...(job.fake ? {} : { TRAINER_PYTHON: REAL_PYTHON }),
      ...job.env,
    },
    { fake: job.fake ?? false },
  );
  return { run: startApp(args, env, cwd), workDir, cwd };
}

async function runJob(job: Job): Promise<AppResult & { workDir: string; cwd: string }> {
  const { run, workDir, cwd } = launch(job);
  const result = await run.done;
  noteStray(job.jobId, result.stderr);
  return { ...result, workDir, cwd };
}

const json = (r: ReceivedCallback) => r.json as Record<string, unknown>;
/**
 * results.csv (the oracle) prints `%.6g`; the bridge reports what Ultralytics computed, rounded to 5 decimals. So a
 * value matches to 5 decimals, or to 6 significant digits for values of 10 and more.
 */
function approx<T>(value: T): T {
  if (typeof value === 'number') return expect.closeTo(value, value === 0 ? 5 : Math.min(5, 5 - Math.floor(Math.log10(Math.abs(value))))) as T;
  if (Array.isArray(value)) return value.map(approx) as T;
  if (value && typeof value === 'object' && !(value as { asymmetricMatch?: unknown }).asymmetricMatch) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, approx(v)])) as T;
  return value;
}
// Epoch progress only; the phases around training (staging, converting, uploading) carry another `phase`.
const progressOf = (rx: CallbackReceiver, status = 'running') => rx.received.filter((r) => r.kind === 'progress' && json(r)['status'] === status && (json(r)['phase'] ?? 'training') === 'training');
const completionsOf = (rx: CallbackReceiver) => rx.received.filter((r) => r.kind === 'completion');
const runNamed = (jobId: string) => mlflow.read.runsNamed(`job-${jobId}`);
/** A metric's history on the server as [step, value] pairs. */
const history = (run: { metrics: Record<string, Array<{ step: number; value: number }>> }, key: string) => (run.metrics[key] ?? []).map((m) => [m.step, m.value]);
const percent = (e: number, n: number) => Math.round((e / n) * 10000) / 100;
/** The app's own stderr lines: one per problem, each prefixed with the script name. */
const problems = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('trainer-ultralytics: '));
/** Everything else on stderr (Node or SDK warnings): collected here and checked once, in its own test. */
const strayStderr: Array<{ job: string; text: string }> = [];
function noteStray(job: string, stderr: string): void {
  const text = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('trainer-ultralytics: ')).join('\n');
  if (text) strayStderr.push({ job, text });
}
const noStack = (text: string) => expect(text).not.toMatch(/^\s+at .+\(.*:\d+:\d+\)$|^\s+at .+:\d+:\d+$|Traceback \(most recent call last\)/m);

/** Every callback arrived signed, on the contract's path, as JSON. */
function expectWellFormed(rx: CallbackReceiver, jobId: string): void {
  for (const r of rx.received) {
    expect(r.path).toBe(`/api/v1/training/jobs/${jobId}/callback/${r.kind}`);
    expect(r.headers['content-type']).toBe('application/json');
    expect(r.headers['webhook-id']).toEqual(expect.any(String));
    expect(r.signatureValid).toBe(true);
  }
}

/**
 * Progress is "newest wins" (CONTRACT §4): an epoch may be superseded before it is sent, but the first and the
 * last always arrive, in order, and every body that arrives is exact for its epoch.
 */
function expectProgress(rx: CallbackReceiver, jobId: string, totalEpochs: number, expectedFor: (epoch: number) => { metrics: Record<string, number>; raw: Record<string, number> }, firstEpoch = 1): void {
  const bodies = progressOf(rx).map(json);
  const epochs = bodies.map((b) => b['current_epoch'] as number);
  expect(epochs[0]).toBe(firstEpoch);
  expect(epochs.at(-1)).toBe(totalEpochs);
  expect(epochs).toEqual([...epochs].sort((a, b) => a - b));
  expect(new Set(epochs).size).toBe(epochs.length);
  for (const body of bodies) {
    const epoch = body['current_epoch'] as number;
    const { metrics, raw } = expectedFor(epoch);
    expect(body).toEqual({
      job_id: Number(jobId),
      status: 'running',
      current_epoch: epoch,
      total_epochs: totalEpochs,
      progress_percent: percent(epoch, totalEpochs),
      metrics: approx({ ...metrics, extra_metrics: raw }),
      epoch_time: expect.any(Number),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
      phase: 'training',
    });
  }
}

async function expectS3CheckpointsMatch(jobId: string, workDir: string): Promise<void> {
  const weights = join(workDir, 'run', 'weights');
  expect((await getObject(client, BUCKET, `checkpoints/${jobId}/best.pt`)).equals(readFileSync(join(weights, 'best.pt')))).toBe(true);
  expect((await getObject(client, BUCKET, `checkpoints/${jobId}/last.pt`)).equals(readFileSync(join(weights, 'last.pt')))).toBe(true);
}

describe('trainer-ultralytics end to end (built app, real Ultralytics, s3rver, callbacks, real MLflow)', () => {
  it.each([
    ['detect', 'yolov8n.yaml', 's3://datasets/shapes/', 'mAP50-95'],
    ['segment', 'yolo11n-seg.yaml', 's3://datasets/shapes/', 'mAP50-95(M)'],
    ['pose', 'yolov8n-pose.yaml', 's3://datasets/archives/shapes-pose.zip', 'mAP50-95(P)'],
    ['classify', 'yolo11n-cls.yaml', 's3://datasets/shapes/', 'accuracy_top1'],
  ])('%s (%s from %s): exact callbacks with the task’s canonical metrics, primary %s, the run in MLflow', async (task, model, dataset, primary) => {
    const jobId = { detect: '301', segment: '302', pose: '303', classify: '304' }[task]!;
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      // classify: at 32 px a last batch of one image would break BatchNorm (the config check refuses it).
      const r = await runJob({ jobId, model, dataset, rx, config: { epochs: 2, ...(task === 'classify' ? { imgsz: 64 } : {}) } });
      expect(problems(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      expectWellFormed(rx, jobId);

      // What the framework recorded for each epoch is the oracle for what the backend must be told.
      const rows = readResultsCsv(join(r.workDir, 'run', 'results.csv'));
      expect(rows.map((row) => row['epoch'])).toEqual([1, 2]);
      const raw = (e: number) => rawMetricsOf(rows[e - 1]!);
      expectProgress(rx, jobId, 2, (e) => ({ metrics: canonicalOf(raw(e)), raw: raw(e) }));
      const canonical = canonicalOf(raw(1));
      if (task === 'segment') expect(Object.keys(canonical)).toEqual(expect.arrayContaining(['mAP50', 'mAP50-95', 'mAP50(M)', 'mAP50-95(M)', 'precision(M)', 'seg_loss', 'loss', 'val_loss']));
      if (task === 'pose') expect(Object.keys(canonical)).toEqual(expect.arrayContaining(['mAP50-95', 'mAP50-95(P)', 'recall(P)', 'pose_loss', 'kobj_loss']));
      if (task === 'classify') expect(Object.keys(canonical).sort()).toEqual(['accuracy_top1', 'accuracy_top5', 'loss', 'val_loss']);

      const [run, ...others] = await runNamed(jobId);
      expect(others).toHaveLength(0);
      const completions = completionsOf(rx);
      expect(completions).toHaveLength(1);
      // The best epoch is the one whose metrics best.pt was saved with (Ultralytics' own record, not a formula).
      const best = json(completions[0]!)['best_epoch'] as number;
      expect([1, 2]).toContain(best);
      expect(json(completions[0]!)).toEqual({
        job_id: Number(jobId),
        status: 'completed',
        final_metrics: approx(canonicalOf(raw(best))),
        checkpoint_path: `s3://${BUCKET}/checkpoints/${jobId}/best.pt`,
        mlflow_run_id: run!.info.run_id,
        primary_metric: primary,
        primary_metric_value: approx(canonicalOf(raw(best))[primary]),
        best_epoch: best,
        timestamp: expect.any(String),
      });

      await expectS3CheckpointsMatch(jobId, r.workDir);
      // The final best.pt is Ultralytics' stripped one (final_eval ran).
      const bestPath = join(root, `best-${jobId}.pt`);
      writeFileSync(bestPath, await getObject(client, BUCKET, `checkpoints/${jobId}/best.pt`));
      expect(readCheckpoint(REAL_PYTHON, bestPath)).toMatchObject({ epoch: -1, hasOptimizer: false });
      expect(await listKeys(client, BUCKET, `checkpoints/${jobId}/`)).toEqual(
        expect.arrayContaining(['args.yaml', 'best.pt', 'classes.json', 'last.pt', 'results.csv'].map((f) => `checkpoints/${jobId}/${f}`)),
      );

      // What the MLflow server holds: status, params, every epoch's metrics with its step, the artifacts.
      expect(run!.info.status).toBe('FINISHED');
      expect(run!.params['epochs']).toBe('2');
      expect(run!.params['model_name']).toBe(model);
      expect(run!.tags['best_epoch']).toBe(String(best));
      // MLflow keys cannot hold parentheses: `mAP50-95(M)` is stored under an `_M` spelling.
      const wanted = primary.replace(/\(([A-Z])\)/g, '_$1');
      const key = Object.keys(run!.metrics).find((k) => k === wanted || k === `${wanted}_`);
      expect(key).toBeDefined();
      expect(history(run!, key!)).toEqual([1, 2].map((e) => [e, approx(canonicalOf(raw(e))[primary])]));
      expect(history(run!, 'loss')).toEqual([1, 2].map((e) => [e, approx(canonicalOf(raw(e))['loss'])]));
      expect(Object.keys(await mlflow.read.artifacts(run!.info.run_id))).toEqual(expect.arrayContaining(['results.csv', 'args.yaml', 'classes.json', 'dataset-report.json']));
      expect((await mlflow.read.download(run!.info.run_id, 'results.csv')).equals(readFileSync(join(r.workDir, 'run', 'results.csv')))).toBe(true);
      if (task === 'detect') {
        expect(JSON.parse((await getObject(client, BUCKET, 'checkpoints/301/classes.json')).toString())).toEqual([
          { index: 0, id: 1, name: 'square' },
          { index: 1, id: 2, name: 'circle' },
          { index: 2, id: 3, name: 'triangle' },
        ]);
        expect(history(run!, 'metrics/mAP50-95_B_')).toEqual([1, 2].map((e) => [e, approx(raw(e)['metrics/mAP50-95(B)'])]));
        expect(readdirSync(r.cwd)).toEqual([]);
      }
    } finally {
      await rx.close();
    }
  });

  // The double: a real framework cannot be made to crash halfway through an epoch on cue.
  it('a Python crash mid-epoch (test double): exit 1, failed completion with the message, MLflow FAILED, last good last.pt kept', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const r = await runJob({ jobId: '305', model: 'yolov8n', rx, fake: true, config: { epochs: 3 }, env: { FAKE_ULTRALYTICS_CRASH_AT_EPOCH: '2', FAKE_ULTRALYTICS_BATCHES: '4' } });
      expect(r.code).toBe(1);
      expect(problems(r.stderr)).toEqual(['trainer-ultralytics: fake_ultralytics: simulated crash in epoch 2']);
      noStack(r.stderr);
      expect(r.termination).toEqual({ code: 'TRAINING_FAILED', message: 'fake_ultralytics: simulated crash in epoch 2', exit_code: 1, retriable: true });
      expect(processesMentioning(join(r.workDir, 'ultralytics-job.json'))).toEqual([]);
      expectWellFormed(rx, '305');
      expect(progressOf(rx).map((p) => json(p)['current_epoch'])).toEqual([1]);

      const [run] = await runNamed('305');
      const completions = completionsOf(rx);
      expect(completions).toHaveLength(1);
      expect(json(completions[0]!)).toEqual({
        job_id: 305,
        status: 'failed',
        final_metrics: {},
        checkpoint_path: null,
        mlflow_run_id: run!.info.run_id,
        error: { code: 'TRAINING_FAILED', message: 'fake_ultralytics: simulated crash in epoch 2', exit_code: 1, retriable: true },
        timestamp: expect.any(String),
      });
      expect(run!.info.status).toBe('FAILED');
      expect(run!.tags['error_code']).toBe('TRAINING_FAILED');
      // The traceback's tail reaches the log (not the backend).
      const pythonErr = r.logs.filter((l) => l['src'] === 'python:stderr').map((l) => l['msg']);
      expect(pythonErr).toContain('RuntimeError: fake_ultralytics: simulated crash in epoch 2');
      // Epoch 1's resumable checkpoint is kept for a retry.
      const lastPath = join(root, 'last-305.pt');
      writeFileSync(lastPath, await getObject(client, BUCKET, 'checkpoints/305/last.pt'));
      expect(readCheckpoint(SYSTEM_PYTHON, lastPath, { fake: true })).toMatchObject({ epoch: 0, hasOptimizer: true });
    } finally {
      await rx.close();
    }
  });

  it('completion receiver down: exit 2, and best.pt is in S3 anyway', async () => {
    const rx = await startCallbackReceiver();
    const url = rx.url;
    await rx.close(); // nothing listens there any more: connection refused on every attempt
    const r = await runJob({ jobId: '306', model: 'yolov8n.yaml', callbackUrl: url, config: { epochs: 1 }, env: { CALLBACK_RETRIES: '1' } });
    expect(r.code).toBe(2);
    expect(r.termination).toMatchObject({ code: 'CALLBACK_UNDELIVERED', exit_code: 2 });
    expect(problems(r.stderr)).toEqual([expect.stringMatching(/^trainer-ultralytics: completion callback to .*\/jobs\/306\/callback\/completion failed after 2 attempt\(s\): ECONNREFUSED$/)]);
    noStack(r.stderr);
    await expectS3CheckpointsMatch('306', r.workDir);
    expect((await runNamed('306'))[0]!.info.status).toBe('FINISHED');
  });

  it('SIGTERM mid-epoch: exit 143, resumable last.pt, interrupted progress, MLflow KILLED; a restart resumes and finishes in the same run', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const epochs = 4;
      // Real training: 24 train images at batch 2 make an epoch of a dozen batches, so the signal lands inside one.
      const first = launch({ jobId: '307', model: 'yolov8n.yaml', dataset: 's3://datasets/shapes-24/', rx, config: { epochs, batch: 2 } });
      await rx.waitFor((all) => all.some((c) => c.kind === 'progress' && (json(c)['current_epoch'] as number) >= 2), 60_000);
      await new Promise((r) => setTimeout(r, 150));
      first.run.child.kill('SIGTERM');
      const stopped = await first.run.done;
      noteStray('307', stopped.stderr);
      expect(stopped.code).toBe(143);
      expect(stopped.termination).toMatchObject({ code: 'INTERRUPTED', exit_code: 143 });
      // The bridge stopped with the app: no Python left training on its own.
      expect(processesMentioning(join(first.workDir, 'ultralytics-job.json'))).toEqual([]);
      noStack(stopped.stderr);
      expect(completionsOf(rx)).toHaveLength(0);
      expectWellFormed(rx, '307');

      const interrupted = progressOf(rx, 'interrupted');
      expect(interrupted).toHaveLength(1);
      const saved = json(interrupted[0]!)['current_epoch'] as number;
      expect(saved).toBeGreaterThanOrEqual(2);
      expect(saved).toBeLessThan(epochs);
      expect(json(interrupted[0]!)).toEqual({
        job_id: 307,
        status: 'interrupted',
        current_epoch: saved,
        total_epochs: epochs,
        progress_percent: percent(saved, epochs),
        metrics: { extra_metrics: {} },
        timestamp: expect.any(String),
      });
      // last.pt in S3 is the last complete epoch, with its optimizer state: resumable, not a stripped final.
      const lastPath = join(root, 'last-307.pt');
      writeFileSync(lastPath, await getObject(client, BUCKET, 'checkpoints/307/last.pt'));
      expect(readCheckpoint(REAL_PYTHON, lastPath)).toMatchObject({ epoch: saved - 1, hasOptimizer: true });
      expect(existsSync(join(first.workDir, 'run', 'weights', 'best.pt'))).toBe(true);
      const runs = await runNamed('307');
      expect(runs).toHaveLength(1);
      expect(runs[0]!.info.status).toBe('KILLED');
      const runId = runs[0]!.info.run_id;

      // The rescheduled pod: same job id, a fresh WORK_DIR.
      const before = rx.received.length;
      const second = await runJob({ jobId: '307', model: 'yolov8n.yaml', dataset: 's3://datasets/shapes-24/', rx, config: { epochs, batch: 2 }, attempt: 2 });
      expect(problems(second.stderr)).toEqual([]);
      expect(second.code).toBe(0);
      expect(second.logs.some((l) => l['msg'] === `resuming at epoch ${saved + 1}`)).toBe(true);
      const after = { received: rx.received.slice(before) } as CallbackReceiver;
      const rows = readResultsCsv(join(second.workDir, 'run', 'results.csv'));
      expect(rows.map((row) => row['epoch'])).toEqual([1, 2, 3, 4]);
      expectProgress(after, '307', epochs, (e) => ({ metrics: canonicalOf(rawMetricsOf(rows[e - 1]!)), raw: rawMetricsOf(rows[e - 1]!) }), saved + 1);
      const completions = completionsOf(after);
      expect(completions).toHaveLength(1);
      const best = json(completions[0]!)['best_epoch'] as number;
      expect(json(completions[0]!)).toMatchObject({ status: 'completed', final_metrics: approx(canonicalOf(rawMetricsOf(rows[best - 1]!))), mlflow_run_id: runId, checkpoint_path: `s3://${BUCKET}/checkpoints/307/best.pt` });
      await expectS3CheckpointsMatch('307', second.workDir);

      // One MLflow run across both pods, FINISHED, with every epoch's step once.
      const finished = await runNamed('307');
      expect(finished).toHaveLength(1);
      expect(finished[0]!.info.status).toBe('FINISHED');
      expect(finished[0]!.metrics['mAP50-95']!.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    } finally {
      await rx.close();
    }
  });

  it('a bad model name: exit 3, one line, no stack trace, nothing staged', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const r = await runJob({ jobId: '308', model: 'yolov99z', rx, fake: true });
      expect(r.code).toBe(3);
      expect(r.stderr).toMatch(/^trainer-ultralytics: model_name: "yolov99z" is not an Ultralytics model; use a release name [^\n]*\n$/);
      noStack(r.stdout + r.stderr);
      expect(r.termination).toMatchObject({ code: 'MODEL_UNAVAILABLE', exit_code: 3 });
      expect(existsSync(join(r.workDir, 'download'))).toBe(false);
      expect(readdirSync(r.cwd)).toEqual([]);
      expect(completionsOf(rx).map(json)).toEqual([expect.objectContaining({ status: 'failed', error: expect.objectContaining({ code: 'MODEL_UNAVAILABLE' }) })]);
    } finally {
      await rx.close();
    }
  });

  it('ultralytics not importable: exit 3 MODEL_UNAVAILABLE naming the install command, before any download', async () => {
    // Where the system Python has a real Ultralytics, a package that fails to import stands in for its absence.
    const env: NodeJS.ProcessEnv = {};
    if (spawnSync(SYSTEM_PYTHON, ['-c', 'import ultralytics'], { stdio: 'ignore', env: { ...process.env, YOLO_CONFIG_DIR: join(root, 'probe-config'), YOLO_OFFLINE: 'True' } }).status === 0) {
      const shadow = join(root, 'no-ultralytics', 'ultralytics');
      mkdirSync(shadow, { recursive: true });
      writeFileSync(join(shadow, '__init__.py'), 'raise ModuleNotFoundError("No module named \'ultralytics\'")\n');
      env['PYTHONPATH'] = join(root, 'no-ultralytics');
    }
    const r = await runJob({ jobId: '309', model: 'yolov8n', env: { TRAINER_PYTHON: SYSTEM_PYTHON, ...env } });
    expect(r.code).toBe(3);
    expect(r.termination).toMatchObject({ code: 'MODEL_UNAVAILABLE', exit_code: 3 });
    expect(r.stderr).toContain(`install it with: ${SYSTEM_PYTHON} -m pip install -r ${join(APP_ROOT, 'requirements.txt')}`);
    expect(r.stderr).toContain("No module named 'ultralytics'");
    for (const line of r.stderr.trim().split('\n')) expect(line).toMatch(/^trainer-ultralytics: /);
    noStack(r.stdout + r.stderr);
    expect(existsSync(join(r.workDir, 'download'))).toBe(false);
    expect(await runNamed('309')).toHaveLength(0);
  });

  // Runs last: a Job's stderr is what `kubectl logs` and the termination message show, so it carries the
  // problems and nothing else (no Node or SDK warnings).
  it('writes nothing but its own problem lines to stderr in any of the runs above', () => {
    expect(strayStderr).toEqual([]);
  });
});

describe('the bundle', () => {
  it('ships the converter\'s annotation worker beside main.js, and the converter can run on it', async () => {
    const worker = join(APP_ROOT, 'dist', 'convert-worker.js');
    expect(existsSync(worker)).toBe(true);
    const dir = join(root, 'bundle-worker');
    await writeShapesDataset(join(dir, 'in'), { images: 12 });
    const { prepareDataset, createLogger } = await import('@trainers/trainer-contract');
    const tuning = { workerScript: worker, workerThresholdBytes: 0, workers: 1, batchBytes: 256 };
    const r = await prepareDataset({ inputDir: join(dir, 'in'), outputDir: join(dir, 'out'), task: 'detect', logger: createLogger({ level: 'silent' }), tuning });
    expect(r.report.annotationThreads).toBe(2);
    expect(r.report.annotations.kept).toBe(r.report.annotations.listed);
  });
});
