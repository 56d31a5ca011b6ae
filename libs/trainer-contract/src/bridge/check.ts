import { execa } from 'execa';

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
