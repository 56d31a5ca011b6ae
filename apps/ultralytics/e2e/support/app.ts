import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { APP_ROOT, FAKE_ULTRALYTICS_PATH, SYSTEM_PYTHON } from './fake.js';

/** The launcher a user runs (`npx trainer-ultralytics`); it loads the esbuild bundle in dist/. */
export const APP_BIN = join(APP_ROOT, 'bin', 'trainer-ultralytics.mjs');
const BUNDLE = join(APP_ROOT, 'dist', 'main.js');

/** The e2e tests exercise the bundle, not the sources: a missing build is a setup error, not a test failure. */
export function assertBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: run \`npx nx build ultralytics\` first (the nx test target does)`);
}

export interface AppRun {
  child: ChildProcess;
  /** What the app has written to stdout so far. */
  output(): string;
  /** Resolves when the process has exited and its output is fully read. */
  done: Promise<AppResult>;
}

export interface AppResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout's JSON log lines, parsed (non-JSON lines are skipped). */
  logs: Array<Record<string, unknown>>;
  /** TERMINATION_LOG's content, parsed, when the app wrote one. */
  termination?: { code: string; message: string; exit_code?: number };
}

/**
 * The environment of a job as a Kubernetes pod would get it: only what is set here, so the developer's own
 * PYTHONPATH (a real Ultralytics, say) or AWS profile never leaks into a test. `fake: false` leaves the double
 * off PYTHONPATH.
 */
export function appEnv(extra: NodeJS.ProcessEnv = {}, opts: { fake?: boolean } = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'],
    LANG: 'C.UTF-8',
    TRAINER_PYTHON: SYSTEM_PYTHON,
    PYTHONDONTWRITEBYTECODE: '1',
    ...(opts.fake === false ? {} : { PYTHONPATH: FAKE_ULTRALYTICS_PATH }),
  };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Starts the built app as a child process, the way a Job's container runs it. */
export function startApp(args: string[], env: NodeJS.ProcessEnv, cwd: string): AppRun {
  const child = spawn(process.execPath, [APP_BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<AppResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const logs: Array<Record<string, unknown>> = [];
      for (const line of stdout.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          logs.push(JSON.parse(line) as Record<string, unknown>);
        } catch {
          // a partial line is not a log record
        }
      }
      const termPath = env['TERMINATION_LOG'];
      const termination = termPath && existsSync(termPath) ? JSON.parse(readFileSync(termPath, 'utf8')) : undefined;
      resolve({ code, signal, stdout, stderr, logs, ...(termination ? { termination } : {}) });
    });
  });
  return { child, done, output: () => stdout };
}

/** Live processes whose command line mentions `text` (Linux /proc): an orphaned bridge shows up here. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}
