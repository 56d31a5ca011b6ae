import { z } from 'zod';
import { defineConfig, frameworkArgs, fractionSchema as fraction, imgszSchema } from '@trainers/trainer-contract';

const gain = (def: number, what: string) => z.number().min(0).max(1000).default(def).describe(what);

/**
 * Ultralytics 8.3 training arguments (cfg/default.yaml), with its own types, ranges and defaults.
 * Keys Ultralytics removed (e.g. `label_smoothing`) are absent on purpose: Ultralytics rejects them.
 */
const ultralyticsConfigShape = {
  // Common keys with Ultralytics' own meaning: AutoBatch, and its 640 default.
  batch: z
    .union([z.number().int().min(1).max(65_536), z.literal(-1), z.number().gt(0).lt(1)])
    .default(16)
    .describe('images per batch; -1 picks one automatically, a fraction in (0,1) targets that share of GPU memory'),
  imgsz: imgszSchema(640),
  // Optimisation
  lr0: fraction(0.01, 'initial learning rate (SGD 1e-2, Adam 1e-3)'),
  lrf: fraction(0.01, 'final learning rate as a fraction of lr0'),
  momentum: fraction(0.937, 'SGD momentum / Adam beta1'),
  weight_decay: fraction(0.0005, 'optimizer weight decay'),
  warmup_epochs: z.number().min(0).max(1000).default(3.0).describe('warmup epochs (fractions allowed)'),
  warmup_momentum: fraction(0.8, 'initial momentum during warmup'),
  warmup_bias_lr: fraction(0.1, 'initial bias learning rate during warmup'),
  optimizer: z.enum(['SGD', 'Adam', 'Adamax', 'AdamW', 'NAdam', 'RAdam', 'RMSProp', 'auto']).default('auto'),
  cos_lr: z.boolean().default(false).describe('cosine learning-rate schedule'),
  nbs: z.number().int().min(1).max(65_536).default(64).describe('nominal batch size for loss normalisation'),
  // Schedule and stopping
  patience: z.number().int().min(0).max(100_000).default(100).describe('epochs without improvement before early stopping (0 disables)'),
  time: z.number().gt(0).max(10_000).optional().describe('training budget in hours; overrides epochs'),
  close_mosaic: z.number().int().min(0).max(100_000).default(10).describe('disable mosaic for the last N epochs'),
  save_period: z.number().int().min(-1).max(100_000).default(-1).describe('also keep epochN.pt every N epochs (-1 off)'),
  val: z.boolean().default(true).describe('validate every epoch (the last epoch is always validated)'),
  plots: z.boolean().default(true).describe('write training/validation plots'),
  // Loss gains
  box: gain(7.5, 'box loss gain'),
  cls: gain(0.5, 'class loss gain'),
  dfl: gain(1.5, 'distribution focal loss gain'),
  pose: gain(12.0, 'pose loss gain (pose only)'),
  kobj: gain(1.0, 'keypoint objectness loss gain (pose only)'),
  // Augmentation
  hsv_h: fraction(0.015, 'HSV hue augmentation'),
  hsv_s: fraction(0.7, 'HSV saturation augmentation'),
  hsv_v: fraction(0.4, 'HSV value augmentation'),
  degrees: z.number().min(0).max(180).default(0.0).describe('rotation (+/- degrees)'),
  translate: fraction(0.1, 'translation (+/- fraction)'),
  scale: fraction(0.5, 'scale gain (+/-)'),
  shear: z.number().min(0).max(180).default(0.0).describe('shear (+/- degrees)'),
  perspective: fraction(0.0, 'perspective (+/- fraction; useful range 0-0.001)'),
  flipud: fraction(0.0, 'probability of an up-down flip'),
  fliplr: fraction(0.5, 'probability of a left-right flip'),
  bgr: fraction(0.0, 'probability of swapping RGB to BGR'),
  mosaic: fraction(1.0, 'probability of mosaic'),
  mixup: fraction(0.0, 'probability of mixup'),
  cutmix: fraction(0.0, 'probability of cutmix'),
  copy_paste: fraction(0.0, 'probability of copy-paste (segment)'),
  copy_paste_mode: z.enum(['flip', 'mixup']).default('flip'),
  auto_augment: z.enum(['randaugment', 'autoaugment', 'augmix']).default('randaugment').describe('classify only'),
  erasing: z.number().min(0).max(0.9).default(0.4).describe('random erasing probability (classify only)'),
  multi_scale: z.boolean().default(false).describe('vary imgsz by +/-50% during training'),
  // Data loading
  cache: z.union([z.boolean(), z.enum(['ram', 'disk'])]).default(false),
  workers: z.number().int().min(0).max(256).default(8).describe('dataloader workers per rank'),
  fraction: z.number().gt(0).max(1).default(1.0).describe('share of the training set to use'),
  rect: z.boolean().default(false).describe('rectangular batches'),
  single_cls: z.boolean().default(false).describe('train all classes as one'),
  // Model
  pretrained: z.boolean().default(true).describe('start from pretrained weights when the model has them'),
  freeze: z
    .union([z.number().int().min(0).max(1000), z.array(z.number().int().min(0).max(1000)).max(1000)])
    .optional()
    .describe('freeze the first N layers, or these layer indices'),
  dropout: fraction(0.0, 'dropout (classify only)'),
  overlap_mask: z.boolean().default(true).describe('merge instance masks (segment only)'),
  mask_ratio: z.number().int().min(1).max(64).default(4).describe('mask downsample ratio (segment only)'),
  // Runtime
  amp: z.boolean().default(true).describe('automatic mixed precision (GPU)'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).default(0),
  deterministic: z.boolean().default(true),
  profile: z.boolean().default(false),
  verbose: z.boolean().default(true),
  // Validation during training
  conf: z.number().min(0).max(1).optional().describe('confidence threshold for validation (default 0.001)'),
  iou: fraction(0.7, 'NMS IoU threshold for validation'),
  max_det: z.number().int().min(1).max(100_000).default(300),
};

/** Ultralytics arguments the trainer sets itself; a config that names one is refused with the reason. */
const ULTRALYTICS_OWNED_KEYS: Record<string, string> = {
  data: 'the trainer points Ultralytics at the dataset it staged from --dataset-s3-uri',
  project: 'the trainer chooses the run directory inside WORK_DIR',
  name: 'the trainer chooses the run directory inside WORK_DIR',
  exist_ok: 'the trainer chooses the run directory inside WORK_DIR',
  resume: 'resuming is automatic: a restart with the same job id continues from checkpoints/{job_id}/last.pt',
  model: 'the model comes from --model-name',
  save: 'checkpoints are always saved: they are uploaded and used to resume',
  cfg: 'a config file would bypass validation; put the keys in --config',
  mode: 'this trainer only trains',
};

export const ultralyticsConfigSchema = defineConfig(ultralyticsConfigShape, { ownedKeys: ULTRALYTICS_OWNED_KEYS });
export type UltralyticsConfig = z.output<typeof ultralyticsConfigSchema>;

/** The config → `model.train(**kwargs)` (only Ultralytics' own keys; `device: auto` left to Ultralytics). */
export function toUltralyticsArgs(config: object): Record<string, unknown> {
  const { device, ...args } = frameworkArgs(config, ['epochs', 'device', ...Object.keys(ultralyticsConfigShape)]);
  return { ...args, ...(device === 'auto' || device === undefined ? {} : { device: String(device) }), save: true };
}
