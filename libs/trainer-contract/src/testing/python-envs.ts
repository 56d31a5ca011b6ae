import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { managedPython, managedVenvDir, requirementsHash, venvHome } from '../bridge/python-env.js';

/**
 * The managed venvs `npm run setup` builds, as the tests find them: the trainers' own lookup (bridge/python-env.ts),
 * never a copy of it. tools/setup/envs.mjs runs before any build, so it keeps its own copy of the naming rule;
 * apps/ultralytics/e2e/setup.e2e.ts checks that both name the same directory.
 */

export { managedVenvDir, requirementsHash, venvHome };

/** The repository root, from src/testing (tests) or dist/testing (built). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
export const DEV_REQUIREMENTS = join(REPO_ROOT, 'tools', 'python', 'requirements.txt');

/** The framework's interpreter for an app: TRAINER_PYTHON, else its complete managed venv, else undefined. */
export function frameworkPython(appRoot: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env['TRAINER_PYTHON'] || managedPython(join(appRoot, 'requirements.txt'), env);
}

/** mlflow, pytest and ruff for the tests: TRAINERS_DEV_PYTHON, else the complete `dev` venv, else undefined. */
export function devPython(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env['TRAINERS_DEV_PYTHON'] || managedPython(DEV_REQUIREMENTS, env);
}

/**
 * A real dependency a test needs is missing. Under CI=true that is a failure (the run must show 0 skipped);
 * elsewhere the caller may skip, and this says why and how to get it.
 */
export function missingReal(what: string, how = 'run `npm run setup`'): string {
  const reason = `${what} is not available: ${how}`;
  if (process.env['CI'] === 'true') throw new Error(`${reason} (CI=true: a real-framework test may not be skipped)`);
  process.stderr.write(`skipped: ${reason}\n`);
  return reason;
}
