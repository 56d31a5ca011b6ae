import { existsSync, statSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { ConfigError, ModelUnavailableError } from '../errors/index.js';
import type { Task } from '../domain/index.js';

/**
 * What every trainer reads alike in `--model-name`: it is not empty, and an `s3://` name is a weights object, which
 * the lifecycle downloads before preflight. Everything else (release names, yaml, local paths) is the framework's.
 */
export function readModelName(name: string, weightsSuffix = '.pt'): { name: string; s3: boolean } {
  const raw = name.trim();
  if (!raw) throw new ConfigError('model_name: empty');
  if (!raw.startsWith('s3://')) return { name: raw, s3: false };
  const object = new RegExp(`^s3://[^/]+/.+${weightsSuffix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'i');
  if (!object.test(raw)) {
    throw new ModelUnavailableError(`model_name: "${raw}" must be an S3 object URI ending in ${weightsSuffix} (s3://bucket/path/weights${weightsSuffix})`);
  }
  return { name: raw, s3: true };
}

/** A `--model-name` that names a file or folder rather than a framework's model: absolute, relative, or with a `/`. */
export function isPathLike(raw: string): boolean {
  return isAbsolute(raw) || raw.startsWith('./') || raw.startsWith('../') || raw.includes('/');
}

/** A local model file must exist before anything is downloaded. */
export function requireModelFile(path: string): void {
  if (!existsSync(path) || !statSync(path).isFile()) throw new ModelUnavailableError(`model_name: file not found: ${path}`);
}

/** The task to train when the model's name implies one: config.task must agree with it. */
export function taskAgreeing(implied: Task | undefined, configTask: Task | undefined, modelName: string, fallback: Task): Task {
  if (implied && configTask && implied !== configTask) {
    throw new ConfigError(`config.task: "${configTask}" does not match model "${modelName}", which is a ${implied} model (drop task or pick a matching model)`);
  }
  return implied ?? configTask ?? fallback;
}
