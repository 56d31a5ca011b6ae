#!/usr/bin/env node
// Benchmark: trainer-hf around REAL transformers (issue 13, "Benchmark"), with the pinned venv from `npm run setup`
// (TRAINER_PYTHON overrides). Interleaved rounds on the same data:
// 1. throughput: train_samples_per_second that transformers.Trainer itself reports, for the app against a plain
//    Trainer script on the same tiny model (a ResNet built from its config), the same imagefolder split the app's
//    converter wrote, the same batch, epochs, evaluation and checkpoint per epoch, CPU. Goal: ours/plain ≥ 0.97.
// 2. wrapper overhead against the framework's own `import transformers` time:
//      start = app spawned → the bridge's train_start reached the app ("training started")
//      end   = Trainer.train() returned (its train_runtime log line) → the app process exited
// Needs `npm run build`. Prints human lines, then one JSON line.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP = join(REPO, 'apps', 'hf');
const BIN = join(APP, 'bin', 'trainer-hf.mjs');
const EPOCHS = Number(process.env.BENCH_HF_EPOCHS ?? 3);
const ROUNDS = Number(process.env.BENCH_HF_ROUNDS ?? 2);
const IMAGES = Number(process.env.BENCH_HF_IMAGES ?? 120);
const GOAL_RATIO = 0.97;
const GOAL_OVERHEAD_S = 1;
const testing = await import(join(REPO, 'libs', 'trainer-contract', 'dist', 'testing', 'index.js'));
const PYTHON = testing.frameworkPython(APP);
if (!PYTHON) {
  console.error('bench hf: no transformers venv; run `npm run setup -- --only hf` (or set TRAINER_PYTHON)');
  process.exit(1);
}
if (!existsSync(join(APP, 'dist', 'main.js'))) {
  console.error('bench hf: apps/hf/dist/main.js is missing; run `npm run build` first');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'bench-hf-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (s) => `${s.toFixed(3)} s`;
const round3 = (x) => Math.round(x * 1000) / 1000;
const baseEnv = (extra = {}) => ({ PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', TRAINER_PYTHON: PYTHON, PYTHONDONTWRITEBYTECODE: '1', HF_HUB_DISABLE_TELEMETRY: '1', ...extra });

const model = join(tmp, 'model');
execFileSync(PYTHON, [join(APP, 'e2e', 'make_tiny_model.py'), 'classify', model, '64'], { stdio: 'ignore', env: baseEnv() });
const data = join(tmp, 'shapes');
await testing.writeShapesDataset(data, { images: IMAGES, size: 64 });
const CONFIG = { epochs: EPOCHS, batch: 8, device: 'cpu', learning_rate: 1e-3, seed: 0, hflip: 0 };

function runApp(jobId) {
  const work = join(tmp, `work-${jobId}`);
  const args = ['--job-id', jobId, '--model-name', model, '--dataset-s3-uri', data, '--config', JSON.stringify(CONFIG), '--work-dir', work, '--output-dir', join(tmp, `out-${jobId}`)];
  return new Promise((done, reject) => {
    const spawned = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env: baseEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      const exited = Date.now();
      child.on('close', () => {
        if (code !== 0) return reject(new Error(`trainer-hf exited ${code}: ${err.trim().split('\n').pop()}`));
        const logs = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
        done({ spawned, exited, logs, work });
      });
    });
  });
}

const time = (rec) => (typeof rec.time === 'number' ? rec.time : Date.parse(rec.time));
function find(logs, pred, what) {
  const rec = logs.find(pred);
  if (!rec) throw new Error(`log line not found: ${what}`);
  return rec;
}
/** The Trainer's end-of-train metrics line, `{'train_runtime': '…', 'train_samples_per_second': '…', …}`. */
function trainMetrics(logs) {
  const rec = find(logs, (l) => typeof l.msg === 'string' && l.msg.includes("'train_samples_per_second'"), 'train_samples_per_second');
  return { samplesPerSecond: Number(/'train_samples_per_second': '([\d.]+)'/.exec(rec.msg)[1]), at: time(rec) };
}

/** The plain script: the same Trainer arguments the bridge gives, the same dataset classes and collator, no wrapper. */
function runPlain(round, imageFolder, classes) {
  const out = join(tmp, `plain-${round}`);
  const script = `
import json, sys, time
sys.path.insert(0, sys.argv[1])
import hf_data
from transformers import AutoImageProcessor, AutoModelForImageClassification, Trainer, TrainingArguments
import numpy as np
cfg = json.loads(sys.argv[4]); classes = json.loads(sys.argv[5])
processor = AutoImageProcessor.from_pretrained(sys.argv[2])
id2label = dict(enumerate(classes))
model = AutoModelForImageClassification.from_pretrained(sys.argv[2], num_labels=len(classes), id2label=id2label, label2id={v: k for k, v in id2label.items()}, ignore_mismatched_sizes=True)
train = hf_data.ImageFolderSet(sys.argv[3] + "/train", classes)
val = hf_data.ImageFolderSet(sys.argv[3] + "/val", classes)
def metrics(p):
    return {"accuracy_top1": float(np.mean(np.argmax(p.predictions, 1) == p.label_ids))}
args = TrainingArguments(output_dir=sys.argv[6], num_train_epochs=cfg["epochs"], per_device_train_batch_size=cfg["batch"], per_device_eval_batch_size=cfg["batch"],
    learning_rate=cfg["learning_rate"], seed=cfg["seed"], use_cpu=True, eval_strategy="epoch", save_strategy="epoch", logging_strategy="epoch",
    save_total_limit=2, metric_for_best_model="accuracy_top1", greater_is_better=True, report_to="none", remove_unused_columns=False, disable_tqdm=True)
from transformers import TrainerCallback
class Began(TrainerCallback):
    def on_train_begin(self, *a, **k):
        self.at = time.time()
began = Began()
t = Trainer(model=model, args=args, train_dataset=train, eval_dataset=val, data_collator=hf_data.ClassifyCollator(processor), processing_class=processor, compute_metrics=metrics, callbacks=[began])
out = t.train()
print(json.dumps({"samples_per_second": out.metrics["train_samples_per_second"], "train_begin": began.at}))
`;
  const spawned = Date.now();
  const r = spawnSync(PYTHON, ['-c', script, join(APP, 'python'), model, imageFolder, JSON.stringify(CONFIG), JSON.stringify(classes), out], { cwd: tmp, env: baseEnv({ HF_HOME: join(tmp, 'hf-home') }), encoding: 'utf8', timeout: 900_000 });
  if (r.status !== 0) throw new Error(`plain Trainer script failed: ${String(r.stderr).slice(-2000)}`);
  const result = JSON.parse(String(r.stdout).trim().split('\n').pop());
  return { samplesPerSecond: result.samples_per_second, startS: result.train_begin - spawned / 1000 };
}

function importSeconds() {
  const out = execFileSync(PYTHON, ['-c', 'import time; t = time.perf_counter(); import transformers; from transformers import Trainer; print("\\n%.4f %s" % (time.perf_counter() - t, transformers.__version__))'], { env: baseEnv(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
    .trim()
    .split('\n')
    .pop()
    .split(' ');
  return { seconds: Number(out[0]), version: out[1] };
}

console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (on ${cpus().length} CPUs)`);
const version = importSeconds().version;
console.log(`samples/s vs a plain transformers ${version} Trainer script (tiny ResNet from its config, ${IMAGES} images at 64 px, batch 8, ${EPOCHS} epochs, CPU, ${ROUNDS} rounds interleaved):`);
const ours = [];
const plain = [];
const starts = [];
const ends = [];
const imports = [];
const plainStarts = [];
for (let round = 0; round < ROUNDS; round++) {
  const r = await runApp(`bench-${round}`);
  const m = trainMetrics(r.logs);
  ours.push(m.samplesPerSecond);
  starts.push((time(find(r.logs, (l) => l.msg === 'training started', 'training started')) - r.spawned) / 1000);
  ends.push((r.exited - m.at) / 1000);
  const classes = JSON.parse(readFileSync(join(r.work, 'classes.json'), 'utf8')).map((c) => c.name);
  const p = runPlain(round, join(r.work, 'dataset'), classes);
  plain.push(p.samplesPerSecond);
  plainStarts.push(p.startS);
  imports.push(importSeconds().seconds);
  console.log(`  round ${round + 1}: ours ${ours.at(-1).toFixed(2)} samples/s, plain ${plain.at(-1).toFixed(2)} samples/s, ours/plain ${(ours.at(-1) / plain.at(-1)).toFixed(3)}; start→train_start ${fmt(starts.at(-1))} (plain script ${fmt(plainStarts.at(-1))}), train() return→exit ${fmt(ends.at(-1))}, import transformers+Trainer ${fmt(imports.at(-1))}`);
}
const ratio = median(ours) / median(plain);
const startS = median(starts);
const importS = median(imports);
const endS = median(ends);
const plainStartS = median(plainStarts);
console.log(`  ours/plain ${ratio.toFixed(3)} (goal ≥ ${GOAL_RATIO}) ${ratio >= GOAL_RATIO ? 'OK' : 'BELOW'}; load average ${loadavg()[0].toFixed(2)}`);
console.log(`  process start → train_start: median ${fmt(startS)} = import ${fmt(importS)} + ${fmt(startS - importS)} (preflight's model check and import check: two more Python starts, side by side)`);
console.log(`  the plain script's start → on_train_begin (the same import, model, processor, datasets and Trainer): median ${fmt(plainStartS)}; ours ${startS - plainStartS >= 0 ? '+' : ''}${fmt(startS - plainStartS)} (goal: ours − import ≤ ${GOAL_OVERHEAD_S} s)`);
console.log(`  train() return → exit: median ${fmt(endS)} (goal ≤ ${GOAL_OVERHEAD_S} s) ${endS <= GOAL_OVERHEAD_S ? 'OK' : 'OVER'}: best.tar, classes.json, results.csv saved, completion sent`);
console.log(JSON.stringify({ bench: 'hf', transformers: version, rounds: ROUNDS, ours_samples_per_s: round3(median(ours)), plain_samples_per_s: round3(median(plain)), ratio: round3(ratio), ratio_goal: GOAL_RATIO, start_to_train_start_s: round3(startS), import_transformers_s: round3(importS), start_minus_import_s: round3(startS - importS), plain_start_to_train_begin_s: round3(plainStartS), start_minus_plain_s: round3(startS - plainStartS), train_return_to_exit_s: round3(endS), overhead_goal_s: GOAL_OVERHEAD_S }));
