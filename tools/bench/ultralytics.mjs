#!/usr/bin/env node
// Benchmark: the overhead trainer-ultralytics adds around Ultralytics (issue 6, "Benchmark").
//
// 1. With the test double (apps/ultralytics/e2e/fake_ultralytics), whose training takes ~no time, the built app
//    runs on a local YOLO dataset with no S3, MLflow or callback URL, so no data is transferred:
//      start    = child spawned → the bridge's train_start reached the app (its "training started" log line)
//      end      = the framework's train() returned → the app process exited
//    Goal: < 1 s each (median of RUNS runs).
// 2. Where real Ultralytics is importable (TRAINER_PYTHON or /usr/bin/python3, with ULTRALYTICS_SRC added to
//    PYTHONPATH), the epoch time of the app against a bare `YOLO('yolov8n.yaml').train(...)` on the same data and
//    arguments, from each run's results.csv. Goal: bare/ours ≥ 0.98.
//
// Needs `npm run build` (the app's dist/ and the contract lib). Prints human lines, then one JSON line.
import { spawn, execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const APP = join(REPO, 'apps', 'ultralytics');
const BIN = join(APP, 'bin', 'trainer-ultralytics.mjs');
const FAKE = join(APP, 'e2e', 'fake_ultralytics');
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const REAL_EPOCHS = Number(process.env.BENCH_REAL_EPOCHS ?? 4);
const REAL_ROUNDS = Number(process.env.BENCH_REAL_ROUNDS ?? 3);
const PYTHON = process.env.TRAINER_PYTHON || (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');
const GOAL_OVERHEAD_S = 1;
const GOAL_EPOCH_RATIO = 0.98;

if (!existsSync(join(APP, 'dist', 'main.js'))) {
  console.error('bench ultralytics: apps/ultralytics/dist/main.js is missing; run `npm run build` first');
  process.exit(1);
}

const tmp = mkdtempSync(join(tmpdir(), 'bench-ultralytics-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const fmt = (s) => `${s.toFixed(3)} s`;

// Marks the moment the framework's train() returns, on the bridge's stderr (which the app forwards as a log line).
// A lazy import hook, so that Ultralytics is still imported exactly when the bridge imports it.
const HOOK_DIR = join(tmp, 'hook');
mkdirSync(HOOK_DIR);
writeFileSync(
  join(HOOK_DIR, 'sitecustomize.py'),
  `import importlib.abc, importlib.util, sys, time


class _MarkTrainReturn(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != "ultralytics.engine.model":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        exec_module = spec.loader.exec_module

        def patched(module):
            exec_module(module)
            train = module.YOLO.train

            def timed_train(self, *args, **kwargs):
                try:
                    return train(self, *args, **kwargs)
                finally:
                    sys.stderr.write("[bench] train_returned %.6f\\n" % time.time())
                    sys.stderr.flush()

            module.YOLO.train = timed_train

        spec.loader.exec_module = patched
        return spec


sys.meta_path.insert(0, _MarkTrainReturn())
`,
);

/** A YOLO-format dataset (passed through by the converter, so nothing is copied): the e2e generator's. */
function makeDataset(dir, nTrain, nVal, size) {
  execFileSync(PYTHON, [join(APP, 'e2e', 'make_tiny_dataset.py'), dir, String(nTrain), String(nVal), String(size)], { stdio: 'ignore' });
  return dir;
}

function baseEnv(extra) {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LANG: 'C.UTF-8', TRAINER_PYTHON: PYTHON, PYTHONDONTWRITEBYTECODE: '1', ...extra };
}

/** Runs the built app once; returns wall-clock marks (ms since the epoch) and the parsed log. */
function runApp({ jobId, dataset, config, env }) {
  const work = join(tmp, `work-${jobId}`);
  const args = ['--job-id', jobId, '--model-name', 'yolov8n.yaml', '--dataset-s3-uri', dataset, '--config', JSON.stringify(config), '--work-dir', work, '--output-dir', join(tmp, `out-${jobId}`), '--log-level', 'info'];
  return new Promise((resolvePromise, reject) => {
    const spawned = Date.now();
    const child = spawn(process.execPath, [BIN, ...args], { cwd: tmp, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (c) => (out += c));
    child.stderr.setEncoding('utf8').on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('exit', (code) => {
      const exited = Date.now();
      child.on('close', () => {
        if (code !== 0) return reject(new Error(`trainer-ultralytics exited ${code}: ${err.trim().split('\n').pop()}\n${out.slice(-2000)}`));
        const logs = out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
        resolvePromise({ spawned, exited, logs, work });
      });
    });
  });
}

const at = (logs, pred, what) => {
  const rec = logs.find(pred);
  if (!rec) throw new Error(`log line not found: ${what}`);
  return typeof rec.time === 'number' ? rec.time : Date.parse(rec.time);
};

// ---- 1. wrapper overhead with the test double ---------------------------------------------------------------
const fakeData = makeDataset(join(tmp, 'data-fake'), 16, 8, 32);
const fakeEnv = baseEnv({ PYTHONPATH: `${HOOK_DIR}:${FAKE}`, FAKE_ULTRALYTICS_NO_DOWNLOADS: '1' });
const phases = { boot: [], preflight: [], data: [], bridge: [], start: [], end: [] };
console.log(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(' ')} (on ${cpus().length} CPUs)`);
console.log(`ultralytics wrapper overhead (test double, local YOLO dataset, no S3/MLflow/callbacks), ${RUNS} runs:`);
for (let i = 0; i < RUNS; i++) {
  const r = await runApp({ jobId: `fake-${i}`, dataset: fakeData, config: { epochs: 2, imgsz: 32, batch: 8, device: 'cpu', workers: 0 }, env: fakeEnv });
  const jobStart = at(r.logs, (l) => l.msg === 'job starting', 'job starting');
  const importable = at(r.logs, (l) => l.msg === 'ultralytics is importable', 'ultralytics is importable');
  const ready = at(r.logs, (l) => l.msg === 'dataset ready', 'dataset ready');
  const trainStart = at(r.logs, (l) => l.msg === 'training started', 'training started (train_start)');
  const mark = r.logs.find((l) => l.src === 'python:stderr' && /^\[bench\] train_returned /.test(l.msg));
  if (!mark) throw new Error('the train() return mark did not reach the log');
  const trainReturned = Number(mark.msg.split(' ').pop()) * 1000;
  phases.boot.push((jobStart - r.spawned) / 1000);
  phases.preflight.push((importable - jobStart) / 1000);
  phases.data.push((ready - importable) / 1000);
  phases.bridge.push((trainStart - ready) / 1000);
  phases.start.push((trainStart - r.spawned) / 1000);
  phases.end.push((r.exited - trainReturned) / 1000);
  console.log(`  run ${i + 1}: start→train_start ${fmt(phases.start.at(-1))}, train_end→exit ${fmt(phases.end.at(-1))}`);
}
const startS = median(phases.start);
const endS = median(phases.end);
console.log(
  `  start breakdown (medians): node boot + args ${fmt(median(phases.boot))}, import check ${fmt(median(phases.preflight))}, ` +
    `dataset ${fmt(median(phases.data))}, bridge → train_start ${fmt(median(phases.bridge))}`,
);
console.log(`  process start → train_start: median ${fmt(startS)}  (goal < ${GOAL_OVERHEAD_S} s: ${(startS / GOAL_OVERHEAD_S).toFixed(2)}× the budget) ${startS < GOAL_OVERHEAD_S ? 'OK' : 'OVER'}`);
console.log(`  train_end → process exit:    median ${fmt(endS)}  (goal < ${GOAL_OVERHEAD_S} s: ${(endS / GOAL_OVERHEAD_S).toFixed(2)}× the budget) ${endS < GOAL_OVERHEAD_S ? 'OK' : 'OVER'}`);

// ---- 2. epoch time against bare Ultralytics -------------------------------------------------------------------
const realPath = [process.env.ULTRALYTICS_SRC, process.env.PYTHONPATH].filter(Boolean).join(':');
const probeDir = join(tmp, 'probe');
let realVersion;
try {
  realVersion = execFileSync(PYTHON, ['-c', 'import ultralytics; print(ultralytics.__version__)'], {
    env: baseEnv({ ...(realPath ? { PYTHONPATH: realPath } : {}), YOLO_CONFIG_DIR: probeDir, YOLO_OFFLINE: 'True' }),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    timeout: 120_000,
  }).trim().split('\n').pop();
} catch {
  realVersion = undefined;
}

const TRAIN_ARGS = { epochs: REAL_EPOCHS, imgsz: 64, batch: 8, device: 'cpu', workers: 0, amp: false, plots: false, seed: 0, deterministic: true };
const INTEGRATIONS = ['sync', 'hub', 'clearml', 'comet', 'dvc', 'mlflow', 'neptune', 'raytune', 'tensorboard', 'wandb'];
const FONT = ['/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf', '/usr/share/fonts/dejavu/DejaVuSans.ttf'].find((f) => existsSync(f));

/** Per-epoch seconds from a results.csv (its `time` column is cumulative since the start of training). */
function epochTimes(csvPath) {
  const [header, ...rows] = readFileSync(csvPath, 'utf8').trim().split('\n');
  const col = header.split(',').map((k) => k.trim()).indexOf('time');
  const t = rows.map((r) => Number(r.split(',')[col]));
  return t.map((v, i) => v - (i ? t[i - 1] : 0));
}
/** Epoch 1 carries warm-up (first batches, allocator, caches), so the steady epochs are the ones compared. */
const steady = (times) => (times.length > 1 ? times.slice(1) : times);
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length;

function runBare(dataset, round) {
  const dir = join(tmp, `bare-${round}`);
  const config = join(dir, 'yolo-config');
  mkdirSync(config, { recursive: true });
  // The same offline set-up the bridge makes (no font download, integrations off), so only the wrapper differs.
  if (FONT) for (const f of ['Arial.ttf', 'Arial.Unicode.ttf']) copyFileSync(FONT, join(config, f));
  const script = [
    'import json, sys',
    'from ultralytics import YOLO, settings',
    `settings.update({k: False for k in ${JSON.stringify(INTEGRATIONS)} if k in settings})`,
    `YOLO("yolov8n.yaml").train(data=sys.argv[1], project=sys.argv[2], name="run", exist_ok=True, **json.loads(sys.argv[3]))`,
  ].join('\n');
  execFileSync(PYTHON, ['-c', script, join(dataset, 'data.yaml'), dir, JSON.stringify(TRAIN_ARGS)], {
    cwd: dir,
    env: baseEnv({ ...(realPath ? { PYTHONPATH: realPath } : {}), YOLO_CONFIG_DIR: config, YOLO_OFFLINE: 'True', YOLO_AUTOINSTALL: 'False', MPLCONFIGDIR: join(dir, 'mpl') }),
    stdio: 'ignore',
    timeout: 600_000,
  });
  return epochTimes(join(dir, 'run', 'results.csv'));
}

let real = null;
if (!realVersion) {
  console.log(`epoch time vs bare Ultralytics: skipped (${PYTHON} cannot import ultralytics; set ULTRALYTICS_SRC or TRAINER_PYTHON)`);
} else {
  console.log(`epoch time vs bare Ultralytics ${realVersion} (yolov8n.yaml, ${process.env.BENCH_REAL_IMAGES ?? 160} train images, imgsz 64, batch 8, CPU, ${REAL_EPOCHS} epochs, ${REAL_ROUNDS} rounds interleaved):`);
  const realData = makeDataset(join(tmp, 'data-real'), Number(process.env.BENCH_REAL_IMAGES ?? 160), 8, 64);
  const realEnv = baseEnv({ ...(realPath ? { PYTHONPATH: realPath } : {}) });
  const bare = [];
  const ours = [];
  const roundRatios = [];
  const importChecks = [];
  for (let round = 0; round < REAL_ROUNDS; round++) {
    // Interleaved, so drift in the machine's load hits both sides alike.
    const b = steady(runBare(realData, round));
    const t0 = Date.now();
    const r = await runApp({ jobId: `real-${round}`, dataset: realData, config: TRAIN_ARGS, env: realEnv });
    const o = steady(epochTimes(join(r.work, 'run', 'results.csv')));
    importChecks.push((at(r.logs, (l) => l.msg === 'ultralytics is importable', 'importable') - at(r.logs, (l) => l.msg === 'job starting', 'job starting')) / 1000);
    bare.push(...b);
    ours.push(...o);
    roundRatios.push(median(b) / median(o));
    console.log(`  round ${round + 1}: bare ${b.map((x) => x.toFixed(2)).join(', ')} s/epoch; ours ${o.map((x) => x.toFixed(2)).join(', ')} s/epoch; bare/ours ${roundRatios.at(-1).toFixed(3)} (app run ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  }
  // Medians: on a shared 2-core machine single epochs swing by ±15 %, and one slow epoch should not decide it.
  const ratio = median(bare) / median(ours);
  console.log(`  median steady epoch: bare ${fmt(median(bare))}, ours ${fmt(median(ours))} (means ${fmt(mean(bare))} / ${fmt(mean(ours))}); load average ${loadavg()[0].toFixed(2)}`);
  // The spread of the per-round ratios says whether this machine can resolve the 2 % the goal asks about.
  const spread = [Math.min(...roundRatios), Math.max(...roundRatios)];
  console.log(`  bare/ours ${ratio.toFixed(3)} (goal ≥ ${GOAL_EPOCH_RATIO}) ${ratio >= GOAL_EPOCH_RATIO ? 'OK' : 'BELOW'}; per-round ratios ${spread[0].toFixed(3)}…${spread[1].toFixed(3)}${spread[1] - spread[0] > 0.04 ? ' (noisier than the goal’s margin: rerun on an idle machine)' : ''}`);
  // Not in the test double's number above: with torch behind it, the pre-flight `import ultralytics` is seconds.
  console.log(`  with real Ultralytics the pre-flight import check takes ${fmt(median(importChecks))} (median), before the bridge imports it again`);
  real = { ultralytics: realVersion, real_import_check_s: round3(median(importChecks)), bare_epoch_s: round3(median(bare)), ours_epoch_s: round3(median(ours)), epoch_ratio: round3(ratio), epoch_ratio_goal: GOAL_EPOCH_RATIO, epoch_ratio_min: round3(spread[0]), epoch_ratio_max: round3(spread[1]), epochs_compared: bare.length };
}

function round3(x) {
  return Math.round(x * 1000) / 1000;
}

console.log(
  JSON.stringify({
    bench: 'ultralytics',
    runs: RUNS,
    start_to_train_start_s: round3(startS),
    train_end_to_exit_s: round3(endS),
    overhead_goal_s: GOAL_OVERHEAD_S,
    start_ratio_to_goal: round3(startS / GOAL_OVERHEAD_S),
    end_ratio_to_goal: round3(endS / GOAL_OVERHEAD_S),
    start_breakdown_s: { boot: round3(median(phases.boot)), import_check: round3(median(phases.preflight)), dataset: round3(median(phases.data)), bridge: round3(median(phases.bridge)) },
    ...(real ? real : { real: 'skipped' }),
  }),
);
