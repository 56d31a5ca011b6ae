import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';

/**
 * Managed Python environments (one venv per requirements file, built by the setup command) and the interpreter a
 * trainer or a dev tool runs. The naming rule is shared with the setup command, so both find the same folder.
 */

/** `$TRAINERS_VENV_HOME`, else `~/.cache/trainers/venvs`. */
export function venvHome(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env['TRAINERS_VENV_HOME'] || join(env['HOME'] || homedir(), '.cache', 'trainers', 'venvs'));
}

/** The first 16 hex digits of sha256 of the file's bytes, line endings normalised (a Windows checkout hashes the same). */
export function requirementsHash(bytes: Buffer | string): string {
  const text = Buffer.isBuffer(bytes) ? bytes.toString('utf8') : bytes;
  return createHash('sha256').update(text.replace(/\r\n/g, '\n'), 'utf8').digest('hex').slice(0, 16);
}

/**
 * `<home>/<label>-<hash16>`. The label is the name of the folder holding the requirements file (`ultralytics`),
 * except for the dev tools' `tools/python/requirements.txt`, whose venv is `dev`.
 */
export function managedVenvDir(requirementsFile: string, env: NodeJS.ProcessEnv = process.env): string {
  const folder = dirname(resolve(requirementsFile));
  const label = basename(folder) === 'python' && basename(dirname(folder)) === 'tools' ? 'dev' : basename(folder);
  return join(venvHome(env), `${label}-${requirementsHash(readFileSync(requirementsFile))}`);
}

/** The managed venv's interpreter, when setup finished it (`.complete` is written last); else undefined. */
export function managedPython(requirementsFile: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (!existsSync(requirementsFile)) return undefined;
  const dir = managedVenvDir(requirementsFile, env);
  return existsSync(join(dir, '.complete')) ? join(dir, 'bin', 'python') : undefined;
}

/** A trainer's interpreter: `TRAINER_PYTHON`, else the complete managed venv for its requirements.txt, else python3. */
export function pythonFor(env: NodeJS.ProcessEnv, requirementsFile: string): string {
  return env['TRAINER_PYTHON'] || managedPython(requirementsFile, env) || 'python3';
}

/** The dev tools' interpreter (pytest, ruff, mlflow): `TRAINERS_DEV_PYTHON`, else the `dev` venv, else python3. */
export function devPython(env: NodeJS.ProcessEnv, repoRoot: string): string {
  return env['TRAINERS_DEV_PYTHON'] || managedPython(join(repoRoot, 'tools', 'python', 'requirements.txt'), env) || 'python3';
}
