import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { describeTrainer, parseConfigObject, schemaFor } from '@trainers/trainer-contract';
import { createTimmDriver } from './driver.js';
import { timmConfigSchema, toTimmArgs } from './config.js';
import { canonicalMetrics } from './metrics.js';
import { resolveModel } from './model.js';

describe('published schemas', () => {
  it('schemas/timm.config.schema.json is up to date (run `npm run schemas`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../schemas/timm.config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(schemaFor(createTimmDriver(), 'config'))));
  });

  it('schemas/timm.describe.json is up to date (run `npm run schemas`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../schemas/timm.describe.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(describeTrainer(createTimmDriver()))));
  });
});

describe('config', () => {
  it("has timm's option names and train.py's defaults, pretrained on", () => {
    const c = parseConfigObject(timmConfigSchema, {});
    expect(c).toMatchObject({ opt: 'sgd', sched: 'cosine', momentum: 0.9, weight_decay: 2e-5, warmup_epochs: 5, smoothing: 0.1, model_ema_decay: 0.9998, grad_accum_steps: 1, pretrained: true, batch: 128 });
    expect(c.lr).toBeUndefined();
  });

  it('settles the input size from img_size or the common imgsz, and refuses both when they disagree', () => {
    expect(toTimmArgs(parseConfigObject(timmConfigSchema, { img_size: 64 }))['input_size']).toEqual([3, 64, 64]);
    expect(toTimmArgs(parseConfigObject(timmConfigSchema, { imgsz: [48, 64] }))['input_size']).toEqual([3, 48, 64]);
    expect(() => toTimmArgs(parseConfigObject(timmConfigSchema, { imgsz: 64, img_size: 32 }))).toThrow(/config\.imgsz: 64 disagrees with config\.img_size 32/);
  });

  it('suggests the nearest key and refuses the keys the trainer owns', () => {
    expect(() => parseConfigObject(timmConfigSchema, { weight_decy: 0.1 })).toThrow('config.weight_decy: unknown key (did you mean "weight_decay"?)');
    expect(() => parseConfigObject(timmConfigSchema, { num_classes: 3 })).toThrow(/config\.num_classes: not allowed, the number of classes comes from the dataset/);
  });
});

describe('metrics and model names', () => {
  it("maps summary.csv's names to the canonical ones, accuracies as fractions", () => {
    expect(canonicalMetrics({ train_loss: 1.5, eval_loss: 1.25, eval_top1: 50, eval_top5: 100, lr: 0.01 })).toEqual({ loss: 1.5, val_loss: 1.25, accuracy_top1: 0.5, accuracy_top5: 1, lr: 0.01 });
  });

  it('tells timm names from checkpoints', () => {
    expect(resolveModel('resnet18')).toEqual({ kind: 'name', value: 'resnet18' });
    expect(resolveModel('resnet18.a1_in1k')).toEqual({ kind: 'name', value: 'resnet18.a1_in1k' });
    expect(resolveModel('/ckpt/best.pt')).toEqual({ kind: 'file', value: '/ckpt/best.pt' });
    expect(resolveModel('s3://b/x/best.pt')).toEqual({ kind: 'file', value: 's3://b/x/best.pt' });
    expect(() => resolveModel('res net')).toThrow(/not a timm model name/);
  });
});
