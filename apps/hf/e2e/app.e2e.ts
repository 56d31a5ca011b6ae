/**
 * trainer-hf end to end with REAL transformers (the pinned 5.18.0 in the managed venv `npm run setup` builds, or
 * TRAINER_PYTHON), through the built bundle: generated DICEFormat data in s3rver, a real callback receiver, a real
 * MLflow server, tiny models built from configs (nothing downloaded). Under CI=true a missing framework fails.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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
import { APP_ROOT, assertBuilt, getObject, listKeys, makeTinyModel, startApp, testS3Client, uploadDir, uploadFile, type AppResult, type AppRun } from './support.js';

const BUCKET = 'ckpts';
const PYTHON = frameworkPython(APP_ROOT) ?? missingReal('transformers (npm run setup -- --only hf, or TRAINER_PYTHON)');

let s3: S3TestServer;
let mlflow: MlflowServer;
let client: S3Client;
let root: string;
let models: { classify: string; detect: string };
let shapesFiles: string[];

beforeAll(async () => {
  assertBuilt();
  if (!frameworkPython(APP_ROOT)) throw new Error(PYTHON);
  root = mkdtempSync(join(tmpdir(), 'hf-e2e-'));
  s3 = await startS3Server({ buckets: ['datasets', 'models', BUCKET] });
  mlflow = await startMlflowServer();
  client = testS3Client(s3.env);
  const shapes = join(root, 'shapes');
  await writeShapesDataset(shapes, { images: 12, size: 64 });
  await uploadDir(client, shapes, 'datasets', 'shapes');
  shapesFiles = (JSON.parse(readFileSync(join(shapes, 'annotations.json'), 'utf8')) as { images: Array<{ file_name: string }> }).images.map((i) => i.file_name);
  const shapes24 = join(root, 'shapes-24');
  await writeShapesDataset(shapes24, { images: 30, size: 64, seed: 7 });
  await uploadDir(client, shapes24, 'datasets', 'shapes-24');
  // Detection labels of different lengths across DDP ranks: every third image gets a second (smaller) box.
  const multi = join(root, 'shapes-multi');
  await writeShapesDataset(multi, { images: 16, size: 64, seed: 3 });
  const coco = JSON.parse(readFileSync(join(multi, 'annotations.json'), 'utf8')) as { annotations: Array<{ id: number; image_id: number; bbox: number[] }> };
  const extra = coco.annotations.filter((a) => a.image_id % 3 === 0).map((a, k) => ({ ...a, id: 1000 + k, bbox: [a.bbox[0]!, a.bbox[1]!, a.bbox[2]! / 2, a.bbox[3]! / 2], area: (a.bbox[2]! * a.bbox[3]!) / 4, segmentation: [] }));
  writeFileSync(join(multi, 'annotations.json'), JSON.stringify({ ...coco, annotations: [...coco.annotations, ...extra] }));
  await uploadDir(client, multi, 'datasets', 'shapes-multi');
  models = { classify: makeTinyModel(PYTHON, 'classify', join(root, 'tiny-resnet'), 32), detect: makeTinyModel(PYTHON, 'detect', join(root, 'tiny-detr'), 64) };
  // The classifier also travels as an archive of its save_pretrained folder, the way a user stores one in S3.
  execFileSync('tar', ['cf', join(root, 'tiny-resnet.tar'), '-C', root, 'tiny-resnet']);
  await uploadFile(client, join(root, 'tiny-resnet.tar'), 'models', 'resnet/tiny-resnet.tar');
}, 900_000);

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
  config?: Record<string, unknown>;
  rx?: CallbackReceiver;
  env?: NodeJS.ProcessEnv;
  attempt?: number;
}

function launch(job: Job): { run: AppRun; workDir: string; cwd: string } {
  const tag = `${job.jobId}-${job.attempt ?? 1}`;
  const workDir = join(root, `work-${tag}`);
  const cwd = join(root, `cwd-${tag}`);
  mkdirSync(cwd, { recursive: true });
  const args = [
    '--job-id', job.jobId,
    '--model-name', job.model,
    '--dataset-s3-uri', job.dataset ?? 's3://datasets/shapes/',
    '--config', JSON.stringify({ epochs: 2, batch: 4, device: 'cpu', learning_rate: 1e-3, ...job.config }),
    '--work-dir', workDir,
    ...(job.rx ? ['--callback-url', job.rx.url] : []),
  ];
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    TRAINER_PYTHON: PYTHON,
    ...s3.env,
    S3_BUCKET: BUCKET,
    MLFLOW_TRACKING_URI: mlflow.uri,
    TERMINATION_LOG: join(root, `termination-${tag}.log`),
    HF_TOKEN: 'hf_secret_token_never_logged_123',
    ...job.env,
  };
  return { run: startApp(args, env, cwd), workDir, cwd };
}

async function runJob(job: Job): Promise<AppResult & { workDir: string; cwd: string }> {
  const { run, workDir, cwd } = launch(job);
  return { ...(await run.done), workDir, cwd };
}

const json = (r: ReceivedCallback) => r.json as Record<string, unknown>;
// Epoch progress only; the phases around training (staging, converting, uploading) carry another `phase`.
const progress = (rx: CallbackReceiver) => rx.received.filter((c) => c.kind === 'progress' && (json(c)['phase'] ?? 'training') === 'training').map(json);
const completion = (rx: CallbackReceiver) => rx.received.filter((c) => c.kind === 'completion').map(json);

/** Unpacks best.tar from S3 and loads it with from_pretrained in the trainer's own interpreter. */
async function loadBest(jobId: string, auto: string): Promise<{ id2label: Record<string, string>; processor: string }> {
  const dir = mkdtempSync(join(root, 'best-'));
  writeFileSync(join(dir, 'best.tar'), await getObject(client, BUCKET, `checkpoints/${jobId}/best.tar`));
  execFileSync('tar', ['xf', 'best.tar'], { cwd: dir });
  const script = [
    'import json, sys, transformers',
    `m = getattr(transformers, "${auto}").from_pretrained(sys.argv[1])`,
    'p = transformers.AutoImageProcessor.from_pretrained(sys.argv[1])',
    'print(json.dumps({"id2label": {str(k): v for k, v in m.config.id2label.items()}, "processor": type(p).__name__}))',
  ].join('\n');
  const out = execFileSync(PYTHON, ['-c', script, join(dir, 'model')], { encoding: 'utf8', env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HF_HUB_OFFLINE: '1' } });
  return JSON.parse(out.trim().split('\n').pop()!);
}

function noSecret(r: AppResult): void {
  expect(r.stdout + r.stderr).not.toContain('hf_secret_token_never_logged_123');
}

describe('trainer-hf with real transformers', () => {
  it.each([
    { task: 'classify', model: () => 's3://models/resnet/tiny-resnet.tar', auto: 'AutoModelForImageClassification', metrics: ['loss', 'val_loss', 'accuracy_top1', 'accuracy_top5'], raw: ['eval_loss', 'eval_accuracy_top1'] },
    { task: 'detect', model: () => models.detect, auto: 'AutoModelForObjectDetection', metrics: ['loss', 'val_loss', 'mAP50', 'mAP50-95', 'precision', 'recall'], raw: ['eval_loss', 'eval_mAP50-95'] },
  ])('$task: 2 epochs from a DICEFormat dataset in S3; callbacks, best.tar loads with from_pretrained, MLflow recorded', async ({ task, model, auto, metrics, raw }) => {
    const jobId = `hf-${task}`;
    const rx = await startCallbackReceiver();
    try {
      // No config.task: it comes from the model's config.json (its architecture).
      const r = await runJob({ jobId, model: model(), rx, config: task === 'classify' ? { imgsz: 32 } : {} });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: '' });
      noSecret(r);

      const epochs = progress(rx);
      expect(epochs.map((p) => p['current_epoch'])).toEqual([1, 2]);
      for (const p of epochs) {
        const m = p['metrics'] as Record<string, unknown>;
        for (const key of metrics) expect(typeof m[key]).toBe('number');
        for (const key of raw) expect(typeof (m['extra_metrics'] as Record<string, unknown>)[key]).toBe('number');
      }
      const [done] = completion(rx);
      const primary = task === 'classify' ? 'accuracy_top1' : 'mAP50-95';
      expect(done).toMatchObject({ status: 'completed', primary_metric: primary, checkpoint_path: `s3://${BUCKET}/checkpoints/${jobId}/best.tar`, best_epoch: expect.any(Number) });
      expect(done!['primary_metric_value']).toBe((done!['final_metrics'] as Record<string, number>)[primary]);

      const keys = await listKeys(client, BUCKET, `checkpoints/${jobId}/`);
      for (const name of ['best.tar', 'last.tar', 'results.csv', 'args.json', 'classes.json']) expect(keys).toContain(`checkpoints/${jobId}/${name}`);
      expect(keys.some((k) => k.endsWith('.pt'))).toBe(false);
      const csv = (await getObject(client, BUCKET, `checkpoints/${jobId}/results.csv`)).toString('utf8').trim().split('\n');
      expect(csv).toHaveLength(3);

      const best = await loadBest(jobId, auto);
      expect(Object.values(best.id2label).sort()).toEqual(['circle', 'square', 'triangle']);
      expect(best.processor).toMatch(/ImageProcessor/);

      const [run] = await mlflow.read.runsNamed(`job-${jobId}`);
      expect(run!.info.status).toBe('FINISHED');
      expect(done!['mlflow_run_id']).toBe(run!.info.run_id);
      expect(run!.metrics['val_loss']!.map((m) => m.step)).toEqual([1, 2]);
      expect(run!.metrics[primary]).toHaveLength(2);
      expect(Number(run!.params['learning_rate'])).toBe(0.001);
      expect(JSON.stringify(run!.params)).not.toContain('hf_secret_token');
      // Nothing outside WORK_DIR: the job's cwd stays empty.
      expect(readdirSync(r.cwd)).toEqual([]);
    } finally {
      await rx.close();
    }
  }, 600_000);

  it('SIGTERM mid-training saves a resumable checkpoint and exits 143; a restart in a fresh work dir resumes from S3', async () => {
    const jobId = 'hf-term';
    const rx = await startCallbackReceiver();
    try {
      const job: Job = { jobId, model: models.classify, dataset: 's3://datasets/shapes-24/', rx, config: { epochs: 3, batch: 2, imgsz: 64, task: 'classify' } };
      const first = launch(job);
      await rx.waitFor((all) => all.some((c) => c.kind === 'progress' && (json(c)['current_epoch'] as number) >= 1), 300_000);
      first.run.child.kill('SIGTERM');
      const r1 = await first.run.done;
      expect(r1.code).toBe(143);
      expect(r1.termination).toMatchObject({ code: 'INTERRUPTED' });
      expect(progress(rx).some((p) => p['status'] === 'interrupted')).toBe(true);
      expect(completion(rx)).toEqual([]);
      const stoppedAt = r1.logs.find((l) => String(l['msg']).includes('interrupted: state saved'))?.['epoch'] as number;
      expect(await listKeys(client, BUCKET, `checkpoints/${jobId}/`)).toContain(`checkpoints/${jobId}/last.tar`);

      const r2 = await runJob({ ...job, attempt: 2 });
      expect({ code: r2.code, stderr: r2.stderr }).toEqual({ code: 0, stderr: '' });
      expect(r2.stdout).toContain('found last.tar from an earlier attempt: resuming');
      expect(r2.stdout).toMatch(/resuming from checkpoint-\d+/);
      const resumed = r2.logs.find((l) => l['startEpoch'] !== undefined);
      expect(resumed?.['startEpoch']).toBeGreaterThanOrEqual(1);
      const epochsAfter = progress(rx).filter((p) => p['status'] === 'running').map((p) => p['current_epoch'] as number);
      expect(epochsAfter[epochsAfter.length - 1]).toBe(3);
      expect(stoppedAt).toBeGreaterThanOrEqual(1);
      const csv = (await getObject(client, BUCKET, `checkpoints/${jobId}/results.csv`)).toString('utf8').trim().split('\n');
      expect(csv.map((l) => l.split(',')[0])).toEqual(['epoch', '1', '2', '3']);
      const runs = await mlflow.read.runsNamed(`job-${jobId}`);
      expect(runs).toHaveLength(1);
      expect(runs[0]!.info.status).toBe('FINISHED');
    } finally {
      await rx.close();
    }
  }, 900_000);

  it('a stop at an epoch\'s last step keeps that epoch: it is evaluated, reported and saved, and the resume starts after it', async () => {
    const jobId = 'hf-term-edge';
    const rx = await startCallbackReceiver();
    try {
      // One step per epoch (25 train images, batch 32): every stop lands on an epoch's last step or after it.
      const job: Job = { jobId, model: models.classify, dataset: 's3://datasets/shapes-24/', rx, config: { epochs: 4, batch: 32, imgsz: 32, task: 'classify' } };
      const first = launch(job);
      await rx.waitFor((all) => all.some((c) => c.kind === 'progress' && (json(c)['current_epoch'] as number) >= 1), 300_000);
      first.run.child.kill('SIGTERM');
      expect((await first.run.done).code).toBe(143);
      const r2 = await runJob({ ...job, attempt: 2 });
      expect(r2.code).toBe(0);
      const reported = progress(rx).filter((p) => p['status'] === 'running').map((p) => p['current_epoch'] as number);
      expect(reported).toEqual([1, 2, 3, 4]);
      const csv = (await getObject(client, BUCKET, `checkpoints/${jobId}/results.csv`)).toString('utf8').trim().split('\n');
      expect(csv.map((l) => l.split(',')[0])).toEqual(['epoch', '1', '2', '3', '4']);
    } finally {
      await rx.close();
    }
  }, 600_000);

  it('nproc_per_node: 2 on the CPU is DDP (gloo): one progress per epoch from rank 0, SIGTERM reaches both ranks, the resume finishes', async () => {
    const jobId = 'hf-ddp';
    const rx = await startCallbackReceiver();
    try {
      // TRAINER_CPU_THREADS 1: two ranks on two cores.
      const job: Job = { jobId, model: models.classify, dataset: 's3://datasets/shapes-24/', rx, config: { epochs: 3, batch: 2, imgsz: 64, task: 'classify', nproc_per_node: 2 }, env: { TRAINER_CPU_THREADS: '1' } };
      const first = launch(job);
      await rx.waitFor((all) => all.some((c) => c.kind === 'progress' && (json(c)['current_epoch'] as number) >= 1), 300_000);
      first.run.child.kill('SIGTERM');
      const r1 = await first.run.done;
      expect(r1.code).toBe(143);
      expect(r1.stdout).toContain('launching torchrun: config.nproc_per_node=2');
      expect(r1.stderr + r1.stdout).toMatch(/DDP rank 1 of 2 \(gloo\)/);
      const trained = progress(rx).filter((p) => p['status'] === 'running').map((p) => p['current_epoch'] as number);
      expect(new Set(trained).size).toBe(trained.length); // each epoch once, though two ranks trained it
      expect(progress(rx).some((p) => p['status'] === 'interrupted')).toBe(true);
      expect(completion(rx)).toEqual([]);
      expect(await listKeys(client, BUCKET, `checkpoints/${jobId}/`)).toContain(`checkpoints/${jobId}/last.tar`);

      const r2 = await runJob({ ...job, attempt: 2 });
      expect({ code: r2.code, problems: r2.stderr.split('\n').filter((l) => l.startsWith('trainer-hf: ')) }).toEqual({ code: 0, problems: [] });
      expect(r2.stdout).toMatch(/resuming from checkpoint-\d+/);
      const epochs = progress(rx).filter((p) => p['status'] === 'running').map((p) => p['current_epoch'] as number);
      expect(epochs).toEqual([...new Set(epochs)].sort((a, b) => a - b));
      expect(epochs.at(-1)).toBe(3);
      const csv = (await getObject(client, BUCKET, `checkpoints/${jobId}/results.csv`)).toString('utf8').trim().split('\n');
      expect(csv.map((l) => l.split(',')[0])).toEqual(['epoch', '1', '2', '3']);
      expect(completion(rx)).toEqual([expect.objectContaining({ status: 'completed', checkpoint_path: `s3://${BUCKET}/checkpoints/${jobId}/best.tar` })]);
      expect((await loadBest(jobId, 'AutoModelForImageClassification')).processor).toMatch(/ImageProcessor/);
    } finally {
      await rx.close();
    }
  }, 900_000);

  it('detect under DDP (nproc_per_node: 2): images with one and two boxes are scored over both ranks, every epoch', async () => {
    const jobId = 'hf-ddp-detect';
    const rx = await startCallbackReceiver();
    try {
      const r = await runJob({ jobId, model: models.detect, dataset: 's3://datasets/shapes-multi/', rx, config: { epochs: 2, batch: 2, task: 'detect', nproc_per_node: 2 }, env: { TRAINER_CPU_THREADS: '1' } });
      expect({ code: r.code, problems: r.stderr.split('\n').filter((l) => l.startsWith('trainer-hf: ')) }).toEqual({ code: 0, problems: [] });
      expect(r.stdout).toContain('launching torchrun: config.nproc_per_node=2');
      const epochs = progress(rx);
      // The second evaluation too: transformers resets its gather after the first.
      expect(epochs.map((p) => p['current_epoch'])).toEqual([1, 2]);
      for (const p of epochs) for (const key of ['val_loss', 'mAP50', 'mAP50-95']) expect(typeof (p['metrics'] as Record<string, unknown>)[key]).toBe('number');
      expect(completion(rx)).toEqual([expect.objectContaining({ status: 'completed', checkpoint_path: `s3://${BUCKET}/checkpoints/${jobId}/best.tar` })]);
    } finally {
      await rx.close();
    }
  }, 600_000);

  describe('bad input: exit 3, one line naming the field, nothing trained', () => {
    const oneLine = (r: AppResult) => r.stderr.trim().split('\n');

    it('a config key TrainingArguments lacks, with the nearest one suggested', async () => {
      const r = await runJob({ jobId: 'hf-bad-key', model: models.classify, config: { learning_rat: 0.1 } });
      expect(r.code).toBe(3);
      expect(oneLine(r)).toEqual(['trainer-hf: config.learning_rat: unknown key (did you mean "learning_rate"?)']);
      expect(r.termination).toMatchObject({ code: 'CONFIG_INVALID' });
    }, 120_000);

    it('an unknown model: not a hub id, a missing folder, a folder without config.json', async () => {
      const empty = join(root, 'no-config');
      mkdirSync(empty, { recursive: true });
      writeFileSync(join(empty, 'weights.bin'), 'x');
      const cases: Array<[string, RegExp]> = [
        ['not a model!!', /^trainer-hf: model_name: "not a model!!" is neither a Hugging Face hub id/],
        [join(root, 'missing-model'), /^trainer-hf: model_name: .*missing-model: no such folder$/],
        [empty, /^trainer-hf: model_name: .*no-config: no config\.json in the folder/],
      ];
      for (const [i, [model, message]] of cases.entries()) {
        const r = await runJob({ jobId: 'hf-bad-model', model, attempt: i + 1 });
        expect(r.code).toBe(3);
        expect(oneLine(r)).toEqual([expect.stringMatching(message)]);
        expect(r.termination).toMatchObject({ code: 'MODEL_UNAVAILABLE' });
      }
    }, 300_000);

    it('a model whose task does not match config.task', async () => {
      const r = await runJob({ jobId: 'hf-bad-task', model: models.detect, config: { task: 'classify' } });
      expect(r.code).toBe(3);
      expect(oneLine(r)).toEqual([expect.stringMatching(/^trainer-hf: config\.task: "classify" does not fit .*tiny-detr \(detr, DetrForObjectDetection\); it trains for detect$/)]);
    }, 300_000);

    it('a dataset with no val images', async () => {
      // An ImageFolder tree with train/ only (DICEFormat splits always keep a val image).
      const dir = join(root, 'train-only');
      for (const name of ['circle', 'square']) {
        mkdirSync(join(dir, 'train', name), { recursive: true });
        for (let i = 0; i < 3; i++) writeFileSync(join(dir, 'train', name, `${i}.png`), readFileSync(join(root, 'shapes', 'images', shapesFiles[i]!)));
      }
      const r = await runJob({ jobId: 'hf-no-val', model: models.classify, dataset: dir, config: { imgsz: 32 } });
      expect(r.code).toBe(3);
      expect(oneLine(r)).toEqual(['trainer-hf: dataset: no val images (6 train); give val/<class>/ folders or a DICEFormat dataset']);
      expect(r.termination).toMatchObject({ code: 'DATA_INVALID' });
      expect(await listKeys(client, BUCKET, 'checkpoints/hf-no-val/')).not.toContain('checkpoints/hf-no-val/best.tar');
    }, 300_000);

    it('a hub that cannot be reached is a retriable failure (exit 1), not the user\'s', async () => {
      const r = await runJob({ jobId: 'hf-hub-down', model: 'facebook/detr-resnet-50', env: { HF_ENDPOINT: 'http://127.0.0.1:9' } });
      expect(r.code).toBe(1);
      expect(oneLine(r)).toEqual([expect.stringMatching(/^trainer-hf: model_name: facebook\/detr-resnet-50: the Hugging Face hub cannot be reached/)]);
      noSecret(r);
    }, 300_000);
  });
});

describe('detection and classification metrics (python/hf_metrics.py)', () => {
  it('match hand-computed cases: perfect predictions give 1.0; one hit and one false positive give AP 51/101', () => {
    const script = `
import json, sys
sys.path.insert(0, sys.argv[1])
import hf_metrics
gt = {"images": [{"id": 1, "width": 100, "height": 100}, {"id": 2, "width": 100, "height": 100}],
      "categories": [{"id": 0, "name": "a"}, {"id": 1, "name": "b"}],
      "annotations": [{"id": 1, "image_id": 1, "category_id": 0, "bbox": [10, 10, 30, 30], "area": 900, "iscrowd": 0},
                      {"id": 2, "image_id": 2, "category_id": 0, "bbox": [50, 50, 20, 40], "area": 800, "iscrowd": 0},
                      {"id": 3, "image_id": 2, "category_id": 1, "bbox": [5, 5, 20, 20], "area": 400, "iscrowd": 0}]}
perfect = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 0.9} for a in gt["annotations"]]
half = {"images": gt["images"], "categories": gt["categories"][:1], "annotations": gt["annotations"][:2]}
hit_and_miss = [{"image_id": 1, "category_id": 0, "bbox": [10, 10, 30, 30], "score": 0.9},
                {"image_id": 2, "category_id": 0, "bbox": [0, 0, 10, 10], "score": 0.8}]
print(json.dumps({"perfect": hf_metrics.coco_metrics(gt, perfect), "half": hf_metrics.coco_metrics(half, hit_and_miss),
                  "none": hf_metrics.coco_metrics(gt, []),
                  "topk": hf_metrics.topk_accuracy([[3, 2, 1], [1, 2, 3]], [1, 1])}))
`;
    const out = JSON.parse(execFileSync(PYTHON, ['-c', script, join(APP_ROOT, 'python')], { encoding: 'utf8' }).trim().split('\n').pop()!);
    for (const key of ['mAP50-95', 'mAP50', 'precision', 'recall']) expect(out.perfect[key]).toBeCloseTo(1, 9);
    // Ranked: a hit (P 1, R 0.5), then a false positive (P 0.5, R 0.5): interpolated precision is 1 on recall
    // thresholds 0.00..0.50 (51 of COCO's 101) and 0 above.
    expect(out.half['mAP50']).toBeCloseTo(51 / 101, 6);
    expect(out.half['mAP50-95']).toBeCloseTo(51 / 101, 6);
    expect(out.half.precision).toBeCloseTo(1, 6);
    expect(out.half.recall).toBeCloseTo(0.5, 6);
    expect(out.none).toEqual({ 'mAP50-95': 0, mAP50: 0, precision: 0, recall: 0 });
    // Top-5 of 3 classes is top-3.
    expect(out.topk).toEqual({ accuracy_top1: 0, accuracy_top5: 1 });
  }, 120_000);

  it('the model check reads the same classification and detection model types from source as transformers has once imported', () => {
    const script = [
      'import json, sys',
      'sys.path.insert(0, sys.argv[1])',
      'import hub_check',
      'fast = hub_check._types_from_source()',
      'imported = hub_check._types_imported()',
      'print(json.dumps({"fast": {k: sorted(v) for k, v in fast.items()}, "imported": {k: sorted(v) for k, v in imported.items()}}))',
    ].join('\n');
    const out = JSON.parse(execFileSync(PYTHON, ['-c', script, join(APP_ROOT, 'python')], { encoding: 'utf8' }).trim().split('\n').pop()!) as Record<string, Record<string, string[]>>;
    expect(out['fast']).toEqual(out['imported']);
    expect(out['fast']!['classify']).toContain('resnet');
    expect(out['fast']!['detect']).toContain('detr');
  }, 120_000);
});
