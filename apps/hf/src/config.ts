import { z } from 'zod';
import { defineConfig, frameworkArgs, fractionSchema as fraction, imgszSchema, positiveSchema as positive } from '@trainers/trainer-contract';

/** transformers 5.18's lr_scheduler_type values (trainer_utils.SchedulerType). */
const SCHEDULERS = [
  'linear',
  'cosine',
  'cosine_with_restarts',
  'polynomial',
  'constant',
  'constant_with_warmup',
  'inverse_sqrt',
  'reduce_lr_on_plateau',
  'cosine_with_min_lr',
  'cosine_warmup_with_min_lr',
  'warmup_stable_decay',
] as const;

/** The optimizers of training_args.OptimizerNames that need no extra package. */
const OPTIMIZERS = ['adamw_torch', 'adamw_torch_fused', 'adamw_torch_npu_fused', 'adafactor', 'sgd', 'adagrad', 'rmsprop'] as const;

/**
 * `TrainingArguments` (transformers 5.18) under their real names, types, ranges and defaults (CONTRACT §2). The
 * common `epochs` and `batch` are num_train_epochs and per_device_train_batch_size; `imgsz`, when set, overrides
 * the image processor's size. Only `hflip` is the trainer's own: the one augmentation, which mirrors boxes too.
 */
const hfConfigShape = {
  epochs: z.number().int().min(1).max(100_000).default(3).describe('num_train_epochs'),
  batch: z.number().int().min(1).max(65_536).default(8).describe('per_device_train_batch_size'),
  imgsz: imgszSchema(),
  learning_rate: positive(10).default(5e-5).describe('initial learning rate of the optimizer'),
  weight_decay: fraction(0, 'weight decay of AdamW (all weights except biases and norms)'),
  adam_beta1: z.number().min(0).lt(1).default(0.9),
  adam_beta2: z.number().min(0).lt(1).default(0.999),
  adam_epsilon: z.number().gt(0).max(1).default(1e-8),
  optim: z.enum(OPTIMIZERS).default('adamw_torch_fused').describe('optimizer (training_args.OptimizerNames)'),
  lr_scheduler_type: z.enum(SCHEDULERS).default('linear'),
  warmup_steps: z.number().min(0).max(10_000_000).default(0).describe('warmup optimizer steps; a value below 1 is a fraction of all steps (transformers 5 folded warmup_ratio into it)'),
  gradient_accumulation_steps: z.number().int().min(1).max(65_536).default(1),
  max_grad_norm: z.number().min(0).max(1e6).default(1.0).describe('gradient clipping (0 disables)'),
  label_smoothing_factor: fraction(0, 'label smoothing (classification)'),
  fp16: z.boolean().default(false).describe('mixed precision with float16 (GPU)'),
  bf16: z.boolean().default(false).describe('mixed precision with bfloat16 (GPU, or CPU with AMX)'),
  tf32: z.boolean().optional().describe('TF32 matmuls on Ampere or newer'),
  gradient_checkpointing: z.boolean().default(false),
  torch_compile: z.boolean().default(false),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(42),
  per_device_eval_batch_size: z.number().int().min(1).max(65_536).optional().describe('default: batch'),
  dataloader_num_workers: z.number().int().min(0).max(256).default(0),
  dataloader_pin_memory: z.boolean().default(true),
  dataloader_drop_last: z.boolean().default(false),
  hflip: fraction(0.5, 'probability of a horizontal flip of a training image (boxes are mirrored with it)'),
};

const TRAINER_SETS = 'the trainer sets it: evaluation and checkpoints happen every epoch, so they can be uploaded and resumed';

/** TrainingArguments the trainer sets itself; a config that names one is refused with the reason. */
const HF_OWNED_KEYS: Record<string, string> = {
  num_train_epochs: 'use the common key "epochs"',
  per_device_train_batch_size: 'use the common key "batch"',
  use_cpu: 'use the common key "device": "cpu"',
  warmup_ratio: 'transformers 5.18 has no warmup_ratio; use "warmup_steps" with a fraction below 1',
  metric_for_best_model: 'use the common key "primary_metric"',
  greater_is_better: 'follows "primary_metric" (losses lower, the rest higher)',
  load_best_model_at_end: 'best.tar always holds the best epoch',
  resume_from_checkpoint: 'resuming is automatic: a restart with the same job id continues from checkpoints/{job_id}/last.tar',
  enable_jit_checkpoint: 'SIGTERM is handled by the trainer: it saves a resumable checkpoint at the next step and exits 143',
  output_dir: 'the trainer chooses the run directory inside WORK_DIR',
  eval_strategy: TRAINER_SETS,
  save_strategy: TRAINER_SETS,
  logging_strategy: TRAINER_SETS,
  save_steps: TRAINER_SETS,
  eval_steps: TRAINER_SETS,
  save_total_limit: TRAINER_SETS,
  max_steps: 'training length is "epochs"',
  report_to: 'MLflow is the trainer\'s (MLFLOW_TRACKING_URI); the Trainer reports nowhere else',
  push_to_hub: 'checkpoints go to S3 (checkpoints/{job_id}/)',
  hub_token: 'secrets never go in the config; set HF_TOKEN',
  remove_unused_columns: 'the trainer\'s collator needs every column',
  eval_do_concat_batches: 'the trainer sets it per task',
  model: 'the model comes from --model-name',
};

export const hfConfigSchema = defineConfig(hfConfigShape, { ownedKeys: HF_OWNED_KEYS });
export type HfConfig = z.output<typeof hfConfigSchema>;

const PASSED_AS_IS = [
  'learning_rate',
  'weight_decay',
  'adam_beta1',
  'adam_beta2',
  'adam_epsilon',
  'optim',
  'lr_scheduler_type',
  'warmup_steps',
  'gradient_accumulation_steps',
  'max_grad_norm',
  'label_smoothing_factor',
  'fp16',
  'bf16',
  'tf32',
  'gradient_checkpointing',
  'torch_compile',
  'seed',
  'dataloader_num_workers',
  'dataloader_pin_memory',
  'dataloader_drop_last',
] as const;

/** The validated config → TrainingArguments keywords (what python/bridge.py passes as `**train_args`). */
export function toTrainingArguments(config: HfConfig): Record<string, unknown> {
  return {
    num_train_epochs: config.epochs,
    per_device_train_batch_size: config.batch,
    per_device_eval_batch_size: config.per_device_eval_batch_size ?? config.batch,
    ...frameworkArgs(config, PASSED_AS_IS),
  };
}
