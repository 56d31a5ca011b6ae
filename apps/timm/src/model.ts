import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { isPathLike, ModelUnavailableError, readModelName, requireModelFile } from '@trainers/trainer-contract';

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

// timm's own registry decides; difflib ranks the close matches. A pretrained tag must be one timm knows.
const CHECK_NAME = `
import difflib, json, sys
import timm
name = sys.argv[1]
base, _, tag = name.partition(".")
out = {"ok": True}
if not timm.is_model(base):
    names = timm.list_models()
    close = difflib.get_close_matches(base, names, n=5, cutoff=0.6) or sorted(n for n in names if base.lower() in n)[:5]
    out = {"ok": False, "why": "name", "close": close}
elif tag and name not in timm.list_pretrained(base + ".*"):
    out = {"ok": False, "why": "tag", "close": timm.list_pretrained(base + ".*")[:8]}
print(json.dumps(out))
`;

interface NameCheck {
  ok: boolean;
  why?: 'name' | 'tag';
  close?: string[];
}

/**
 * Checks a timm name against `timm.list_models` in the trainer's Python, before any download. When timm does not
 * import, it returns quietly: the driver's import check that follows reports that problem properly.
 */
export async function checkTimmName(name: string, python: string, env: NodeJS.ProcessEnv): Promise<void> {
  const result = await new Promise<NameCheck | undefined>((done) => {
    execFile(python, ['-c', CHECK_NAME, name], { env, timeout: 120_000, maxBuffer: 1 << 20 }, (err, stdout) => {
      if (err) return done(undefined);
      try {
        done(JSON.parse(stdout.trim().split('\n').pop() ?? '') as NameCheck);
      } catch {
        done(undefined);
      }
    });
  });
  if (!result || result.ok) return;
  const close = result.close ?? [];
  if (result.why === 'tag') {
    throw new ModelUnavailableError(`model_name: "${name}" names a pretrained tag timm does not have${close.length ? `; it has ${close.join(', ')}` : ''}`);
  }
  throw new ModelUnavailableError(
    `model_name: "${name}" is not a timm model${close.length ? ` (did you mean ${close.map((c) => `"${c}"`).join(', ')}?)` : ''}; use a name from timm.list_models(), a local checkpoint or s3://bucket/path/weights.pt`,
  );
}
