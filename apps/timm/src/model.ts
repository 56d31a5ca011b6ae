import { resolve } from 'node:path';
import { isPathLike, ModelUnavailableError, readModelName, requireModelFile, type CheckAnswer } from '@trainers/trainer-contract';

export interface ModelRef {
  /** `name`: a timm architecture (optionally `.pretrained_tag`); `file`: a checkpoint (local, or s3:// the lifecycle fetches). */
  kind: 'name' | 'file';
  /** What the bridge receives as `model`. */
  value: string;
}

const CHECKPOINT = /\.(pt|pth|pth\.tar|bin|safetensors)$/i;
const TIMM_NAME = /^[A-Za-z0-9_]+(\.[A-Za-z0-9_]+)?$/;

/** Classifies `--model-name` without Python: a checkpoint path, or something that may be a timm name. */
export function resolveModel(name: string): ModelRef {
  const { name: raw, s3 } = readModelName(name);
  if (s3) return { kind: 'file', value: raw };
  if (isPathLike(raw) || CHECKPOINT.test(raw)) {
    return { kind: 'file', value: resolve(raw) };
  }
  if (!TIMM_NAME.test(raw)) throw new ModelUnavailableError(`model_name: "${raw}" is not a timm model name (letters, digits, _ and an optional .tag) or a checkpoint path`);
  return { kind: 'name', value: raw };
}

/** A local checkpoint must exist before the dataset is downloaded. */
export function checkModelFile(ref: ModelRef): void {
  if (ref.kind === 'file' && !ref.value.startsWith('s3://')) requireModelFile(ref.value);
}

interface NameCheck {
  ok: boolean;
  why?: 'name' | 'tag';
  close?: string[];
}

/**
 * Checks a timm name against `timm.list_models` before any download, by asking the bridge (python/bridge.py
 * `check_name`) that is importing timm for training. When timm does not import, it returns quietly: the driver's
 * import check reports that problem properly.
 */
export async function checkTimmName(name: string, check: (args: readonly string[]) => Promise<CheckAnswer>): Promise<void> {
  const answer = await check([name]);
  const result = answer.error === undefined ? (answer.result as NameCheck | undefined) : undefined;
  if (!result || result.ok) return;
  const close = result.close ?? [];
  if (result.why === 'tag') {
    throw new ModelUnavailableError(`model_name: "${name}" names a pretrained tag timm does not have${close.length ? `; it has ${close.join(', ')}` : ''}`);
  }
  throw new ModelUnavailableError(
    `model_name: "${name}" is not a timm model${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}; use a name from timm.list_models(), a local checkpoint or s3://bucket/path/weights.pt`,
  );
}
