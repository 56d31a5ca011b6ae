import type { Task } from '@trainers/trainer-contract';

/** `metrics/mAP50(B)` → `mAP50`; the mask (M) and pose (P) heads keep their suffix. */
const HEAD_SUFFIX: Record<string, string> = { B: '', M: '(M)', P: '(P)' };
const STATS = ['precision', 'recall', 'mAP50', 'mAP50-95'] as const;
const HEADS: Record<Task, string[]> = { detect: ['B'], obb: ['B'], segment: ['B', 'M'], pose: ['B', 'P'], classify: [] };

const DEFAULT_PRIMARY_METRIC: Record<Task, string> = {
  detect: 'mAP50-95',
  obb: 'mAP50-95',
  segment: 'mAP50-95(M)',
  pose: 'mAP50-95(P)',
  classify: 'accuracy_top1',
};

const LOSSES: Record<Task, string[]> = {
  detect: ['box_loss', 'cls_loss', 'dfl_loss'],
  obb: ['box_loss', 'cls_loss', 'dfl_loss'],
  segment: ['box_loss', 'seg_loss', 'cls_loss', 'dfl_loss'],
  pose: ['box_loss', 'pose_loss', 'kobj_loss', 'cls_loss', 'dfl_loss'],
  classify: [],
};

/** Every canonical key a task can report (for checking `primary_metric` up front). */
export function canonicalMetricNames(task: Task): string[] {
  const names = ['loss', 'val_loss', ...LOSSES[task], ...LOSSES[task].map((l) => `val_${l}`)];
  if (task === 'classify') return [...names, 'accuracy_top1', 'accuracy_top5'];
  for (const head of HEADS[task]) for (const s of STATS) names.push(`${s}${HEAD_SUFFIX[head]}`);
  return names;
}

/** Ultralytics' raw keys → the contract's canonical keys. `loss`/`val_loss` are the sums of the parts. */
export function canonicalMetrics(_task: Task, raw: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let train: number | undefined;
  let val: number | undefined;
  for (const [key, value] of Object.entries(raw)) {
    if (!Number.isFinite(value)) continue;
    const m = /^metrics\/(precision|recall|mAP50|mAP50-95)\(([BMP])\)$/.exec(key);
    if (m) {
      const suffix = HEAD_SUFFIX[m[2]!];
      if (suffix !== undefined) out[`${m[1]}${suffix}`] = value;
      continue;
    }
    const acc = /^metrics\/(accuracy_top[15])$/.exec(key);
    if (acc) {
      out[acc[1]!] = value;
      continue;
    }
    const loss = /^(train|val)\/(.+)$/.exec(key);
    if (loss) {
      const part = loss[2]!;
      if (loss[1] === 'train') {
        train = (train ?? 0) + value;
        if (part !== 'loss') out[part] = value;
      } else {
        val = (val ?? 0) + value;
        if (part !== 'loss') out[`val_${part}`] = value;
      }
    }
  }
  if (train !== undefined) out['loss'] = round(train);
  if (val !== undefined) out['val_loss'] = round(val);
  return out;
}

export function defaultPrimaryMetric(task: Task): string {
  return DEFAULT_PRIMARY_METRIC[task];
}

function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}
