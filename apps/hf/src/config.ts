import { z } from 'zod';
import { defineConfig, imgszSchema } from '@trainers/trainer-contract';

/**
 * hf's own training arguments (CONTRACT §2): the framework's real names, types, ranges and defaults, so a
 * backend can validate a job against the published JSON Schema (`--print-schema config`, `npm run schemas`) before it
 * launches it. The common keys (epochs, batch, imgsz, device, task, primary_metric, split_config, …) come from
 * defineConfig; name one here only to give it this framework's meaning (a default, a wider range). Every key gets a
 * range: an out-of-range value is a one-line error (exit 3) here, not a crash an hour into training.
 */
export const hfConfigShape = {
  imgsz: imgszSchema(224),
  lr: z.number().gt(0).max(10).default(0.01).describe('initial learning rate'),
  weight_decay: z.number().min(0).max(1).default(0.0001).describe('L2 penalty applied by the optimizer'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0).describe('random seed'),
};

/**
 * Framework arguments the trainer sets itself. A config naming one is refused with the reason instead of being
 * silently overridden (an unknown key is refused too, with the nearest valid key as a hint).
 */
export const HF_OWNED_KEYS: Record<string, string> = {
  data: 'the trainer points the framework at the dataset it staged from --dataset-s3-uri',
  output_dir: 'the trainer chooses the run directory inside WORK_DIR',
  resume: 'resuming is automatic: a restart with the same job id continues from checkpoints/{job_id}/last.pt',
};

export const hfConfigSchema = defineConfig(hfConfigShape, { ownedKeys: HF_OWNED_KEYS });
export type HfConfig = z.output<typeof hfConfigSchema>;

const COMMON_TRAIN_KEYS = ['epochs', 'batch', 'device'] as const;

/**
 * The validated config → the framework's training arguments (what python/bridge.py receives as `train_args`). Only
 * keys the framework understands pass: the contract's own keys (split_config, checkpoint_interval, …) are consumed
 * by the lifecycle. Translate names and values here when the framework spells them differently.
 */
export function toHfArgs(config: HfConfig): Record<string, unknown> {
  const source = config as unknown as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const key of [...COMMON_TRAIN_KEYS, ...Object.keys(hfConfigShape)]) {
    if (source[key] !== undefined) out[key] = source[key];
  }
  return out;
}
