import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PassThrough } from 'node:stream';
import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { runTrainerCli } from './run.js';
import { createS3Client } from '../s3/index.js';
import {
  createScriptedDriver,
  startCallbackReceiver,
  startMlflowServer,
  startS3Server,
  writeShapesDataset,
  type CallbackReceiver,
  type MlflowServer,
  type S3TestServer,
} from '../testing/index.js';

const SECRET = 'whsec_' + Buffer.from('lifecycle-test-signing-key-32byt').toString('base64');

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

describe('runTrainerCli end to end (scripted driver, real S3, callbacks and MLflow servers)', () => {
  let s3: S3TestServer;
  let mlflow: MlflowServer;
  let datasetDir: string;
  let root: string;

  beforeAll(async () => {
    s3 = await startS3Server({ buckets: ['datasets', 'ckpts'] });
    mlflow = await startMlflowServer();
    root = await mkdtemp(join(tmpdir(), 'lifecycle-'));
    datasetDir = join(root, 'shapes');
    await writeShapesDataset(datasetDir, { images: 12, size: 32 });
    const client = createS3Client(s3.env);
    for (const file of await walk(datasetDir)) {
      await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: `shapes/${relative(datasetDir, file)}`, Body: await readFile(file) }));
    }
  }, 180_000);
  afterAll(async () => {
    await s3?.close();
    await mlflow?.close();
  });

  async function runJob(opts: { jobId: string; config?: object; driver?: ReturnType<typeof createScriptedDriver>; rx?: CallbackReceiver; env?: NodeJS.ProcessEnv; extra?: string[]; signal?: AbortSignal; model?: string }) {
    const stdout = new PassThrough();
    const stderr = new PassThrough();
    let out = '';
    let err = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const termLog = join(root, `${opts.jobId}-termination.log`);
    const argv = [
      '--job-id', opts.jobId,
      '--model-name', opts.model ?? 'scripted-n',
      '--dataset-s3-uri', 's3://datasets/shapes/',
      '--config', JSON.stringify(opts.config ?? { epochs: 3 }),
      '--work-dir', join(root, `work-${opts.jobId}`),
      ...(opts.rx ? ['--callback-url', opts.rx.url] : []),
      ...(opts.extra ?? []),
    ];
    const env = { ...s3.env, S3_BUCKET: 'ckpts', MLFLOW_TRACKING_URI: mlflow.uri, CALLBACK_SECRET: SECRET, TERMINATION_LOG: termLog, ...opts.env };
    const code = await runTrainerCli(argv, opts.driver ?? createScriptedDriver(), { env, stdout, stderr, handleSignals: false, signal: opts.signal });
    const termination = await readFile(termLog, 'utf8').catch(() => '');
    return { code, out, err, termination };
  }

  const getObject = async (key: string) => {
    const res = await createS3Client(s3.env).send(new GetObjectCommand({ Bucket: 'ckpts', Key: key }));
    return Buffer.from(await res.Body!.transformToByteArray());
  };

  it('trains, uploads best.pt, reports every epoch and completes with exit 0', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const { code, err } = await runJob({ jobId: '101', rx });
      expect(err).toBe('');
      expect(code).toBe(0);
      const progress = rx.received.filter((r) => r.kind === 'progress' && (r.json as { phase?: string }).phase === 'training').map((r) => r.json as Record<string, unknown>);
      expect(progress.map((p) => p['current_epoch'])).toEqual([1, 2, 3]);
      expect(progress[0]).toMatchObject({ job_id: 101, status: 'running', total_epochs: 3, progress_percent: 33.33, metrics: { mAP50: 0.1, extra_metrics: { 'metrics/mAP50(B)': 0.1 } } });
      const completions = rx.received.filter((r) => r.kind === 'completion');
      expect(completions).toHaveLength(1);
      const run = (await mlflow.read.runsNamed('job-101'))[0]!;
      expect(completions[0]!.json).toEqual({
        job_id: 101,
        status: 'completed',
        final_metrics: { mAP50: 0.3, 'mAP50-95': 0.15, loss: 1 / 3 },
        checkpoint_path: 's3://ckpts/checkpoints/101/best.pt',
        mlflow_run_id: run.info.run_id,
        primary_metric: 'mAP50-95',
        primary_metric_value: 0.15,
        best_epoch: 3,
        timestamp: expect.any(String),
      });
      expect(rx.received.every((r) => r.signatureValid)).toBe(true);
      expect(JSON.parse((await getObject('checkpoints/101/best.pt')).toString())).toEqual({ epoch: 3, best: true });
      expect(JSON.parse((await getObject('checkpoints/101/last.pt')).toString())).toMatchObject({ epoch: 3 });
      expect(JSON.parse((await getObject('checkpoints/101/classes.json')).toString())).toEqual([
        { index: 0, id: 1, name: 'square' },
        { index: 1, id: 2, name: 'circle' },
        { index: 2, id: 3, name: 'triangle' },
      ]);
      expect((await getObject('checkpoints/101/results.csv')).toString()).toContain('epoch');
      expect(run.info.status).toBe('FINISHED');
      expect(run.params['epochs']).toBe('3');
      expect(run.params['dataset_uri']).toBe('s3://datasets/shapes/');
      expect(run.params['dataset.images']).toBe('12');
      expect(Number(run.params['dataset.train_images']) + Number(run.params['dataset.val_images'])).toBe(12);
      expect(run.metrics['mAP50']!.map((m) => m.step)).toEqual([1, 2, 3]);
    } finally {
      await rx.close();
    }
  });

  it('exits 2 when the completion cannot be delivered, with best.pt already in S3', async () => {
    const rx = await startCallbackReceiver();
    rx.always({ status: 503 });
    try {
      const { code, termination } = await runJob({ jobId: '102', rx, env: { CALLBACK_SECRET: '', CALLBACK_RETRIES: '2' } });
      expect(code).toBe(2);
      expect((await getObject('checkpoints/102/best.pt')).length).toBeGreaterThan(0);
      expect(JSON.parse(termination)).toMatchObject({ code: 'CALLBACK_UNDELIVERED', exit_code: 2 });
    } finally {
      await rx.close();
    }
  });

  it('reports a training failure: exit 1, failed completion, MLflow FAILED, termination log', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const { code, err, termination } = await runJob({ jobId: '103', rx, driver: createScriptedDriver({ failAtEpoch: 2 }) });
      expect(code).toBe(1);
      expect(err.trim()).toBe('trainer-scripted: RuntimeError: scripted failure at epoch 2');
      const completion = rx.received.find((r) => r.kind === 'completion')!.json as Record<string, unknown>;
      expect(completion).toMatchObject({ status: 'failed', error: { code: 'TRAINING_FAILED', message: 'RuntimeError: scripted failure at epoch 2' }, checkpoint_path: null });
      const run = (await mlflow.read.runsNamed('job-103'))[0]!;
      expect(run.info.status).toBe('FAILED');
      expect(run.tags['error_code']).toBe('TRAINING_FAILED');
      expect(JSON.parse(termination)).toEqual({ code: 'TRAINING_FAILED', message: 'RuntimeError: scripted failure at epoch 2', exit_code: 1, retriable: true });
      // The last complete checkpoint is kept even for a failed run.
      expect(JSON.parse((await getObject('checkpoints/103/last.pt')).toString())).toMatchObject({ epoch: 1 });
    } finally {
      await rx.close();
    }
  });

  it('stops on a signal with exit 143 and a resumable last.pt, then resumes in the same MLflow run', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const controller = new AbortController();
      const driver = createScriptedDriver({ epochMs: 150 });
      const pending = runJob({ jobId: '104', rx, driver, config: { epochs: 6 }, signal: controller.signal });
      await rx.waitFor((all) => all.some((r) => (r.json as { current_epoch?: number })?.current_epoch === 2));
      controller.abort();
      const first = await pending;
      expect(first.code).toBe(143);
      expect(rx.received.some((r) => r.kind === 'completion')).toBe(false);
      const interrupted = rx.received.filter((r) => (r.json as { status?: string }).status === 'interrupted');
      expect(interrupted).toHaveLength(1);
      const savedEpoch = (interrupted[0]!.json as { current_epoch: number }).current_epoch;
      expect(JSON.parse((await getObject('checkpoints/104/last.pt')).toString())).toMatchObject({ epoch: savedEpoch });
      // A new best goes up while training, after its epoch's last.pt: the store holds the stopped run's best too.
      expect(JSON.parse((await getObject('checkpoints/104/best.pt')).toString())).toEqual({ epoch: savedEpoch, best: true });
      const run = (await mlflow.read.runsNamed('job-104'))[0]!;
      expect(run.info.status).toBe('KILLED');

      const second = await runJob({ jobId: '104', rx, driver, config: { epochs: 6 } });
      expect(second.code).toBe(0);
      expect(driver.trainedFrom[0]).toBeUndefined();
      expect(driver.trainedFrom[1]).toMatch(/last\.pt$/);
      expect(driver.resumedBest).toEqual([undefined, expect.stringMatching(/resume\/best\.pt$/)]);
      const epochs = rx.received.filter((r) => r.kind === 'progress' && (r.json as { status: string; phase?: string }).status === 'running' && (r.json as { phase?: string }).phase === 'training').map((r) => (r.json as { current_epoch: number }).current_epoch);
      expect(epochs.slice(-(6 - savedEpoch))).toEqual(Array.from({ length: 6 - savedEpoch }, (_, i) => savedEpoch + 1 + i));
      const after = await mlflow.read.runsNamed('job-104');
      expect(after).toHaveLength(1);
      expect(after[0]!.info.status).toBe('FINISHED');
      const completion = rx.received.find((r) => r.kind === 'completion')!.json as { mlflow_run_id: string };
      expect(completion.mlflow_run_id).toBe(run.info.run_id);
    } finally {
      await rx.close();
    }
  }, 60_000);

  it('sends progress every CALLBACK_INTERVAL epochs and always the last one', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const { code } = await runJob({ jobId: '105', rx, config: { epochs: 5 }, env: { CALLBACK_INTERVAL: '2' } });
      expect(code).toBe(0);
      expect(rx.received.filter((r) => r.kind === 'progress' && (r.json as { phase?: string }).phase === 'training').map((r) => (r.json as { current_epoch: number }).current_epoch)).toEqual([2, 4, 5]);
    } finally {
      await rx.close();
    }
  });

  it('refuses a bad config with exit 3, one line, no stack, and reports it to the backend', async () => {
    const rx = await startCallbackReceiver({ secret: SECRET });
    try {
      const { code, err, termination } = await runJob({ jobId: '106', rx, config: { epoch: 3 } });
      expect(code).toBe(3);
      expect(err).toBe('trainer-scripted: config.epoch: unknown key (did you mean "epochs"?)\n');
      expect(rx.received.find((r) => r.kind === 'completion')!.json).toMatchObject({ status: 'failed', error: { code: 'CONFIG_INVALID' } });
      expect(JSON.parse(termination)).toMatchObject({ code: 'CONFIG_INVALID', exit_code: 3 });
    } finally {
      await rx.close();
    }
  });

  it('refuses an unknown model with exit 3 before downloading anything', async () => {
    const { code, err } = await runJob({ jobId: '107', driver: createScriptedDriver({ models: ['scripted-n'] }), model: 'nope-x' });
    expect(code).toBe(3);
    expect(err).toBe('trainer-scripted: --model-name: unknown model "nope-x"\n');
    await expect(stat(join(root, 'work-107', 'download'))).rejects.toThrow();
  });

  it('fetches model weights given as an s3:// URI, and refuses a missing one with exit 3', async () => {
    await createS3Client(s3.env).send(new PutObjectCommand({ Bucket: 'datasets', Key: 'models/w.pt', Body: 'weights-bytes' }));
    const ok = await runJob({ jobId: '110', model: 's3://datasets/models/w.pt' });
    expect(ok.code).toBe(0);
    expect(await readFile(join(root, 'work-110', 'models', 'w.pt'), 'utf8')).toBe('weights-bytes');
    const missing = await runJob({ jobId: '111', model: 's3://datasets/models/missing.pt' });
    expect(missing.code).toBe(3);
    expect(missing.err).toBe('trainer-scripted: --model-name: s3://datasets/models/missing.pt: not found\n');
  });

  it('validate-only stages and converts, prints the report, and does not train', async () => {
    const driver = createScriptedDriver();
    const { code, err, out } = await runJob({ jobId: '108', driver, extra: ['--validate-only'] });
    expect(code).toBe(0);
    expect(driver.trainedFrom).toHaveLength(0);
    expect(err).toBe('');
    const record = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { msg: string; plan?: { job_id: string; task: string; dataset: { classes: number } } }).find((r) => r.plan);
    expect(record!.msg).toContain('validate-only');
    expect(record!.plan).toMatchObject({ job_id: '108', task: 'detect', dataset: { classes: 3 } });
  });

  it('validate-only asks the converter for the format the driver reads and shows its paths', async () => {
    const driver = { ...createScriptedDriver(), datasetFormat: () => 'imagefolder' as const };
    const { code, out } = await runJob({ jobId: '110', driver, config: { epochs: 1, task: 'classify' }, extra: ['--validate-only'] });
    expect(code).toBe(0);
    const record = out.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { plan?: { dataset: Record<string, unknown> } }).find((r) => r.plan);
    const dataset = record!.plan!.dataset as { format: string; source: string; root: string; image_folder: { train: string; val: string } };
    expect(dataset).toMatchObject({ format: 'imagefolder', source: 'diceformat', classes: 3 });
    expect(dataset).not.toHaveProperty('data_yaml');
    for (const split of ['train', 'val'] as const) {
      expect(dataset.image_folder[split]).toBe(join(dataset.root, split));
      expect((await readdir(dataset.image_folder[split])).sort()).toEqual(['circle', 'square', 'triangle']);
    }
  });

  it('--describe prints the trainer, the contract version and its config schema, and exits 0', async () => {
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    const code = await runTrainerCli(['--describe'], createScriptedDriver(), { env: {}, stdout, stderr: new PassThrough(), handleSignals: false });
    expect(code).toBe(0);
    const doc = JSON.parse(out) as Record<string, unknown> & { config_schema: { title: string; properties: Record<string, unknown> } };
    expect(doc).toMatchObject({ name: 'trainer-scripted', version: '0.0.1-test', contract_version: 1 });
    expect(doc.config_schema.title).toBe('trainer-scripted config');
    expect(doc.config_schema.properties).toHaveProperty('lr0');
  });

  it('rejects a malformed dataset URI with exit 3', async () => {
    const stdout = new PassThrough();
    let err = '';
    const stderr = new PassThrough();
    stderr.on('data', (c: Buffer) => (err += c.toString()));
    const code = await runTrainerCli(['--job-id', '109', '--model-name', 'm', '--dataset-s3-uri', 'ftp://x/y'], createScriptedDriver(), { env: {}, stdout, stderr, handleSignals: false });
    expect(code).toBe(3);
    expect(err.split('\n').filter(Boolean)).toHaveLength(1);
    expect(err).toContain('ftp://x/y');
  });
});
