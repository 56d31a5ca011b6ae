import { ConfigError, ModelUnavailableError } from '../errors/index.js';

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
