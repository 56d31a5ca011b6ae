import type { Task } from '@trainers/trainer-contract';

export const SUPPORTED_TASKS = ['classify'] as const satisfies readonly Task[];
export type SupportedTask = (typeof SUPPORTED_TASKS)[number];

/**
 * timm's raw names (train.py's summary.csv columns) → the contract's canonical keys (CONTRACT §4). timm reports
 * accuracy in percent; the canonical accuracies are fractions in [0, 1], as every trainer reports them.
 */
const CANONICAL: Record<string, { name: string; scale: number }> = {
  train_loss: { name: 'loss', scale: 1 },
  eval_loss: { name: 'val_loss', scale: 1 },
  eval_top1: { name: 'accuracy_top1', scale: 0.01 },
  eval_top5: { name: 'accuracy_top5', scale: 0.01 },
  lr: { name: 'lr', scale: 1 },
};

const CANONICAL_NAMES = ['loss', 'val_loss', 'accuracy_top1', 'accuracy_top5', 'lr'];

export const DEFAULT_PRIMARY_METRIC: Record<SupportedTask, string> = { classify: 'accuracy_top1' };

export function canonicalMetrics(raw: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw)) {
    const c = CANONICAL[key];
    if (c !== undefined && Number.isFinite(value)) out[c.name] = Math.round(value * c.scale * 1e8) / 1e8;
  }
  return out;
}

export function canonicalMetricNames(_task: SupportedTask): string[] {
  return CANONICAL_NAMES;
}
