import { describe, it, expect } from '@jest/globals';
import { ConfigError, parseConfigObject } from '@trainers/trainer-contract';
import { canonicalMetrics, defaultPrimaryMetric } from './metrics.js';
import { createUltralyticsDriver } from './driver.js';
import { ultralyticsConfigSchema } from './config.js';

const checkPrimaryMetric = (task: 'detect' | 'segment' | 'classify', primary: string) =>
  createUltralyticsDriver().resolveTask({ detect: 'yolov8n', segment: 'yolov8n-seg', classify: 'yolov8n-cls' }[task], parseConfigObject(ultralyticsConfigSchema, { primary_metric: primary }));

describe('canonicalMetrics', () => {
  it('maps detect keys (verbatim from Ultralytics 8.3.186)', () => {
    const raw = {
      'train/box_loss': 1.26181, 'train/cls_loss': 1.07333, 'train/dfl_loss': 0.75396,
      'metrics/precision(B)': 0.1, 'metrics/recall(B)': 0.2, 'metrics/mAP50(B)': 0.3, 'metrics/mAP50-95(B)': 0.25,
      'val/box_loss': 4.17433, 'val/cls_loss': 3.77356, 'val/dfl_loss': 2.44495,
    };
    expect(canonicalMetrics('detect', raw)).toEqual({
      box_loss: 1.26181, cls_loss: 1.07333, dfl_loss: 0.75396, loss: 3.0891,
      precision: 0.1, recall: 0.2, mAP50: 0.3, 'mAP50-95': 0.25,
      val_box_loss: 4.17433, val_cls_loss: 3.77356, val_dfl_loss: 2.44495, val_loss: 10.39284,
    });
  });

  it('keeps the mask and pose heads apart from the box head', () => {
    const seg = canonicalMetrics('segment', { 'metrics/mAP50-95(B)': 0.4, 'metrics/mAP50-95(M)': 0.3, 'metrics/precision(M)': 0.5, 'train/seg_loss': 1 });
    expect(seg).toEqual({ 'mAP50-95': 0.4, 'mAP50-95(M)': 0.3, 'precision(M)': 0.5, seg_loss: 1, loss: 1 });
    const pose = canonicalMetrics('pose', { 'metrics/mAP50(P)': 0.6, 'metrics/recall(P)': 0.7, 'train/kobj_loss': 0.5, 'train/pose_loss': 2 });
    expect(pose).toEqual({ 'mAP50(P)': 0.6, 'recall(P)': 0.7, kobj_loss: 0.5, pose_loss: 2, loss: 2.5 });
  });

  it('maps classify keys', () => {
    expect(canonicalMetrics('classify', { 'train/loss': 0.9, 'metrics/accuracy_top1': 0.5, 'metrics/accuracy_top5': 1, 'val/loss': 1.1 })).toEqual({
      loss: 0.9, accuracy_top1: 0.5, accuracy_top5: 1, val_loss: 1.1,
    });
  });

  it('drops non-finite values and unknown keys', () => {
    expect(canonicalMetrics('detect', { 'metrics/mAP50(B)': Number.NaN, 'lr/pg0': 0.01, fitness: 0.3 })).toEqual({});
  });
});

describe('primary metric', () => {
  it('defaults per task', () => {
    expect(defaultPrimaryMetric('detect')).toBe('mAP50-95');
    expect(defaultPrimaryMetric('obb')).toBe('mAP50-95');
    expect(defaultPrimaryMetric('segment')).toBe('mAP50-95(M)');
    expect(defaultPrimaryMetric('pose')).toBe('mAP50-95(P)');
    expect(defaultPrimaryMetric('classify')).toBe('accuracy_top1');
  });

  it('refuses a metric the task never reports', () => {
    expect(() => checkPrimaryMetric('detect', 'mAP50')).not.toThrow();
    expect(() => checkPrimaryMetric('segment', 'mAP50(M)')).not.toThrow();
    expect(() => checkPrimaryMetric('detect', 'accuracy_top1')).toThrow(ConfigError);
    expect(() => checkPrimaryMetric('classify', 'mAP50')).toThrow(/config\.primary_metric: "mAP50" is not reported for classify/);
  });
});
