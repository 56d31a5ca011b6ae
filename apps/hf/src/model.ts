import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { ModelUnavailableError, readModelName } from '@trainers/trainer-contract';

/**
 * Model names the framework builds by name. A real trainer lists (or pattern-matches) the framework's registry here,
 * so a typo is a one-line MODEL_UNAVAILABLE (exit 3) before any download instead of a failure inside Python.
 */
export const MODELS = ['standin-s', 'standin-m'] as const;

export interface ModelRef {
  /** `name`: built by the framework; `file`: weights on disk (a local path, or s3:// that the lifecycle downloads first). */
  kind: 'name' | 'file';
  /** What the bridge receives as `model`. */
  value: string;
}

/** Classifies `--model-name`. Unknown names are user errors (exit 3), never retried. */
export function resolveModel(name: string): ModelRef {
  const { name: raw, s3 } = readModelName(name);
  if (s3) return { kind: 'file', value: raw };
  if (raw.includes('/') || /\.pt$/i.test(raw)) return { kind: 'file', value: resolve(raw) };
  if ((MODELS as readonly string[]).includes(raw)) return { kind: 'name', value: raw };
  throw new ModelUnavailableError(`model_name: "${raw}" is not a hf model; use one of ${MODELS.join(', ')}, a local .pt path or s3://bucket/path/weights.pt`);
}

/** A local weights file must exist before the dataset is downloaded (preflight runs first). */
export function checkModelAvailable(ref: ModelRef): void {
  if (ref.kind !== 'file' || ref.value.startsWith('s3://')) return;
  if (!existsSync(ref.value) || !statSync(ref.value).isFile()) throw new ModelUnavailableError(`model_name: file not found: ${ref.value}`);
}
