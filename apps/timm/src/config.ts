import { z } from 'zod';
import { ConfigError, defineConfig, frameworkArgs, fractionSchema as fraction, positiveSchema as positive } from '@trainers/trainer-contract';

/**
 * timm 1.0.29's training options (train.py's argparse dests, and create_model's drop_rate / drop_path_rate), with
 * their types, ranges and train.py's defaults. Differences from train.py, each for a reason: `pretrained` defaults
 * to true (issue 12), `epochs`/`batch`/`device` are the contract's common keys, and `img_size` may also come from the
 * common `imgsz`.
 */
const timmConfigShape = {
  batch: z.number().int().min(1).max(65_536).default(128).describe('images per batch (train.py --batch-size)'),
  // Model
  model: z.string().min(1).max(200).optional().describe('timm architecture of a bare state_dict given as --model-name'),
  pretrained: z.boolean().default(true).describe('start from the architecture\'s pretrained weights (Hugging Face hub, cached in WORK_DIR)'),
  drop_rate: fraction(0.0, 'dropout before the classifier (train.py --drop)'),
  drop_path_rate: z.number().min(0).max(1).optional().describe('stochastic depth rate (train.py --drop-path)'),
  img_size: z.number().int().min(16).max(8192).optional().describe('input image size; default: the model\'s pretrained_cfg'),
  crop_pct: z.number().gt(0).max(1).optional().describe('validation center crop fraction; default: the model\'s'),
  interpolation: z.enum(['bilinear', 'bicubic', 'nearest']).optional().describe('resize interpolation; default: the model\'s'),
  channels_last: z.boolean().default(false).describe('channels-last memory layout (CUDA only)'),
  // Optimizer
  opt: z.string().regex(/^[a-z0-9_]+$/).max(40).default('sgd').describe('timm optimizer name (sgd, momentum, adamw, lamb, lion, ...)'),
  opt_eps: positive(1).optional().describe('optimizer epsilon'),
  opt_betas: z.array(z.number().min(0).max(1)).min(1).max(3).optional().describe('optimizer betas'),
  momentum: fraction(0.9, 'optimizer momentum'),
  weight_decay: z.number().min(0).max(10).default(2e-5).describe('weight decay'),
  clip_grad: positive(1e6).optional().describe('gradient clipping threshold (off when absent)'),
  clip_mode: z.enum(['norm', 'value', 'agc']).default('norm').describe('gradient clipping mode'),
  layer_decay: z.number().gt(0).max(1).optional().describe('layer-wise learning-rate decay'),
  grad_accum_steps: z.number().int().min(1).max(1024).default(1).describe('batches per optimizer step'),
  // Learning rate schedule
  sched: z.enum(['cosine', 'tanh', 'step', 'multistep', 'plateau', 'poly', 'none']).default('cosine').describe('scheduler'),
  sched_on_updates: z.boolean().default(false).describe('step the schedule per optimizer update instead of per epoch'),
  lr: positive(10).optional().describe('learning rate; absent: lr_base scaled by the global batch size'),
  lr_base: positive(10).default(0.1).describe('base learning rate at lr_base_size images per step'),
  lr_base_size: z.number().int().min(1).max(1_000_000).default(256).describe('batch size lr_base is for'),
  lr_base_scale: z.enum(['', 'linear', 'sqrt']).default('').describe('how lr_base scales (default: sqrt for ada*/lamb, else linear)'),
  lr_noise: z.array(z.number().min(0)).min(1).max(2).optional().describe('learning rate noise on/off epoch fractions'),
  lr_noise_pct: fraction(0.67, 'learning rate noise limit'),
  lr_noise_std: z.number().min(0).max(10).default(1.0).describe('learning rate noise std'),
  lr_cycle_mul: positive(100).default(1.0).describe('cycle length multiplier'),
  lr_cycle_decay: fraction(0.5, 'cycle amplitude decay'),
  lr_cycle_limit: z.number().int().min(1).max(1000).default(1).describe('cycle limit'),
  lr_k_decay: positive(100).default(1.0).describe('cosine/poly k decay'),
  warmup_lr: z.number().min(0).max(10).default(1e-5).describe('warmup learning rate'),
  min_lr: z.number().min(0).max(10).default(0).describe('lower lr bound of cyclic schedulers'),
  decay_epochs: z.number().gt(0).max(100_000).default(90).describe('epochs between lr decays (step)'),
  decay_milestones: z.array(z.number().int().min(0)).max(1000).default([90, 180, 270]).describe('epoch milestones (multistep)'),
  decay_rate: fraction(0.1, 'lr decay rate'),
  warmup_epochs: z.number().int().min(0).max(100_000).default(5).describe('linear warmup epochs'),
  warmup_prefix: z.boolean().default(false).describe('exclude warmup from the decay schedule'),
  cooldown_epochs: z.number().int().min(0).max(100_000).default(0).describe('epochs at min_lr after the cycle, counted in epochs'),
  patience_epochs: z.number().int().min(0).max(100_000).default(10).describe('plateau patience'),
  // Augmentation and regularisation
  no_aug: z.boolean().default(false).describe('no training augmentation'),
  scale: z.array(z.number().gt(0).max(1)).length(2).default([0.08, 1.0]).describe('random resized crop scale'),
  ratio: z.array(z.number().gt(0).max(10)).length(2).default([3 / 4, 4 / 3]).describe('random resized crop aspect ratio'),
  hflip: fraction(0.5, 'horizontal flip probability'),
  vflip: fraction(0.0, 'vertical flip probability'),
  color_jitter: z.number().min(0).max(1).default(0.4).describe('color jitter factor'),
  aa: z.string().max(100).optional().describe('AutoAugment policy (v0, original, rand-m9-mstd0.5, augmix-m5-w4-d2, ...)'),
  reprob: fraction(0.0, 'random erase probability'),
  remode: z.enum(['const', 'rand', 'pixel']).default('pixel').describe('random erase mode'),
  recount: z.number().int().min(1).max(100).default(1).describe('random erase count'),
  train_interpolation: z.enum(['random', 'bilinear', 'bicubic', 'nearest']).default('random').describe('training interpolation'),
  smoothing: fraction(0.1, 'label smoothing'),
  mixup: z.number().min(0).max(100).default(0.0).describe('mixup alpha (on when > 0)'),
  cutmix: z.number().min(0).max(100).default(0.0).describe('cutmix alpha (on when > 0)'),
  cutmix_minmax: z.array(z.number().min(0).max(1)).length(2).optional().describe('cutmix min/max ratio (overrides alpha)'),
  mixup_prob: fraction(1.0, 'probability of mixup or cutmix per batch'),
  mixup_switch_prob: fraction(0.5, 'probability of cutmix instead of mixup when both are on'),
  mixup_mode: z.enum(['batch', 'pair', 'elem']).default('batch').describe('how mixup/cutmix params are applied'),
  mixup_off_epoch: z.number().int().min(0).max(100_000).default(0).describe('turn mixup off from this epoch (0: never)'),
  // EMA
  model_ema: z.boolean().default(false).describe('keep an exponential moving average of the weights (ModelEmaV3); eval uses it'),
  model_ema_decay: z.number().min(0).max(1).default(0.9998).describe('EMA decay'),
  model_ema_warmup: z.boolean().default(false).describe('EMA decay warmup'),
  // Runtime
  amp: z.boolean().default(false).describe('mixed precision (CUDA only)'),
  amp_dtype: z.enum(['float16', 'bfloat16']).default('float16').describe('mixed precision dtype; float16 uses a grad scaler'),
  workers: z.number().int().min(0).max(256).default(4).describe('data loader processes'),
  pin_mem: z.boolean().default(false).describe('pinned host memory for the loader (CUDA)'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(42).describe('random seed'),
  validation_batch_size: z.number().int().min(1).max(65_536).optional().describe('eval batch size (default: batch)'),
};

/** train.py options the trainer sets itself; naming one is refused with the reason. */
const TIMM_OWNED_KEYS: Record<string, string> = {
  data_dir: 'the trainer points timm at the dataset it staged from --dataset-s3-uri',
  data: 'the trainer points timm at the dataset it staged from --dataset-s3-uri',
  dataset: 'the trainer points timm at the dataset it staged from --dataset-s3-uri',
  output: 'the trainer chooses the run directory inside WORK_DIR',
  experiment: 'the trainer chooses the run directory inside WORK_DIR',
  resume: 'resuming is automatic: a restart with the same job id continues from checkpoints/{job_id}/last.pt',
  initial_checkpoint: 'give the checkpoint as --model-name (a local path or s3://…/x.pt)',
  num_classes: 'the number of classes comes from the dataset',
  batch_size: 'use batch (the contract\'s name for it)',
  eval_metric: 'use primary_metric (accuracy_top1, accuracy_top5, val_loss or loss)',
  checkpoint_hist: 'the trainer keeps best.pt and last.pt',
  start_epoch: 'resuming is automatic',
};

export const timmConfigSchema = defineConfig(timmConfigShape, { ownedKeys: TIMM_OWNED_KEYS });
export type TimmConfig = z.output<typeof timmConfigSchema>;

/** The validated config → the bridge's `train_args`: timm's option names, img_size settled from imgsz. */
export function toTimmArgs(config: TimmConfig): Record<string, unknown> {
  const out = frameworkArgs(config, ['epochs', 'device', 'primary_metric', ...Object.keys(timmConfigShape)]);
  const imgsz = config.imgsz;
  if (imgsz !== undefined) {
    const [h, w] = Array.isArray(imgsz) ? imgsz : [imgsz, imgsz];
    if (config.img_size !== undefined && (config.img_size !== h || config.img_size !== w)) {
      throw new ConfigError(`config.imgsz: ${JSON.stringify(imgsz)} disagrees with config.img_size ${config.img_size}; give one of them`);
    }
    out['input_size'] = [3, h, w];
  } else if (config.img_size !== undefined) {
    out['input_size'] = [3, config.img_size, config.img_size];
  }
  return out;
}
