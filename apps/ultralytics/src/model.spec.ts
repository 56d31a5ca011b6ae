import { describe, it, expect } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, ModelUnavailableError } from '@trainers/trainer-contract';
import { checkModelAvailable, resolveModel, resolveTaskFor } from './model.js';

describe('resolveModel', () => {
  it.each([
    ['yolov8n', 'release', 'yolov8n.pt', 'detect'],
    ['yolo11n-seg', 'release', 'yolo11n-seg.pt', 'segment'],
    ['yolov8s-pose', 'release', 'yolov8s-pose.pt', 'pose'],
    ['yolo11n-cls', 'release', 'yolo11n-cls.pt', 'classify'],
    ['yolov8n-obb', 'release', 'yolov8n-obb.pt', 'obb'],
    ['yolo11m.pt', 'release', 'yolo11m.pt', 'detect'],
    ['yolo_world_v2_s', 'release', 'yolov8s-worldv2.pt', 'detect'],
    ['yolov8n.yaml', 'yaml', 'yolov8n.yaml', 'detect'],
    ['yolo11s-pose.yaml', 'yaml', 'yolo11s-pose.yaml', 'pose'],
    ['/models/custom-seg.pt', 'local', '/models/custom-seg.pt', 'segment'],
    ['s3://bucket/runs/7/best.pt', 's3', 's3://bucket/runs/7/best.pt', undefined],
    ['s3://bucket/yolo11n-cls.pt', 's3', 's3://bucket/yolo11n-cls.pt', 'classify'],
  ])('%s → %s %s (%s)', (name, kind, ultralytics, task) => {
    expect(resolveModel(name)).toEqual({ kind, ultralytics, ...(task ? { task } : {}) });
  });

  it('leaves the task open for a local .pt whose name says nothing', () => {
    expect(resolveModel('/m/weights.pt').task).toBeUndefined();
  });

  it.each([['resnet50'], ['yolov8q'], ['yolo11n-seg.bin'], ['s3://bucket/'], ['s3://bucket/model.onnx'], ['mymodel.yaml'], ['weights.pt']])(
    'refuses %s as MODEL_UNAVAILABLE (exit 3)',
    (name) => {
      let err: unknown;
      try {
        resolveModel(name);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(ModelUnavailableError);
      expect((err as ModelUnavailableError).exitCode).toBe(3);
      expect((err as ModelUnavailableError).message).toMatch(/^model_name: /);
    },
  );

  it('checks that a local file exists', () => {
    const dir = mkdtempSync(join(tmpdir(), 'model-spec-'));
    const file = join(dir, 'w.pt');
    expect(() => checkModelAvailable(resolveModel(file))).toThrow(ModelUnavailableError);
    writeFileSync(file, 'x');
    expect(() => checkModelAvailable(resolveModel(file))).not.toThrow();
    expect(() => checkModelAvailable(resolveModel('yolov8n'))).not.toThrow();
  });
});

describe('resolveTaskFor', () => {
  it('takes the task from the suffix and accepts a matching config.task', () => {
    expect(resolveTaskFor(resolveModel('yolo11n-seg'), 'yolo11n-seg', undefined)).toBe('segment');
    expect(resolveTaskFor(resolveModel('yolo11n-seg'), 'yolo11n-seg', 'segment')).toBe('segment');
  });

  it('refuses a config.task that contradicts the model name', () => {
    expect(() => resolveTaskFor(resolveModel('yolov8n'), 'yolov8n', 'segment')).toThrow(ConfigError);
    expect(() => resolveTaskFor(resolveModel('yolov8n'), 'yolov8n', 'segment')).toThrow(
      'config.task: "segment" does not match model "yolov8n", which is a detect model',
    );
  });

  it('uses config.task, else detect, when the name says nothing', () => {
    expect(resolveTaskFor(resolveModel('/m/w.pt'), '/m/w.pt', 'pose')).toBe('pose');
    expect(resolveTaskFor(resolveModel('/m/w.pt'), '/m/w.pt', undefined)).toBe('detect');
  });
});
