import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Task, TrainContext } from '@trainers/trainer-contract';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Put this on PYTHONPATH to get the Ultralytics test double instead of the real library. */
export const FAKE_ULTRALYTICS_PATH = resolve(HERE, '..', 'fake_ultralytics');
export const APP_ROOT = resolve(HERE, '..', '..');
/** Any Python 3 runs the double (no torch or numpy needed); FAKE_ULTRALYTICS_PYTHON overrides. */
export const SYSTEM_PYTHON = process.env['FAKE_ULTRALYTICS_PYTHON'] ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

/**
 * A dataset the double accepts, in the layout the converter produces: data.yaml (detect/segment/pose/obb)
 * or train/<class>/, val/<class>/ (classify). Images are empty files: the double never decodes them.
 */
export function makeFakeDataset(root: string, task: Task, nTrain = 8, nVal = 2): { root: string; dataYaml?: string } {
  if (task === 'classify') {
    for (const split of ['train', 'val']) {
      for (const cls of ['cat', 'dog']) {
        mkdirSync(join(root, split, cls), { recursive: true });
        for (let i = 0; i < (split === 'train' ? nTrain : nVal) / 2; i++) writeFileSync(join(root, split, cls, `${cls}${i}.jpg`), '');
      }
    }
    return { root };
  }
  for (const split of ['train', 'val']) {
    mkdirSync(join(root, 'images', split), { recursive: true });
    mkdirSync(join(root, 'labels', split), { recursive: true });
    for (let i = 0; i < (split === 'train' ? nTrain : nVal); i++) {
      writeFileSync(join(root, 'images', split, `${i}.jpg`), '');
      writeFileSync(join(root, 'labels', split, `${i}.txt`), '0 0.5 0.5 0.2 0.2\n');
    }
  }
  const extra = task === 'pose' ? 'kpt_shape: [4, 3]\nflip_idx: [1, 0, 3, 2]\n' : '';
  const dataYaml = join(root, 'data.yaml');
  writeFileSync(dataYaml, `path: ${root}\ntrain: images/train\nval: images/val\nnames:\n  0: square\n  1: circle\n${extra}`);
  return { root, dataYaml };
}

/**
 * Reads a checkpoint's scalar fields with Ultralytics' own torch_load (the double's is plain pickle, and its
 * checkpoints hold its own classes, so it needs the double on the path).
 */
export function readCheckpoint(python: string, path: string, opts: { fake?: boolean } = {}): { epoch: number; hasOptimizer: boolean; bestFitness: number | null; trainArgs: Record<string, unknown> } {
  const code = [
    'import json, sys',
    'from ultralytics.utils.patches import torch_load',
    'c = torch_load(sys.argv[1], map_location="cpu")',
    'a = {k: v for k, v in c["train_args"].items() if isinstance(v, (str, int, float, bool, type(None)))}',
    'print(json.dumps({"epoch": c["epoch"], "hasOptimizer": c["optimizer"] is not None, "bestFitness": c["best_fitness"], "trainArgs": a}))',
  ].join('\n');
  const env = { ...process.env, YOLO_OFFLINE: 'True', ...(opts.fake ? { PYTHONPATH: FAKE_ULTRALYTICS_PATH } : {}) };
  return JSON.parse(execFileSync(python, ['-c', code, path], { encoding: 'utf8', env, stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n').pop()!);
}

/** A converter result pointing at a dataset made here (the report is irrelevant to the driver). */
export function preparedDataset(task: Task, ds: { root: string; dataYaml?: string }): TrainContext['dataset'] {
  return {
    root: ds.root,
    task,
    ...(ds.dataYaml ? { dataYaml: ds.dataYaml } : {}),
    classes: [],
    report: {} as TrainContext['dataset']['report'],
    format: 'yolo',
    source: 'yolo',
  } as TrainContext['dataset'];
}

/** A checkpoint written by the double. */
export const readFakeCheckpoint = (path: string) => readCheckpoint(SYSTEM_PYTHON, path, { fake: true });
