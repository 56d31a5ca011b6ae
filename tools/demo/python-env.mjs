// The Python the demos train with: the managed Ultralytics venv (created by `npm run setup` when missing), or
// TRAINER_PYTHON. The test double runs only when asked for with --fake, and says so on every screen it prints.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { setup, explain } from '../setup/setup.mjs';

export const root = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');
const fakeUltralytics = join(root, 'apps', 'ultralytics', 'e2e', 'fake_ultralytics');

export function build() {
  const r = spawnSync('npx', ['nx', 'run-many', '-t', 'build', '--output-style=static'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  if (r.status !== 0) throw new Error('build failed');
}

function ultralyticsVersion(python) {
  const r = spawnSync(python, ['-c', 'import ultralytics, sys; sys.stdout.write("\\n" + ultralytics.__version__)'], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, YOLO_OFFLINE: 'True', YOLO_CONFIG_DIR: join(root, '.work', 'yolo-probe') },
  });
  return r.status === 0 ? { version: r.stdout.trim().split('\n').pop() } : { error: (r.stderr || String(r.error ?? '')).trim().split('\n').pop() };
}

/**
 * Returns { env, real, version } for the trainer's child process, or exits 1 with the reason and what to do.
 * `fake: true` picks the double on purpose.
 */
export async function pythonEnv({ fake = false } = {}) {
  if (fake) {
    const python = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';
    console.log('\n' + '!'.repeat(78));
    console.log('!! --fake: running with the TEST DOUBLE fake_ultralytics, not Ultralytics.    !!');
    console.log('!! Nothing is really trained and the metrics are made up; every other part    !!');
    console.log('!! (conversion, callbacks, checkpoints, exit codes) is the real thing.        !!');
    console.log('!'.repeat(78) + '\n');
    return { env: { TRAINER_PYTHON: python, PYTHONPATH: [fakeUltralytics, process.env.PYTHONPATH].filter(Boolean).join(':'), FAKE_ULTRALYTICS_BATCH_SECONDS: '0.2' }, real: false };
  }
  let python;
  try {
    ({ ultralytics: python } = await setup({ only: ['ultralytics'] }));
  } catch (err) {
    explain(err);
    console.error('(`npm run demo -- --fake` shows the contract with the test double instead; nothing is trained.)');
    process.exit(1);
  }
  const probe = ultralyticsVersion(python);
  if (probe.error) {
    console.error(`\ndemo: ${python} cannot import ultralytics: ${probe.error}`);
    console.error('Point TRAINER_PYTHON at an interpreter that can, or unset it to use the managed venv (npm run setup).');
    process.exit(1);
  }
  console.log(`demo: Ultralytics ${probe.version} from ${python}`);
  // workers=0 leaves the cores idle that Ultralytics keeps free for dataloader workers; let torch use them.
  return { env: { TRAINER_PYTHON: python, TRAINER_CPU_THREADS: String(cpus().length) }, real: true, version: probe.version };
}

/** The demo's dataset and training: a model that visibly learns within about two minutes on 2 CPU cores. */
export const DEMO = {
  images: 400,
  size: 128,
  config: { epochs: 12, imgsz: 128, batch: 16, device: 'cpu', workers: 0, plots: false },
  fakeConfig: { epochs: 5, imgsz: 128, batch: 16, device: 'cpu', workers: 0, plots: false },
  goal: { metric: 'mAP50', atLeast: 0.8, trainSeconds: 120 },
};

/** Ultralytics' own clock: results.csv's `time` is seconds since train start, written at each epoch's end. */
export function trainingSeconds(resultsCsv) {
  if (!existsSync(resultsCsv)) return undefined;
  const [header, ...rows] = readFileSync(resultsCsv, 'utf8').trim().split('\n');
  const col = header.split(',').map((s) => s.trim()).indexOf('time');
  const last = rows.at(-1);
  return col >= 0 && last ? Number(last.split(',')[col]) : undefined;
}

export function summary({ real, seconds, trainSeconds, completion, version }) {
  const m = completion?.final_metrics?.[DEMO.goal.metric];
  const lines = [];
  if (!real) {
    lines.push(`Demo (TEST DOUBLE, nothing trained): ${DEMO.goal.metric} ${m ?? '?'} is made up; whole run ${seconds.toFixed(0)} s.`);
    return lines;
  }
  const train = trainSeconds !== undefined ? `${trainSeconds.toFixed(0)} s of training` : 'training time unknown';
  lines.push(`Demo: Ultralytics ${version}, yolov8n.yaml, ${DEMO.config.epochs} epochs at ${DEMO.config.imgsz} px on ${DEMO.images} generated images: ${train} (whole run ${seconds.toFixed(0)} s).`);
  if (typeof m === 'number') {
    const ok = m >= DEMO.goal.atLeast;
    lines.push(`${DEMO.goal.metric} on the val split (best epoch ${completion.best_epoch}): ${m.toFixed(3)} — ${ok ? 'learned' : `BELOW the goal of ${DEMO.goal.atLeast}`}.`);
  } else {
    lines.push(`No ${DEMO.goal.metric} in the completion.`);
  }
  return lines;
}
