import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ModelUnavailableError, type Task } from '@trainers/trainer-contract';

type ModelKind = 'hub' | 'local' | 's3';

export interface ModelRef {
  kind: ModelKind;
  /** A hub id (`facebook/detr-resnet-50`), an absolute folder, or the s3:// URI the lifecycle stages first. */
  value: string;
}

// The hub's own rule (huggingface_hub validate_repo_id): an optional namespace, then a name; 96 characters at most.
const HUB_ID = /^(?:[A-Za-z0-9][\w.-]*\/)?[A-Za-z0-9][\w.-]*$/;

/** Classifies `--model-name` without touching the network: a hub id, a local folder, or an s3:// folder/archive. */
export function resolveModel(name: string): ModelRef {
  const raw = name.trim();
  if (!raw) throw new ModelUnavailableError('model_name: empty');
  if (/^s3:\/\//i.test(raw)) return { kind: 's3', value: raw };
  const looksLikePath = isAbsolute(raw) || raw.startsWith('./') || raw.startsWith('../') || raw.startsWith('~') || existsSync(raw);
  if (looksLikePath) return { kind: 'local', value: resolve(raw) };
  if (!HUB_ID.test(raw) || raw.length > 96 || raw.includes('--') || raw.includes('..')) {
    throw new ModelUnavailableError(`model_name: "${raw}" is neither a Hugging Face hub id (org/name) nor an existing folder`);
  }
  return { kind: 'hub', value: raw };
}

/** save_pretrained output, or an unpacked archive holding it one folder down; undefined when there is none. */
export function modelFolder(dir: string): string | undefined {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) return undefined;
  if (existsSync(join(dir, 'config.json'))) return dir;
  const subdirs = readdirSync(dir, { withFileTypes: true }).filter((d) => d.isDirectory() && !d.name.startsWith('.'));
  if (subdirs.length === 1 && existsSync(join(dir, subdirs[0]!.name, 'config.json'))) return join(dir, subdirs[0]!.name);
  return undefined;
}

/** What the bridge loads: the hub id, or the folder that holds config.json. */
export function bridgeModel(ref: ModelRef): string {
  return ref.kind === 'local' ? (modelFolder(ref.value) ?? ref.value) : ref.value;
}

const ARCH_TASK: Array<[RegExp, Task]> = [
  [/ForImageClassification$/, 'classify'],
  [/ForObjectDetection$/, 'detect'],
];

/** The task a local folder's config.json names by its architecture, read without Python (resolveTask is cheap). */
export function taskFromLocalConfig(ref: ModelRef): Task | undefined {
  if (ref.kind !== 'local') return undefined;
  const folder = modelFolder(ref.value);
  if (!folder) return undefined;
  try {
    const config = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')) as { architectures?: unknown };
    const archs = Array.isArray(config.architectures) ? config.architectures.map(String) : [];
    for (const arch of archs) for (const [re, task] of ARCH_TASK) if (re.test(arch)) return task;
  } catch {
    return undefined;
  }
  return undefined;
}
