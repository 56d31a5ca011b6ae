import type { Task } from '@trainers/trainer-contract';

/** The tasks this trainer trains; the driver refuses the others with a config error (exit 3). */
export const SUPPORTED_TASKS = ['classify', 'detect'] as const satisfies readonly Task[];
export type SupportedTask = (typeof SUPPORTED_TASKS)[number];

/**
 * The framework's raw metric keys → the contract's canonical keys (CONTRACT §4). Callbacks and MLflow carry the
 * canonical keys so a backend compares trainers like for like; the raw keys still travel in `extra_metrics`.
 * Extend this with every key the framework reports that has a canonical name.
 */
const CANONICAL: Record<string, string> = {
  'train/loss': 'loss',
  'val/loss': 'val_loss',
  'val/acc1': 'accuracy_top1',
  'val/acc5': 'accuracy_top5',
  'val/precision': 'precision',
  'val/recall': 'recall',
  'val/map50': 'mAP50',
  'val/map': 'mAP50-95',
};

/** What each task reports: `primary_metric` is checked against it, and `--describe` publishes it. */
const REPORTED: Record<SupportedTask, string[]> = {
  classify: ['loss', 'val_loss', 'accuracy_top1', 'accuracy_top5'],
  detect: ['loss', 'val_loss', 'precision', 'recall', 'mAP50', 'mAP50-95'],
};

/** The completion's `primary_metric` when the config names none: the metric best.pt is chosen by. */
export const DEFAULT_PRIMARY_METRIC: Record<SupportedTask, string> = {
  classify: 'accuracy_top1',
  detect: 'mAP50-95',
};

export function canonicalMetrics(raw: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(raw)) {
    const name = CANONICAL[key];
    if (name !== undefined && Number.isFinite(value)) out[name] = value;
  }
  return out;
}

export function canonicalMetricNames(task: SupportedTask): string[] {
  return REPORTED[task];
}
