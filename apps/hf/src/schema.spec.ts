import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ConfigError, describeTrainer, parseConfigObject, schemaFor } from '@trainers/trainer-contract';
import { createHfDriver } from './driver.js';
import { hfConfigSchema, toTrainingArguments } from './config.js';
import { resolveModel } from './model.js';
import { bestMetricFor, canonicalMetrics } from './metrics.js';

describe('published schemas', () => {
  it('schemas/hf.config.schema.json is up to date (run `npm run schemas`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../schemas/hf.config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(schemaFor(createHfDriver(), 'config'))));
  });

  it('schemas/hf.describe.json is up to date (run `npm run schemas`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../schemas/hf.describe.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(describeTrainer(createHfDriver()))));
  });

  it('--describe names the archives that stand for best.pt and last.pt, and the format per task', () => {
    const d = describeTrainer(createHfDriver()) as Record<string, unknown>;
    expect(d['checkpoints']).toEqual({ best: 'best.tar', last: 'last.tar' });
    expect(d['dataset_formats']).toEqual({ classify: 'imagefolder', detect: 'coco' });
  });
});

describe('config: TrainingArguments by their real names', () => {
  const problems = (raw: Record<string, unknown>) => {
    try {
      parseConfigObject(hfConfigSchema, raw);
      return [];
    } catch (err) {
      expect(err).toBeInstanceOf(ConfigError);
      return (err as ConfigError).problems;
    }
  };

  it('maps the common keys and passes the framework keys through', () => {
    const config = parseConfigObject(hfConfigSchema, { epochs: 4, batch: 2, learning_rate: 0.001, lr_scheduler_type: 'cosine', warmup_steps: 0.1, fp16: false });
    expect(toTrainingArguments(config)).toMatchObject({
      num_train_epochs: 4,
      per_device_train_batch_size: 2,
      per_device_eval_batch_size: 2,
      learning_rate: 0.001,
      lr_scheduler_type: 'cosine',
      warmup_steps: 0.1,
      weight_decay: 0,
      max_grad_norm: 1,
    });
  });

  it('refuses unknown keys with a suggestion, owned keys with the reason, and values out of range', () => {
    expect(problems({ learning_rat: 0.1 })).toEqual(['config.learning_rat: unknown key (did you mean "learning_rate"?)']);
    expect(problems({ warmup_ratio: 0.1 })).toEqual(['config.warmup_ratio: not allowed, transformers 5.18 has no warmup_ratio; use "warmup_steps" with a fraction below 1']);
    expect(problems({ num_train_epochs: 3 })).toEqual(['config.num_train_epochs: not allowed, use the common key "epochs"']);
    expect(problems({ learning_rate: -1 })[0]).toMatch(/^config\.learning_rate: too small/);
    expect(problems({ lr_scheduler_type: 'cosin' })[0]).toMatch(/^config\.lr_scheduler_type: /);
  });
});

describe('model names and metrics', () => {
  it('classifies hub ids, folders and s3:// and refuses what is neither', () => {
    expect(resolveModel('facebook/detr-resnet-50')).toEqual({ kind: 'hub', value: 'facebook/detr-resnet-50' });
    expect(resolveModel('s3://models/vit/')).toEqual({ kind: 's3', value: 's3://models/vit/' });
    expect(resolveModel('/tmp/some-model').kind).toBe('local');
    expect(() => resolveModel('not a model!!')).toThrow(/neither a Hugging Face hub id/);
  });

  it('canonical keys from the Trainer keys, best by the primary metric', () => {
    expect(canonicalMetrics({ loss: 1, eval_loss: 2, eval_accuracy_top1: 0.5, 'eval_mAP50-95': 0.3, eval_runtime: 1 })).toEqual({ loss: 1, val_loss: 2, accuracy_top1: 0.5, 'mAP50-95': 0.3 });
    expect(bestMetricFor('val_loss')).toEqual({ metric: 'loss', greaterIsBetter: false });
    expect(bestMetricFor('mAP50')).toEqual({ metric: 'mAP50', greaterIsBetter: true });
  });
});
