import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface AppResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout's JSON log lines, parsed (other lines and a partial last line are skipped). */
  logs: Array<Record<string, unknown>>;
  /** TERMINATION_LOG's content, parsed, when the app wrote one. */
  termination?: { code: string; message: string; exit_code?: number; retriable?: boolean };
}

export interface AppRun {
  child: ChildProcess;
  /** What the app has written to stdout so far. */
  output(): string;
  /** Resolves when the process has exited and its output is fully read. */
  done: Promise<AppResult>;
}

/** A built trainer app, as its e2e tests run it: `node apps/<name>/bin/trainer-<name>.mjs`. */
export interface BuiltApp {
  root: string;
  bin: string;
  /** Throws when the bundle is missing: a setup error (run the nx build), not a test failure. */
  assertBuilt(): void;
  /** Starts the app the way a Job's container runs it, with only the environment given. */
  start(args: string[], env: NodeJS.ProcessEnv, cwd: string): AppRun;
}

export function builtApp(appRoot: string, name: string): BuiltApp {
  const bin = join(appRoot, 'bin', `trainer-${name}.mjs`);
  const bundle = join(appRoot, 'dist', 'main.js');
  return {
    root: appRoot,
    bin,
    assertBuilt() {
      if (!existsSync(bundle)) throw new Error(`${bundle} is missing: run \`npx nx build ${name}\` first (the nx test target does)`);
    },
    start: (args, env, cwd) => startProcess([process.execPath, bin, ...args], env, cwd),
  };
}

/** Runs `command` with exactly `env` (nothing of the test process leaks in) and collects what a test asserts on. */
export function startProcess(command: string[], env: NodeJS.ProcessEnv, cwd: string): AppRun {
  const child = spawn(command[0]!, command.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const done = new Promise<AppResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      const termPath = env['TERMINATION_LOG'];
      const termination = termPath && existsSync(termPath) ? (JSON.parse(readFileSync(termPath, 'utf8')) as AppResult['termination']) : undefined;
      resolve({ code, signal, stdout, stderr, logs: jsonLines(stdout), ...(termination ? { termination } : {}) });
    });
  });
  return { child, done, output: () => stdout };
}

function jsonLines(text: string): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // a partial line is not a log record
    }
  }
  return out;
}

/**
 * The environment of a job as a Kubernetes pod gets it: only what is set here, so the developer's own PYTHONPATH
 * or AWS profile never reaches a test. An `undefined` in `extra` removes the variable.
 */
export function podEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'], HOME: process.env['HOME'], LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' };
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}
