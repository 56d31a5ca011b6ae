/**
 * The built `trainer-ultralytics` run as a child process, the way a Kubernetes Job runs it, with the Ultralytics
 * test double on PYTHONPATH, against a real s3rver, a real callback receiver (HMAC checked) and the MLflow test
 * server. Assertions are on what arrived: exact callback bodies, S3 bytes, MLflow runs, exit codes and stderr.
 * Build first (`npx nx build ultralytics`; the nx test target does it).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import {
  startCallbackReceiver,
  startMlflowServer,
  startS3Server,
  writeShapesDataset,
  type CallbackReceiver,
  type MlflowTestServer,
  type ReceivedCallback,
  type S3TestServer,
} from '@trainers/trainer-contract/testing';
import { APP_ROOT, SYSTEM_PYTHON, readFakeCheckpoint } from './support/fake.js';
import { appEnv, assertBuilt, processesMentioning, startApp, type AppResult, type AppRun } from './support/app.js';
import { getObject, listKeys, testS3Client, uploadDir, uploadFile, zipDir } from './support/s3.js';
import { bestEpochOf, canonicalOf, rawMetricsOf, readResultsCsv } from './support/expected.js';

const SECRET = 'whsec_' + Buffer.from('ultralytics-e2e-signing-key-32by').toString('base64');
const BUCKET = 'ckpts';

let s3: S3TestServer;
let mlflow: MlflowTestServer;
let client: S3Client;
let root: string;

beforeAll(async () => {
  assertBuilt();
  root = mkdtempSync(join(tmpdir(), 'ul-app-e2e-'));
  s3 = await startS3Server({ buckets: ['datasets', BUCKET] });
  mlflow = await startMlflowServer();
  client = testS3Client(s3.env);
  // detect, segment and classify read one DICEFormat folder under a prefix; pose gets a keypoint dataset as a zip.
  const shapes = join(root, 'shapes');
  await writeShapesDataset(shapes, { images: 12, size: 32 });
  await uploadDir(client, shapes, 'datasets', 'shapes');
  const pose = join(root, 'shapes-pose');
  await writeShapesDataset(pose, { images: 12, size: 32, keypoints: true });
  zipDir(pose, join(root, 'shapes-pose.zip'));
  await uploadFile(client, join(root, 'shapes-pose.zip'), 'datasets', 'archives/shapes-pose.zip');
});

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
    '--config', JSON.stringify(job.config ?? { epochs: 2 }),
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
      ...job.env,
    },
    { fake: job.fake ?? true },
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
const progressOf = (rx: CallbackReceiver, status = 'running') => rx.received.filter((r) => r.kind === 'progress' && json(r)['status'] === status);
const completionsOf = (rx: CallbackReceiver) => rx.received.filter((r) => r.kind === 'completion');
const runNamed = (jobId: string) => Object.values(mlflow.state.runs).filter((r) => r.info.run_name === `job-${jobId}`);
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
      metrics: { ...metrics, extra_metrics: raw },
      epoch_time: expect.any(Number),
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/),
    });
  }
}

async function expectS3CheckpointsMatch(jobId: string, workDir: string): Promise<void> {
  const weights = join(workDir, 'run', 'weights');
  expect((await getObject(client, BUCKET, `checkpoints/${jobId}/best.pt`)).equals(readFileSync(join(weights, 'best.pt')))).toBe(true);
  expect((await getObject(client, BUCKET, `checkpoints/${jobId}/last.pt`)).equals(readFileSync(join(weights, 'last.pt')))).toBe(true);
}

describe('trainer-ultralytics end to end (built app, fake Ultralytics, s3rver, callbacks, MLflow)', () => {
  it('detect: exact progress per epoch, completion from the best epoch, best.pt in S3, MLflow FINISHED', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const r = await runJob({ jobId: '301', model: 'yolov8n', rx, config: { epochs: 3 }, env: { FAKE_ULTRALYTICS_BEST_EPOCH: '2' } });
      expect(problems(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      expectWellFormed(rx, '301');

      // The double's numbers for quality q = e/(e+3), peaking at epoch 2 (epoch 3 falls back to q = 0.35).
      const expected: Record<number, { metrics: Record<string, number>; raw: Record<string, number> }> = {
        1: {
          metrics: { box_loss: 1.7, cls_loss: 1.75, dfl_loss: 1.8, precision: 0.45, recall: 0.35, mAP50: 0.2, 'mAP50-95': 0.125, val_box_loss: 2.175, val_cls_loss: 2.275, val_dfl_loss: 2.375, loss: 5.25, val_loss: 6.825 },
          raw: { 'train/box_loss': 1.7, 'train/cls_loss': 1.75, 'train/dfl_loss': 1.8, 'metrics/precision(B)': 0.45, 'metrics/recall(B)': 0.35, 'metrics/mAP50(B)': 0.2, 'metrics/mAP50-95(B)': 0.125, 'val/box_loss': 2.175, 'val/cls_loss': 2.275, 'val/dfl_loss': 2.375 },
        },
        2: {
          metrics: { box_loss: 1.4, cls_loss: 1.45, dfl_loss: 1.5, precision: 0.54, recall: 0.44, mAP50: 0.32, 'mAP50-95': 0.2, val_box_loss: 1.8, val_cls_loss: 1.9, val_dfl_loss: 2, loss: 4.35, val_loss: 5.7 },
          raw: { 'train/box_loss': 1.4, 'train/cls_loss': 1.45, 'train/dfl_loss': 1.5, 'metrics/precision(B)': 0.54, 'metrics/recall(B)': 0.44, 'metrics/mAP50(B)': 0.32, 'metrics/mAP50-95(B)': 0.2, 'val/box_loss': 1.8, 'val/cls_loss': 1.9, 'val/dfl_loss': 2 },
        },
        3: {
          metrics: { box_loss: 1.5, cls_loss: 1.55, dfl_loss: 1.6, precision: 0.51, recall: 0.41, mAP50: 0.28, 'mAP50-95': 0.175, val_box_loss: 1.925, val_cls_loss: 2.025, val_dfl_loss: 2.125, loss: 4.65, val_loss: 6.075 },
          raw: { 'train/box_loss': 1.5, 'train/cls_loss': 1.55, 'train/dfl_loss': 1.6, 'metrics/precision(B)': 0.51, 'metrics/recall(B)': 0.41, 'metrics/mAP50(B)': 0.28, 'metrics/mAP50-95(B)': 0.175, 'val/box_loss': 1.925, 'val/cls_loss': 2.025, 'val/dfl_loss': 2.125 },
        },
      };
      expectProgress(rx, '301', 3, (e) => expected[e]!);

      const [run, ...others] = runNamed('301');
      expect(others).toHaveLength(0);
      const completions = completionsOf(rx);
      expect(completions).toHaveLength(1);
      expect(json(completions[0]!)).toEqual({
        job_id: 301,
        status: 'completed',
        final_metrics: expected[2]!.metrics,
        checkpoint_path: `s3://${BUCKET}/checkpoints/301/best.pt`,
        mlflow_run_id: run!.info.run_id,
        primary_metric: 'mAP50-95',
        primary_metric_value: 0.2,
        best_epoch: 2,
        timestamp: expect.any(String),
      });

      await expectS3CheckpointsMatch('301', r.workDir);
      // The final best.pt is the double's stripped one (final_eval ran), and it is the epoch-2 weights.
      const bestPath = join(root, 'best-301.pt');
      writeFileSync(bestPath, await getObject(client, BUCKET, 'checkpoints/301/best.pt'));
      expect(readFakeCheckpoint(bestPath)).toMatchObject({ epoch: -1, hasOptimizer: false });
      expect(await listKeys(client, BUCKET, 'checkpoints/301/')).toEqual(
        expect.arrayContaining(['args.yaml', 'best.pt', 'classes.json', 'last.pt', 'results.csv'].map((f) => `checkpoints/301/${f}`)),
      );
      expect(JSON.parse((await getObject(client, BUCKET, 'checkpoints/301/classes.json')).toString())).toEqual([
        { index: 0, id: 1, name: 'square' },
        { index: 1, id: 2, name: 'circle' },
        { index: 2, id: 3, name: 'triangle' },
      ]);

      expect(run!.info.status).toBe('FINISHED');
      const points = (key: string) => run!.metrics.filter((m) => m.key === key).sort((a, b) => a.step - b.step).map((m) => [m.step, m.value]);
      expect(points('mAP50-95')).toEqual([[1, 0.125], [2, 0.2], [3, 0.175]]);
      expect(points('loss')).toEqual([[1, 5.25], [2, 4.35], [3, 4.65]]);
      expect(points('metrics/mAP50-95_B_')).toEqual([[1, 0.125], [2, 0.2], [3, 0.175]]);
      expect(run!.params['epochs']).toBe('3');
      expect(run!.params['model_name']).toBe('yolov8n');
      expect(readdirSync(r.cwd)).toEqual([]);
    } finally {
      await rx.close();
    }
  });

  it.each([
    ['segment', 'yolo11n-seg', 's3://datasets/shapes/', 'mAP50-95(M)'],
    ['pose', 'yolov8n-pose', 's3://datasets/archives/shapes-pose.zip', 'mAP50-95(P)'],
    ['classify', 'yolo11n-cls', 's3://datasets/shapes/', 'accuracy_top1'],
  ])('%s (%s from %s): exact callbacks with the task’s canonical metrics, primary %s', async (task, model, dataset, primary) => {
    const jobId = { segment: '302', pose: '303', classify: '304' }[task]!;
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const r = await runJob({ jobId, model, dataset, rx, config: { epochs: 2 } });
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

      const best = bestEpochOf(rows);
      const [run, ...others] = runNamed(jobId);
      expect(others).toHaveLength(0);
      const completions = completionsOf(rx);
      expect(completions).toHaveLength(1);
      expect(json(completions[0]!)).toEqual({
        job_id: Number(jobId),
        status: 'completed',
        final_metrics: canonicalOf(raw(best)),
        checkpoint_path: `s3://${BUCKET}/checkpoints/${jobId}/best.pt`,
        mlflow_run_id: run!.info.run_id,
        primary_metric: primary,
        primary_metric_value: canonicalOf(raw(best))[primary],
        best_epoch: best,
        timestamp: expect.any(String),
      });

      await expectS3CheckpointsMatch(jobId, r.workDir);
      expect(run!.info.status).toBe('FINISHED');
      // MLflow keys cannot hold parentheses: `mAP50-95(M)` is stored under an `_M` spelling.
      const wanted = primary.replace(/\(([A-Z])\)/g, '_$1');
      const key = [...new Set(run!.metrics.map((m) => m.key))].find((k) => k === wanted || k === `${wanted}_`);
      expect(key).toBeDefined();
      const points = run!.metrics.filter((m) => m.key === key).sort((a, b) => a.step - b.step).map((m) => [m.step, m.value]);
      expect(points).toEqual([1, 2].map((e) => [e, canonicalOf(raw(e))[primary]]));
    } finally {
      await rx.close();
    }
  });

  it('a Python crash mid-epoch: exit 1, failed completion with the message, MLflow FAILED, last good last.pt kept', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const r = await runJob({ jobId: '305', model: 'yolov8n', rx, config: { epochs: 3 }, env: { FAKE_ULTRALYTICS_CRASH_AT_EPOCH: '2', FAKE_ULTRALYTICS_BATCHES: '4' } });
      expect(r.code).toBe(1);
      expect(problems(r.stderr)).toEqual(['trainer-ultralytics: fake_ultralytics: simulated crash in epoch 2']);
      noStack(r.stderr);
      expect(r.termination).toEqual({ code: 'TRAINING_FAILED', message: 'fake_ultralytics: simulated crash in epoch 2', exit_code: 1 });
      expect(processesMentioning(join(r.workDir, 'ultralytics-job.json'))).toEqual([]);
      expectWellFormed(rx, '305');
      expect(progressOf(rx).map((p) => json(p)['current_epoch'])).toEqual([1]);

      const [run] = runNamed('305');
      const completions = completionsOf(rx);
      expect(completions).toHaveLength(1);
      expect(json(completions[0]!)).toEqual({
        job_id: 305,
        status: 'failed',
        final_metrics: {},
        checkpoint_path: null,
        mlflow_run_id: run!.info.run_id,
        error: { code: 'TRAINING_FAILED', message: 'fake_ultralytics: simulated crash in epoch 2' },
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
      expect(readFakeCheckpoint(lastPath)).toMatchObject({ epoch: 0, hasOptimizer: true });
    } finally {
      await rx.close();
    }
  });

  it('completion receiver down: exit 2, and best.pt is in S3 anyway', async () => {
    const rx = await startCallbackReceiver();
    const url = rx.url;
    await rx.close(); // nothing listens there any more: connection refused on every attempt
    const r = await runJob({ jobId: '306', model: 'yolov8n', callbackUrl: url, config: { epochs: 2 }, env: { CALLBACK_RETRIES: '1' } });
    expect(r.code).toBe(2);
    expect(r.termination).toMatchObject({ code: 'CALLBACK_UNDELIVERED', exit_code: 2 });
    expect(problems(r.stderr)).toEqual([expect.stringMatching(/^trainer-ultralytics: completion callback to .*\/jobs\/306\/callback\/completion failed after 2 attempt\(s\): ECONNREFUSED$/)]);
    noStack(r.stderr);
    await expectS3CheckpointsMatch('306', r.workDir);
    expect(runNamed('306')[0]!.info.status).toBe('FINISHED');
  });

  it('SIGTERM mid-epoch: exit 143, resumable last.pt, interrupted progress, MLflow KILLED; a restart resumes and finishes in the same run', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const epochs = 4;
      // 4 batches of 0.1 s: an epoch lasts ~0.4 s, so the signal lands inside one.
      const first = launch({ jobId: '307', model: 'yolov8n', rx, config: { epochs }, env: { FAKE_ULTRALYTICS_BATCH_SECONDS: '0.1', FAKE_ULTRALYTICS_BATCHES: '4' } });
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
      expect(readFakeCheckpoint(lastPath)).toMatchObject({ epoch: saved - 1, hasOptimizer: true });
      expect(existsSync(join(first.workDir, 'run', 'weights', 'best.pt'))).toBe(true);
      const runs = runNamed('307');
      expect(runs).toHaveLength(1);
      expect(runs[0]!.info.status).toBe('KILLED');
      const runId = runs[0]!.info.run_id;

      // The rescheduled pod: same job id, a fresh WORK_DIR.
      const before = rx.received.length;
      const second = await runJob({ jobId: '307', model: 'yolov8n', rx, config: { epochs }, attempt: 2 });
      expect(problems(second.stderr)).toEqual([]);
      expect(second.code).toBe(0);
      expect(second.logs.some((l) => l['msg'] === `resuming at epoch ${saved + 1}`)).toBe(true);
      const after = { received: rx.received.slice(before) } as CallbackReceiver;
      const rows = readResultsCsv(join(second.workDir, 'run', 'results.csv'));
      expect(rows.map((row) => row['epoch'])).toEqual([1, 2, 3, 4]);
      expectProgress(after, '307', epochs, (e) => ({ metrics: canonicalOf(rawMetricsOf(rows[e - 1]!)), raw: rawMetricsOf(rows[e - 1]!) }), saved + 1);
      const completions = completionsOf(after);
      expect(completions).toHaveLength(1);
      expect(json(completions[0]!)).toMatchObject({ status: 'completed', best_epoch: 4, mlflow_run_id: runId, checkpoint_path: `s3://${BUCKET}/checkpoints/307/best.pt` });
      await expectS3CheckpointsMatch('307', second.workDir);

      expect(runNamed('307')).toHaveLength(1);
      expect(runs[0]!.info.status).toBe('FINISHED');
      const steps = runs[0]!.metrics.filter((m) => m.key === 'mAP50-95').map((m) => m.step).sort();
      expect(steps).toEqual([1, 2, 3, 4]);
    } finally {
      await rx.close();
    }
  });

  it('a bad model name: exit 3, one line, no stack trace, nothing staged', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const r = await runJob({ jobId: '308', model: 'yolov99z', rx });
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
    const r = await runJob({ jobId: '309', model: 'yolov8n', fake: false, env });
    expect(r.code).toBe(3);
    expect(r.termination).toMatchObject({ code: 'MODEL_UNAVAILABLE', exit_code: 3 });
    expect(r.stderr).toContain(`install it with: ${SYSTEM_PYTHON} -m pip install -r ${join(APP_ROOT, 'requirements.txt')}`);
    expect(r.stderr).toContain("No module named 'ultralytics'");
    for (const line of r.stderr.trim().split('\n')) expect(line).toMatch(/^trainer-ultralytics: /);
    noStack(r.stdout + r.stderr);
    expect(existsSync(join(r.workDir, 'download'))).toBe(false);
    expect(runNamed('309')).toHaveLength(0);
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
