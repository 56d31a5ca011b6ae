import type { Task } from '@trainers/trainer-contract';

/** The tasks this trainer trains; the driver refuses the others with a config error (exit 3). */
export const SUPPORTED_TASKS = ['classify', 'detect'] as const satisfies readonly Task[];
export type SupportedTask = (typeof SUPPORTED_TASKS)[number];

/**
 * The Trainer's keys → the contract's canonical keys (CONTRACT §4). `loss` is the training loss of the epoch
 * (Trainer.log), the rest are Trainer.evaluate's `eval_*` keys; all raw keys also travel in `extra_metrics`.
 */
const CANONICAL: Record<string, string> = {
  loss: 'loss',
  eval_loss: 'val_loss',
  eval_accuracy_top1: 'accuracy_top1',
  eval_accuracy_top5: 'accuracy_top5',
  eval_precision: 'precision',
  eval_recall: 'recall',
  eval_mAP50: 'mAP50',
  'eval_mAP50-95': 'mAP50-95',
};

const REPORTED: Record<SupportedTask, string[]> = {
  classify: ['loss', 'val_loss', 'accuracy_top1', 'accuracy_top5'],
  detect: ['loss', 'val_loss', 'precision', 'recall', 'mAP50', 'mAP50-95'],
};

/** The completion's `primary_metric` when the config names none, and what best.tar is chosen by. */
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

/**
 * The Trainer's metric_for_best_model for a primary metric (the Trainer adds `eval_`), and its direction. The
 * training `loss` is no evaluation metric: best is then chosen by the validation loss.
 */
export function bestMetricFor(primary: string): { metric: string; greaterIsBetter: boolean } {
  if (primary === 'loss' || primary === 'val_loss') return { metric: 'loss', greaterIsBetter: false };
  return { metric: primary, greaterIsBetter: true };
}
