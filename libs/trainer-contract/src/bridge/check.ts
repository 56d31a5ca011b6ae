import { execa } from 'execa';
import { parseBridgeLine, type CheckedBridgeEvent } from './events.js';

/** A bridge's answer to a check (python: `run(train, check=…)`). */
export type CheckAnswer = Pick<CheckedBridgeEvent, 'result' | 'error'>;

export interface PythonModuleCheck {
  ok: boolean;
  version?: string;
  error?: string;
}

const PROBE = [
  'import importlib, sys',
  'm = importlib.import_module(sys.argv[1])',
  'print(getattr(m, "__version__", ""))',
].join('\n');

/** Whether `python` can import `module`, and its version; never throws. */
export async function checkPythonModule(
  python: string,
  module: string,
  env: NodeJS.ProcessEnv = process.env,
  timeoutMs = 120_000,
): Promise<PythonModuleCheck> {
  const r = await execa(python, ['-c', PROBE, module], {
    env,
    extendEnv: false,
    reject: false,
    stdin: 'ignore',
    timeout: timeoutMs,
    encoding: 'utf8',
  });
  if (r.exitCode === 0) {
    const version = String(r.stdout).trim().split('\n').pop()?.trim();
    return { ok: true, ...(version ? { version } : {}) };
  }
  if (r.exitCode === undefined && !r.timedOut) {
    return { ok: false, error: `cannot run ${python}: ${String(r.shortMessage ?? r.message).split('\n')[0]}` };
  }
  if (r.timedOut) return { ok: false, error: `import ${module} took longer than ${timeoutMs} ms` };
  const lines = String(r.stderr).trim().split('\n').filter(Boolean);
  return { ok: false, error: lines[lines.length - 1] ?? `import ${module} failed (exit ${r.exitCode})` };
}

/** `python bridge.py --check '[…]'`: the check in a bridge of its own (no preloaded one under torchrun); never throws. */
export async function checkInOwnBridge(python: string, script: string, args: readonly string[], env: NodeJS.ProcessEnv, cwd: string, timeoutMs = 300_000): Promise<CheckAnswer> {
  const r = await execa(python, [script, '--check', JSON.stringify(args)], { env, cwd, extendEnv: false, reject: false, stdin: 'ignore', timeout: timeoutMs, encoding: 'utf8' });
  const parsed = parseBridgeLine(String(r.stdout).trim().split('\n').pop() ?? '');
  if (parsed.ok && parsed.event.event === 'checked') return { result: parsed.event.result, ...(parsed.event.error !== undefined ? { error: parsed.event.error } : {}) };
  const lines = String(r.stderr).trim().split('\n').filter(Boolean);
  return { error: lines[lines.length - 1] ?? `${script} --check gave no answer (exit ${r.exitCode ?? r.signal})` };
}
