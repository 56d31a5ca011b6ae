/**
 * trainer-timm end to end with REAL timm (the pinned 1.0.29 in the managed venv `npm run setup` builds, or
 * TRAINER_PYTHON): the built app, DICEFormat in s3rver, a real callback receiver, a real MLflow server. timm's tiny
 * test models with pretrained: false, 32 px images, CPU. Under CI=true a missing timm fails instead of skipping.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { bridgeRuntimeDir } from '@trainers/trainer-contract';
import {
  frameworkPython,
  missingReal,
  startCallbackReceiver,
  startMlflowServer,
  startS3Server,
  writeShapesDataset,
  type CallbackReceiver,
  type MlflowServer,
  type S3TestServer,
} from '@trainers/trainer-contract/testing';
import { APP_ROOT, appEnv, assertBuilt, getObject, listKeys, pythonJson, readResultsCsv, startApp, testS3Client, uploadDir, type AppResult } from './support.js';

const PYTHON = frameworkPython(APP_ROOT);
const why = PYTHON ? undefined : missingReal('timm (the managed venv of apps/timm/requirements.txt, or TRAINER_PYTHON)');
const suite = PYTHON ? describe : describe.skip;
const BUCKET = 'ckpts';
const CONFIG = { epochs: 2, pretrained: false, img_size: 32, batch: 4, workers: 0, device: 'cpu', warmup_epochs: 0, lr: 0.05 };

let s3: S3TestServer;
let mlflow: MlflowServer;
let client: S3Client;
let root: string;

beforeAll(async () => {
  if (!PYTHON) return;
  assertBuilt();
  root = mkdtempSync(join(tmpdir(), 'timm-e2e-'));
  s3 = await startS3Server({ buckets: ['datasets', BUCKET] });
  mlflow = await startMlflowServer();
  client = testS3Client(s3.env);
  await writeShapesDataset(join(root, 'shapes'), { images: 15, size: 32 });
  await uploadDir(client, join(root, 'shapes'), 'datasets', 'shapes');
  // Bigger images for the stop test: epochs long enough for a signal to land inside one, with nothing faked.
  await writeShapesDataset(join(root, 'shapes-big'), { images: 48, size: 96, seed: 5 });
  await uploadDir(client, join(root, 'shapes-big'), 'datasets', 'shapes-big');
}, 180_000);

afterAll(async () => {
  client?.destroy();
  await s3?.close();
  await mlflow?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

interface Job {
  jobId: string;
  model?: string;
  dataset?: string;
  config?: Record<string, unknown>;
  rx?: CallbackReceiver;
  attempt?: number;
  env?: NodeJS.ProcessEnv;
}

function launch(job: Job) {
  const tag = `${job.jobId}-${job.attempt ?? 1}`;
  const workDir = join(root, `work-${tag}`);
  const cwd = join(root, `cwd-${tag}`);
  mkdirSync(cwd, { recursive: true });
  const args = [
    '--job-id', job.jobId,
    '--model-name', job.model ?? 'test_resnet',
    '--dataset-s3-uri', job.dataset ?? 's3://datasets/shapes/',
    '--config', JSON.stringify({ ...CONFIG, ...job.config }),
    '--work-dir', workDir,
    ...(job.rx ? ['--callback-url', job.rx.url] : []),
  ];
  const env = appEnv({ ...s3.env, S3_BUCKET: BUCKET, MLFLOW_TRACKING_URI: mlflow.uri, TRAINER_PYTHON: PYTHON!, TERMINATION_LOG: join(root, `termination-${tag}.log`), TRAINER_CPU_THREADS: '2', ...job.env });
  return { run: startApp(args, env, cwd), workDir, cwd };
}

async function runJob(job: Job): Promise<AppResult & { workDir: string; cwd: string }> {
  const { run, workDir, cwd } = launch(job);
  return { ...(await run.done), workDir, cwd };
}

const json = (r: { json: unknown }) => r.json as Record<string, unknown>;
// Epoch progress only; the phases around training (staging, converting, uploading) carry another `phase`.
const progressOf = (rx: CallbackReceiver, status = 'running') => rx.received.filter((r) => r.kind === 'progress' && json(r)['status'] === status && (json(r)['phase'] ?? 'training') === 'training').map(json);
const completionsOf = (rx: CallbackReceiver) => rx.received.filter((r) => r.kind === 'completion').map(json);
const problems = (stderr: string) => stderr.split('\n').filter((l) => l.startsWith('trainer-timm: '));
const close = (x: number) => expect.closeTo(x, 6) as unknown as number;
/** The documented mapping (README, timm rows): summary.csv names → canonical, accuracies as fractions. */
function canonicalOf(row: Record<string, number>) {
  return { loss: close(row['train_loss']!), val_loss: close(row['eval_loss']!), accuracy_top1: close(row['eval_top1']! / 100), accuracy_top5: close(row['eval_top5']! / 100), lr: close(row['lr']!) };
}
function rawOf(row: Record<string, number>) {
  return Object.fromEntries(Object.entries(row).filter(([k]) => k !== 'epoch').map(([k, v]) => [k, close(v)]));
}

suite(`trainer-timm with real timm ${why ? `(skipped: ${why})` : `(${PYTHON})`}`, () => {
  it('trains test_resnet 2 epochs from DICEFormat in S3: exact callbacks, best.pt loads with timm, the run in MLflow', async () => {
    const rx = await startCallbackReceiver();
    try {
      const r = await runJob({ jobId: '501', rx });
      expect(problems(r.stderr)).toEqual([]);
      expect(r.code).toBe(0);
      const rows = readResultsCsv(join(r.workDir, 'run', 'results.csv'));
      expect(rows.map((row) => row['epoch'])).toEqual([1, 2]);
      expect(Object.keys(rows[0]!)).toEqual(['epoch', 'train_loss', 'eval_loss', 'eval_top1', 'eval_top5', 'lr']);

      const progress = progressOf(rx);
      expect(progress.at(-1)!['current_epoch']).toBe(2);
      for (const body of progress) {
        const e = body['current_epoch'] as number;
        expect(body).toEqual({
          job_id: 501,
          status: 'running',
          current_epoch: e,
          total_epochs: 2,
          progress_percent: e * 50,
          metrics: { ...canonicalOf(rows[e - 1]!), extra_metrics: rawOf(rows[e - 1]!) },
          epoch_time: expect.any(Number),
          timestamp: expect.any(String),
          phase: 'training',
        });
      }
      const [run] = await mlflow.read.runsNamed('job-501');
      const completions = completionsOf(rx);
      expect(completions).toHaveLength(1);
      const best = completions[0]!['best_epoch'] as number;
      // best.pt is the epoch with the highest top-1 (the later one on a tie, never an earlier one).
      const top1 = rows.map((row) => row['eval_top1']!);
      expect(best).toBe(top1[1]! > top1[0]! ? 2 : 1);
      expect(completions[0]).toEqual({
        job_id: 501,
        status: 'completed',
        final_metrics: canonicalOf(rows[best - 1]!),
        checkpoint_path: `s3://${BUCKET}/checkpoints/501/best.pt`,
        mlflow_run_id: run!.info.run_id,
        primary_metric: 'accuracy_top1',
        primary_metric_value: close(rows[best - 1]!['eval_top1']! / 100),
        best_epoch: best,
        timestamp: expect.any(String),
      });
      expect(await listKeys(client, BUCKET, 'checkpoints/501/')).toEqual(
        expect.arrayContaining(['args.yaml', 'best.pt', 'classes.json', 'last.pt', 'results.csv'].map((f) => `checkpoints/501/${f}`)),
      );
      // ImageFolder's order (class folders sorted by name), which is the order timm's dataset reads them in.
      expect(JSON.parse((await getObject(client, BUCKET, 'checkpoints/501/classes.json')).toString())).toEqual([
        { index: 0, id: 2, name: 'circle' },
        { index: 1, id: 1, name: 'square' },
        { index: 2, id: 3, name: 'triangle' },
      ]);
      expect(readdirSync(join(r.workDir, 'run', 'weights')).sort()).toEqual(['best.pt', 'classes.json', 'last.pt']);

      // The published best.pt, read back the way timm's own checkpoints are: create_model + load_state_dict.
      const bestPath = join(root, 'best-501.pt');
      writeFileSync(bestPath, await getObject(client, BUCKET, 'checkpoints/501/best.pt'));
      const loaded = pythonJson(
        PYTHON!,
        [
          'import json, sys, torch, timm',
          'm = timm.create_model("test_resnet", num_classes=3, pretrained=False)',
          'r = m.load_state_dict(torch.load(sys.argv[1], map_location="cpu", weights_only=True))',
          'm.eval()',
          'out = m(torch.zeros(1, 3, 32, 32))',
          'c = torch.load(sys.argv[2], map_location="cpu", weights_only=True)',
          'print(json.dumps({"missing": list(r.missing_keys), "unexpected": list(r.unexpected_keys), "shape": list(out.shape), "epoch": c["epoch"], "arch": c["arch"], "keys": sorted(c)}))',
        ].join('\n'),
        [bestPath, join(r.workDir, 'run', 'weights', 'last.pt')],
      );
      expect(loaded).toEqual({
        missing: [],
        unexpected: [],
        shape: [1, 3],
        epoch: 1,
        arch: 'test_resnet',
        keys: ['arch', 'args', 'best_epoch', 'best_fingerprint', 'best_in', 'best_state_dict', 'classes', 'epoch', 'history', 'metric', 'num_classes', 'optimizer', 'rng', 'scheduler', 'state_dict', 'version'],
      });

      expect(run!.info.status).toBe('FINISHED');
      expect(run!.params['model_name']).toBe('test_resnet');
      expect(run!.params['opt']).toBe('sgd');
      expect((run!.metrics['accuracy_top1'] ?? []).map((m) => [m.step, m.value])).toEqual(rows.map((row) => [row['epoch'], close(row['eval_top1']! / 100)]));
      expect((run!.metrics['eval_loss'] ?? []).map((m) => m.step)).toEqual([1, 2]);
      expect(Object.keys(await mlflow.read.artifacts(run!.info.run_id))).toEqual(expect.arrayContaining(['results.csv', 'args.yaml', 'classes.json']));
      expect(readdirSync(r.cwd)).toEqual([]);
    } finally {
      await rx.close();
    }
  });

  it('SIGTERM mid-epoch: exit 143 and a resumable last.pt; a restart in a fresh work dir resumes from S3 and ends at the same epoch count', async () => {
    const rx = await startCallbackReceiver();
    const config = { epochs: 3, img_size: 96, batch: 4, model_ema: true, mixup: 0.2, smoothing: 0.1, grad_accum_steps: 2, clip_grad: 5 };
    try {
      const first = launch({ jobId: '502', rx, dataset: 's3://datasets/shapes-big/', config });
      // After the first trained epoch (staging and converting send progress too, with their own phase).
      await rx.waitFor(() => progressOf(rx).length > 0, 150_000);
      first.run.child.kill('SIGTERM');
      const stopped = await first.run.done;
      expect(stopped.code).toBe(143);
      const interrupted = progressOf(rx, 'interrupted');
      expect(interrupted).toHaveLength(1);
      const saved = interrupted[0]!['current_epoch'] as number;
      expect(saved).toBeGreaterThanOrEqual(1);
      expect(saved).toBeLessThan(3);
      expect(completionsOf(rx)).toEqual([]);
      const ck = pythonJson(PYTHON!, 'import json,sys,torch; c=torch.load(sys.argv[1],weights_only=True); print(json.dumps({"epoch": c["epoch"], "ema": "state_dict_ema" in c}))', [join(first.workDir, 'run', 'weights', 'last.pt')]);
      expect(ck).toEqual({ epoch: saved - 1, ema: true });
      // For a restart in a fresh work dir, the stopped job's S3 holds the best epoch's weights, the very ones in its
      // best.pt: last.pt's own EMA weights when its epoch was the best, else the best.pt uploaded after its epoch's
      // last.pt, which last.pt's fingerprint recognises. last.pt carries no copy of them (checkpoint_interval 1).
      const bestNow = join(first.workDir, 'run', 'weights', 'best.pt');
      const lastInS3 = join(root, 'last-502.pt');
      const bestInS3 = join(root, 'best-502-mid.pt');
      writeFileSync(lastInS3, await getObject(client, BUCKET, 'checkpoints/502/last.pt'));
      writeFileSync(bestInS3, await getObject(client, BUCKET, 'checkpoints/502/best.pt'));
      const carried = pythonJson(
        PYTHON!,
        [
          'import json, sys, torch',
          `sys.path[:0] = [${JSON.stringify(join(APP_ROOT, 'python'))}, ${JSON.stringify(bridgeRuntimeDir())}]`,
          'from bridge import best_weights_of',
          'c = torch.load(sys.argv[1], weights_only=True); best = torch.load(sys.argv[2], weights_only=True)',
          'mine = best_weights_of(c, sys.argv[3])',
          // Another epoch's best.pt (one weight moved) is not taken for this one's.
          'other = {k: v.clone() for k, v in best.items()}; k0 = next(iter(other)); other[k0].view(-1)[0] += 1',
          'torch.save(other, sys.argv[3] + ".other")',
          'stale = best_weights_of({**c, "best_in": None}, sys.argv[3] + ".other")',
          'print(json.dumps({"same": sorted(mine) == sorted(best) and all(torch.equal(mine[k], best[k]) for k in best), "own_copy": c["best_state_dict"] is not None, "best_in": c["best_in"], "best_is_last": c["best_epoch"] == c["epoch"] + 1, "epoch": c["epoch"], "stale_taken": stale is not None}))',
        ].join('\n'),
        [lastInS3, bestNow, bestInS3],
      ) as Record<string, unknown>;
      expect(carried).toMatchObject({ same: true, own_copy: false, best_in: carried['best_is_last'] ? 'state_dict_ema' : null, epoch: saved - 1, stale_taken: false });

      const second = await runJob({ jobId: '502', rx, dataset: 's3://datasets/shapes-big/', config, attempt: 2 });
      expect(problems(second.stderr)).toEqual([]);
      expect(second.code).toBe(0);
      const rows = readResultsCsv(join(second.workDir, 'run', 'results.csv'));
      expect(rows.map((row) => row['epoch'])).toEqual([1, 2, 3]);
      const after = progressOf(rx).filter((p) => (p['current_epoch'] as number) > saved);
      expect(after.at(-1)!['current_epoch']).toBe(3);
      expect(completionsOf(rx)).toHaveLength(1);
      expect(completionsOf(rx)[0]).toMatchObject({ status: 'completed', checkpoint_path: `s3://${BUCKET}/checkpoints/502/best.pt` });
      const runs = await mlflow.read.runsNamed('job-502');
      expect(runs).toHaveLength(1);
      expect(runs[0]!.info.status).toBe('FINISHED');

      // The same job id restarted with another model: its last.pt is a test_resnet checkpoint, refused (exit 3).
      const other = await runJob({ jobId: '502', dataset: 's3://datasets/shapes-big/', config: { ...config, epochs: 5 }, model: 'test_efficientnet', attempt: 3 });
      expect(other.code).toBe(3);
      expect(problems(other.stderr)[0]).toMatch(/last\.pt is a checkpoint of test_resnet, not test_efficientnet/);
      expect(other.termination).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
    } finally {
      await rx.close();
    }
  });

  it('nproc_per_node: 2 on the CPU is DDP (gloo): one progress per epoch from rank 0, SIGTERM reaches both ranks, the resume finishes', async () => {
    const rx = await startCallbackReceiver();
    // TRAINER_CPU_THREADS 1: two ranks on two cores.
    const config = { epochs: 3, img_size: 64, batch: 4, nproc_per_node: 2 };
    try {
      const first = launch({ jobId: '510', rx, dataset: 's3://datasets/shapes-big/', config, env: { TRAINER_CPU_THREADS: '1' } });
      await rx.waitFor(() => progressOf(rx).length > 0, 180_000);
      first.run.child.kill('SIGTERM');
      const stopped = await first.run.done;
      expect(stopped.code).toBe(143);
      expect(stopped.stdout).toContain('launching torchrun: config.nproc_per_node=2');
      expect(stopped.stderr + stopped.stdout).toMatch(/DDP rank 1 of 2 \(gloo\)/);
      const trained = progressOf(rx).map((p) => p['current_epoch'] as number);
      expect(new Set(trained).size).toBe(trained.length); // each epoch once, though two ranks trained it
      const saved = progressOf(rx, 'interrupted')[0]!['current_epoch'] as number;
      expect(saved).toBeGreaterThanOrEqual(1);

      const second = await runJob({ jobId: '510', rx, dataset: 's3://datasets/shapes-big/', config, env: { TRAINER_CPU_THREADS: '1' }, attempt: 2 });
      expect(problems(second.stderr)).toEqual([]);
      expect(second.code).toBe(0);
      const epochs = progressOf(rx).map((p) => p['current_epoch'] as number);
      expect(epochs).toEqual([...new Set(epochs)].sort((a, b) => a - b));
      expect(epochs.at(-1)).toBe(3);
      expect(readResultsCsv(join(second.workDir, 'run', 'results.csv')).map((row) => row['epoch'])).toEqual([1, 2, 3]);
      expect(completionsOf(rx)).toEqual([expect.objectContaining({ status: 'completed', checkpoint_path: `s3://${BUCKET}/checkpoints/510/best.pt` })]);
    } finally {
      await rx.close();
    }
  });

  it('a checkpoint of another model given as --model-name is refused with exit 3', async () => {
    const ckpt = join(root, 'vit-state.pt');
    pythonJson(PYTHON!, 'import json,sys,torch,timm; torch.save(timm.create_model("test_vit", num_classes=3).state_dict(), sys.argv[1]); print("{}")', [ckpt]);
    const r = await runJob({ jobId: '503', model: ckpt, config: { model: 'test_resnet' } });
    expect(r.code).toBe(3);
    expect(problems(r.stderr)).toHaveLength(1);
    expect(problems(r.stderr)[0]).toMatch(/vit-state\.pt is not a test_resnet checkpoint/);
    const bare = await runJob({ jobId: '504', model: ckpt });
    expect(bare.code).toBe(3);
    expect(problems(bare.stderr)[0]).toMatch(/bare state_dict; name its architecture with config\.model/);
  });

  it.each([
    ['an unknown model, with timm\'s close matches', { model: 'resnet181' }, /^trainer-timm: model_name: "resnet181" is not a timm model \(did you mean .*"resnet18".*\)/],
    ['an unknown model under torchrun (asked of a bridge of its own)', { model: 'resnet182', config: { nproc_per_node: 2 } }, /^trainer-timm: model_name: "resnet182" is not a timm model \(did you mean .*"resnet18".*\)/],
    ['a pretrained tag timm lacks', { model: 'resnet18.no_such_tag' }, /^trainer-timm: model_name: "resnet18.no_such_tag" names a pretrained tag timm does not have; it has resnet18\.\w+/],
    ['a config key timm lacks, with a suggestion', { config: { weight_decy: 0.1 } }, /^trainer-timm: config\.weight_decy: unknown key \(did you mean "weight_decay"\?\)$/],
    ['an ImageFolder with one class', { dataset: 'one-class' }, /^trainer-timm: dataset: 1 class \("circle"\); classification needs at least 2$/],
    ['an ImageFolder with an empty class folder', { dataset: 'empty-class' }, /^trainer-timm: dataset: class folder train\/square has no images$/],
  ])('bad input: %s → exit 3, one line naming it', async (_what, job: { model?: string; config?: Record<string, unknown>; dataset?: string }, line) => {
    let dataset: string | undefined;
    if (job.dataset) {
      const dir = join(root, job.dataset);
      const src = join(root, 'shapes', 'images');
      const names = readdirSync(src).sort();
      for (const split of ['train', 'val']) {
        mkdirSync(join(dir, split, 'circle'), { recursive: true });
        for (const n of names.slice(split === 'train' ? 0 : 6, split === 'train' ? 6 : 9)) cpSync(join(src, n), join(dir, split, 'circle', n));
        if (job.dataset === 'empty-class') mkdirSync(join(dir, split, 'square'), { recursive: true });
      }
      dataset = dir;
    }
    const r = await runJob({ jobId: `bad-${job.model ?? job.dataset ?? 'config'}`, ...(job.model ? { model: job.model } : {}), ...(job.config ? { config: job.config } : {}), ...(dataset ? { dataset } : {}) });
    expect(r.code).toBe(3);
    expect(problems(r.stderr)).toHaveLength(1);
    expect(problems(r.stderr)[0]).toMatch(line);
    expect(r.stderr).not.toMatch(/Traceback|\n\s+at /);
    expect(readdirSync(r.cwd)).toEqual([]);
  });
});

// Keeps the file a module with a test when the suite is skipped (CI=true turns the skip into a failure above).
describe('trainer-timm e2e prerequisites', () => {
  it('knows which Python runs timm', () => {
    expect(PYTHON ?? why).toBeDefined();
  });
});
