#!/usr/bin/env node
// Benchmark: trainer-timm around REAL timm (issue 12, "Benchmark"), with the pinned venv from `npm run setup`
// (TRAINER_PYTHON overrides). Interleaved rounds on one generated ImageFolder tree (the app uses it as it is):
// 1. throughput: training images/s of the app's epochs against a bare loop of timm's own API (create_model,
//    create_transform, ImageDataset, create_optimizer_v2, create_scheduler_v2, the same train + eval per epoch, and
//    timm's CheckpointSaver each epoch, as train.py saves one) on the same model, data, batch and device.
//    Goal: ours/bare ≥ 0.95. Epoch 1 (warm-up) is left out on both sides; a run's rate is its median epoch (this
//    2-core VM's neighbours stretch single epochs by 30% and more, which a mean of a few epochs takes in whole).
// 2. wrapper overhead: app spawned → the bridge's train_start ("training started"), against `import timm` and the
//    bare script's own spawn → first batch.
// Knobs: BENCH_TIMM_MODEL (resnet18), BENCH_TIMM_IMAGES (96 train), BENCH_TIMM_SIZE (64), BENCH_TIMM_BATCH (16),
// BENCH_TIMM_EPOCHS (6), BENCH_TIMM_ROUNDS (3), BENCH_TIMM_DEVICE (cpu). Prints human lines, then one JSON line.
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP = join(REPO, 'apps', 'timm');
const BIN = join(APP, 'bin', 'trainer-timm.mjs');
const MODEL = process.env.BENCH_TIMM_MODEL ?? 'resnet18';
const IMAGES = Number(process.env.BENCH_TIMM_IMAGES ?? 96);
const SIZE = Number(process.env.BENCH_TIMM_SIZE ?? 64);
const BATCH = Number(process.env.BENCH_TIMM_BATCH ?? 16);
const EPOCHS = Number(process.env.BENCH_TIMM_EPOCHS ?? 6);
const ROUNDS = Number(process.env.BENCH_TIMM_ROUNDS ?? 3);
const DEVICE = process.env.BENCH_TIMM_DEVICE ?? 'cpu';
const GOAL_RATIO = 0.95;
const { frameworkPython, encodePng } = await import(join(REPO, 'libs', 'trainer-contract', 'dist', 'testing', 'index.js'));
const PYTHON = frameworkPython(APP);
if (!PYTHON) {
  console.error('bench timm: no timm venv; run `npm run setup -- --only timm` (or set TRAINER_PYTHON)');
  process.exit(1);
}
if (!existsSync(join(APP, 'dist', 'main.js'))) {
  console.error('bench timm: apps/timm/dist/main.js is missing; run `npm run build` first');
  process.exit(1);
}
const tmp = mkdtempSync(join(tmpdir(), 'bench-timm-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

/** An ImageFolder tree of 3 coloured-noise classes (train and val), PNGs written with the shared encoder. */
function makeImageFolder(root) {
  const classes = ['red', 'green', 'blue'];
  let state = 7;
  const rand = () => ((state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (const [split, n] of [['train', IMAGES], ['val', Math.max(6, IMAGES >> 3)]]) {
    for (let i = 0; i < n; i++) {
      const c = i % 3;
      const dir = join(root, split, classes[c]);
      mkdirSync(dir, { recursive: true });
      const rgb = new Uint8Array(SIZE * SIZE * 3);
      for (let p = 0; p < SIZE * SIZE; p++) for (let k = 0; k < 3; k++) rgb[p * 3 + k] = Math.floor(rand() * (k === c ? 255 : 120));
      writeFileSync(join(dir, `${i}.png`), encodePng(SIZE, SIZE, rgb));
    }
  }
  return root;
}

const env = (extra = {}) => ({ PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', TRAINER_PYTHON: PYTHON, PYTHONDONTWRITEBYTECODE: '1', HF_HUB_OFFLINE: '1', ...extra });
const CONFIG = { epochs: EPOCHS, pretrained: false, img_size: SIZE, batch: BATCH, workers: 0, device: DEVICE, opt: 'sgd', lr: 0.05, warmup_epochs: 0, smoothing: 0.1, seed: 0 };

// The bare loop: timm's API as train.py uses it, same options as CONFIG, no trainer around it.
const BARE = `
import json, sys, time
t0 = time.time()
import torch
from timm import create_model
from timm.data import ImageDataset, create_transform, resolve_data_config
from timm.loss import LabelSmoothingCrossEntropy
from timm.optim import create_optimizer_v2
from timm.scheduler import create_scheduler_v2
from timm.utils import CheckpointSaver, accuracy
from argparse import Namespace
cfg = json.loads(sys.argv[2]); root = sys.argv[1]; threads = int(sys.argv[3]); out = sys.argv[5]
if threads: torch.set_num_threads(threads)
torch.manual_seed(cfg["seed"])
dev = torch.device(cfg["device"])
classes = sorted(["red", "green", "blue"]); cmap = {c: i for i, c in enumerate(classes)}
model = create_model(sys.argv[4], pretrained=False, num_classes=3).to(dev)
dc = resolve_data_config({"input_size": (3, cfg["img_size"], cfg["img_size"])}, model=model)
tt = create_transform(dc["input_size"], is_training=True, interpolation="random", mean=dc["mean"], std=dc["std"])
et = create_transform(dc["input_size"], is_training=False, interpolation=dc["interpolation"], mean=dc["mean"], std=dc["std"], crop_pct=dc["crop_pct"])
tl = torch.utils.data.DataLoader(ImageDataset(root + "/train", class_map=cmap, transform=tt), batch_size=cfg["batch"], shuffle=True, drop_last=True)
vl = torch.utils.data.DataLoader(ImageDataset(root + "/val", class_map=cmap, transform=et), batch_size=cfg["batch"])
opt = create_optimizer_v2(model, opt=cfg["opt"], lr=cfg["lr"], weight_decay=2e-5, momentum=0.9)
sched, _ = create_scheduler_v2(opt, sched="cosine", num_epochs=cfg["epochs"], warmup_epochs=0, updates_per_epoch=len(tl))
lf = LabelSmoothingCrossEntropy(smoothing=cfg["smoothing"]); vf = torch.nn.CrossEntropyLoss()
saver = CheckpointSaver(model=model, optimizer=opt, args=Namespace(model=sys.argv[4], **cfg), checkpoint_dir=out, recovery_dir=out, decreasing=False, max_history=10)
sys.stderr.write("[bench] train_start %.6f\\n" % time.time())
times = []
n = 0
for epoch in range(cfg["epochs"]):
    s = time.monotonic(); model.train(); u = epoch * len(tl)
    for x, y in tl:
        x, y = x.to(dev), y.to(dev)
        loss = lf(model(x), y); loss.backward(); opt.step(); opt.zero_grad(); u += 1
        loss.item(); sched.step_update(u)
    model.eval(); top1 = seen = 0
    with torch.no_grad():
        for x, y in vl:
            x, y = x.to(dev), y.to(dev); o = model(x); vf(o, y).item(); a1, _ = accuracy(o, y, topk=(1, 3)); top1 += a1.item() * len(y); seen += len(y)
    sched.step(epoch + 1)
    saver.save_checkpoint(epoch, metric=top1 / seen)
    times.append(time.monotonic() - s); n = len(tl) * cfg["batch"]
sys.stderr.write("[bench] last_epoch_end %.6f\\n" % time.time())
print(json.dumps({"epochs": times, "images": n}))
`;

function run(cmd, args, extraEnv) {
  return new Promise((done, reject) => {
    const spawned = Date.now();
    const child = spawn(cmd, args, { cwd: tmp, env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? done({ spawned, exited: Date.now(), out, err }) : reject(new Error(`${cmd} exited ${code}: ${err.slice(-1500)}${out.slice(-1500)}`))));
  });
}

const threads = String(cpus().length);
async function bare(data) {
  const out = mkdtempSync(join(tmp, 'bare-out-'));
  const r = await run(PYTHON, ['-c', BARE, data, JSON.stringify(CONFIG), threads, MODEL, out], {});
  const res = JSON.parse(r.out.trim().split('\n').pop());
  const start = Number(/\[bench\] train_start (\S+)/.exec(r.err)[1]) * 1000;
  const lastEpoch = Number(/\[bench\] last_epoch_end (\S+)/.exec(r.err)[1]) * 1000;
  return { epochs: res.epochs, images: res.images, start: (start - r.spawned) / 1000, end: (r.exited - lastEpoch) / 1000 };
}

async function ours(data, round) {
  const args = ['--job-id', `bench-${round}`, '--model-name', MODEL, '--dataset-s3-uri', data, '--config', JSON.stringify(CONFIG), '--work-dir', join(tmp, `work-${round}`), '--output-dir', join(tmp, `out-${round}`), '--log-level', 'info'];
  const r = await run(process.execPath, [BIN, ...args], { TRAINER_CPU_THREADS: threads });
  const logs = r.out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  const started = logs.find((l) => l.msg === 'training started');
  const epochLines = logs.filter((l) => typeof l.epochTime === 'number' && /^epoch \d+\//.test(l.msg));
  const epochs = epochLines.map((l) => l.epochTime);
  // From the last epoch's report to the exit: best.pt, results, uploads, the completion, then teardown.
  return { epochs, start: (Date.parse(started.time) - r.spawned) / 1000, end: (r.exited - Date.parse(epochLines.at(-1).time)) / 1000 };
}

console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (on ${cpus().length} CPUs)`);
const data = makeImageFolder(join(tmp, 'data'));
const importS = Number(execFileSync(PYTHON, ['-c', 'import time; t = time.perf_counter(); import timm; print("\\n%.4f" % (time.perf_counter() - t))'], { env: env(), encoding: 'utf8' }).trim().split('\n').pop());
const trainImages = Math.floor(IMAGES / BATCH) * BATCH;
console.log(`throughput vs a bare timm loop (${MODEL}, ${trainImages} train images/epoch, ${SIZE} px, batch ${BATCH}, ${DEVICE}, ${EPOCHS} epochs, ${ROUNDS} rounds interleaved):`);
const ratios = [];
const bareRates = [];
const ourRates = [];
const starts = [];
const bareStarts = [];
const ends = [];
const bareEnds = [];
for (let round = 0; round < ROUNDS; round++) {
  const b = await bare(data);
  const o = await ours(data, round);
  const steady = (xs) => (xs.length > 1 ? xs.slice(1) : xs);
  const bRate = trainImages / median(steady(b.epochs));
  const oRate = trainImages / median(steady(o.epochs));
  bareRates.push(bRate);
  ourRates.push(oRate);
  ratios.push(oRate / bRate);
  starts.push(o.start);
  bareStarts.push(b.start);
  ends.push(o.end);
  bareEnds.push(b.end);
  console.log(`  round ${round + 1}: bare ${bRate.toFixed(1)} img/s, ours ${oRate.toFixed(1)} img/s → ${(oRate / bRate).toFixed(3)}; start → train_start ours ${o.start.toFixed(2)} s, bare ${b.start.toFixed(2)} s; last epoch → exit ours ${o.end.toFixed(2)} s, bare ${b.end.toFixed(2)} s`);
}
const ratio = median(ratios);
console.log(`throughput ours/bare: ${ratio.toFixed(3)} (goal ≥ ${GOAL_RATIO}) ${ratio >= GOAL_RATIO ? 'OK' : 'BELOW GOAL'}`);
console.log(`start → train_start: ours ${median(starts).toFixed(2)} s, bare script ${median(bareStarts).toFixed(2)} s, import timm ${importS.toFixed(2)} s (ours − import ${(median(starts) - importS).toFixed(2)} s; goal ≤ 1 s)`);
console.log(`last epoch → exit: ours ${median(ends).toFixed(2)} s (best.pt, results, uploads, completion), bare script ${median(bareEnds).toFixed(2)} s (goal ≤ 1 s)`);
console.log(
  JSON.stringify({
    bench: 'timm',
    model: MODEL,
    device: DEVICE,
    images_per_s: { ours: Number(median(ourRates).toFixed(2)), bare: Number(median(bareRates).toFixed(2)) },
    throughput_ratio: Number(ratio.toFixed(4)),
    goal_throughput_ratio: GOAL_RATIO,
    start_to_train_start_s: { ours: Number(median(starts).toFixed(3)), bare: Number(median(bareStarts).toFixed(3)), import_timm: Number(importS.toFixed(3)) },
    last_epoch_to_exit_s: { ours: Number(median(ends).toFixed(3)), bare: Number(median(bareEnds).toFixed(3)) },
  }),
);
