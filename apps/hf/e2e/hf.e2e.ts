/**
 * End to end through the built bundle, the way a Job's container runs it: a generated DICEFormat dataset in a local
 * folder, no CALLBACK_URL (payloads are logged), no S3_BUCKET (checkpoints go to --output-dir), no MLflow.
 * `npx nx test hf` builds first; alone, run `npx nx build hf` before jest.
 */
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeShapesDataset } from '@trainers/trainer-contract/testing';

const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** The launcher a user runs (`npx trainer-hf`); it loads the esbuild bundle in dist/. */
const BIN = join(APP_ROOT, 'bin', 'trainer-hf.mjs');
const BUNDLE = join(APP_ROOT, 'dist', 'main.js');

let base: string;
let shapes: string;
beforeAll(async () => {
  // A missing build is a setup error, not a test failure.
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npx nx build hf\` first (nx test does)`);
  base = mkdtempSync(join(tmpdir(), 'hf-e2e-'));
  shapes = join(base, 'shapes');
  await writeShapesDataset(shapes, { images: 24, size: 32 });
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

interface AppResult {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout's JSON log lines. */
  logs: Array<Record<string, unknown>>;
}

/** Only what is set here reaches the app (a developer's AWS profile or CALLBACK_URL never leaks into a test). */
function appEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    LANG: 'C.UTF-8',
    PYTHONDONTWRITEBYTECODE: '1',
    TERMINATION_LOG: join(base, `termination-${Math.random().toString(36).slice(2)}.log`),
    ...(process.env['TRAINER_PYTHON'] ? { TRAINER_PYTHON: process.env['TRAINER_PYTHON'] } : {}),
    ...extra,
  };
}

function startApp(args: string[], env: NodeJS.ProcessEnv) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: base, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<AppResult>((resolveDone, reject) => {
    child.on('error', reject);
    child.on('close', (code) => {
      const logs = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      resolveDone({ code, stdout, stderr, logs });
    });
  });
  return { child, done, output: () => stdout };
}

const jobArgs = (jobId: string, config: Record<string, unknown>) => [
  '--job-id', jobId,
  '--model-name', 'standin-s',
  '--dataset-s3-uri', shapes,
  '--config', JSON.stringify(config),
  '--work-dir', join(base, `work-${jobId}`),
  '--output-dir', join(base, `out-${jobId}`),
];

const callbacks = (r: AppResult, kind: string) => r.logs.filter((l) => l['callback'] === kind).map((l) => l['payload'] as Record<string, unknown>);

describe('trainer-hf (built app)', () => {
  it.each(['classify', 'detect'] as const)('%s: trains a generated dataset; exit 0, best.pt in --output-dir, completion logged', async (task) => {
    const jobId = `e2e-${task}`;
    const r = await startApp(jobArgs(jobId, { epochs: 3, batch: 8, task }), appEnv()).done;
    expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: expect.any(String) });

    const out = join(base, `out-${jobId}`);
    expect(existsSync(join(out, 'best.pt'))).toBe(true);
    expect(existsSync(join(out, 'last.pt'))).toBe(true);
    expect(readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(4);
    const classes: Array<{ name: string }> = JSON.parse(readFileSync(join(out, 'classes.json'), 'utf8'));
    expect(classes.map((c) => c.name).sort()).toEqual(['circle', 'square', 'triangle']);

    expect(callbacks(r, 'progress').map((p) => p['current_epoch'])).toEqual([1, 2, 3]);
    const [completion] = callbacks(r, 'completion');
    const primary = task === 'classify' ? 'accuracy_top1' : 'mAP50-95';
    expect(completion).toMatchObject({ job_id: jobId, status: 'completed', primary_metric: primary, primary_metric_value: expect.any(Number) });
    expect(String(completion!['checkpoint_path'])).toMatch(/best\.pt$/);
  });

  it('refuses a bad config with exit 3, one line per problem and nothing written', async () => {
    const env = appEnv();
    const r = await startApp(jobArgs('e2e-bad', { epoch: 3, task: 'classify' }), env).done;
    expect(r.code).toBe(3);
    expect(r.stderr.trim()).toBe('trainer-hf: config.epoch: unknown key (did you mean "epochs"?)');
    expect(existsSync(join(base, 'out-e2e-bad'))).toBe(false);
    expect(JSON.parse(readFileSync(env['TERMINATION_LOG']!, 'utf8'))).toMatchObject({ code: 'CONFIG_INVALID' });
  });

  it('on SIGTERM stops, keeps last.pt, exits 143; a restart with the same job id resumes from it', async () => {
    const args = jobArgs('e2e-term', { epochs: 10, batch: 8, task: 'classify' });
    const app = startApp(args, appEnv({ STANDIN_STEP_SECONDS: '0.2' }));
    await new Promise<void>((resolveSeen, reject) => {
      const timer = setInterval(() => {
        if (app.output().includes('"callback":"progress"')) {
          clearInterval(timer);
          resolveSeen();
        }
      }, 50);
      app.done.then(() => (clearInterval(timer), reject(new Error('the app exited before its first epoch'))), reject);
    });
    app.child.kill('SIGTERM');
    const stopped = await app.done;
    expect(stopped.code).toBe(143);
    expect(existsSync(join(base, 'out-e2e-term', 'last.pt'))).toBe(true);
    const interrupted = callbacks(stopped, 'progress').at(-1)!;
    expect(interrupted).toMatchObject({ status: 'interrupted' });
    expect(callbacks(stopped, 'completion')).toEqual([]);

    // The Job's restart: same job id, same output store; training continues after the last complete epoch.
    const resumed = await startApp(args, appEnv()).done;
    expect({ code: resumed.code, stderr: resumed.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
    const epochs = callbacks(resumed, 'progress').map((p) => p['current_epoch'] as number);
    expect(epochs[0]).toBe((interrupted['current_epoch'] as number) + 1);
    expect(epochs.at(-1)).toBe(10);
    expect(readFileSync(join(base, 'out-e2e-term', 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(11);
  });
});
