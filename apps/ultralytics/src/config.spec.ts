import { describe, it, expect } from '@jest/globals';
import { ConfigError, parseConfigObject, parseConfigText } from '@trainers/trainer-contract';
import { toUltralyticsArgs, ultralyticsConfigSchema } from './config.js';

const parse = (raw: unknown) => parseConfigObject(ultralyticsConfigSchema, raw);

function problems(raw: unknown): string[] {
  try {
    parse(raw);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).exitCode).toBe(3);
    return [...(e as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('ultralytics config', () => {
  it('fills Ultralytics defaults', () => {
    const c = parse({});
    expect(c).toMatchObject({ epochs: 100, lr0: 0.01, lrf: 0.01, momentum: 0.937, optimizer: 'auto', patience: 100, close_mosaic: 10, mosaic: 1.0, fliplr: 0.5, amp: true, workers: 8, device: 'auto' });
  });

  it('accepts the real argument types', () => {
    const c = parse({ lr0: 0.001, optimizer: 'AdamW', cache: 'ram', freeze: [0, 1, 2], time: 0.5, device: '0,1', cos_lr: true, batch: -1, imgsz: 320 });
    expect(c).toMatchObject({ optimizer: 'AdamW', cache: 'ram', freeze: [0, 1, 2], time: 0.5, device: '0,1' });
  });

  it.each([['cpu'], ['0'], ['0,1'], ['auto'], [0]])('accepts device %p', (device) => {
    expect(parse({ device }).device).toEqual(device);
  });

  it('names every bad field on its own line', () => {
    const lines = problems({ lr0: 2, optimizer: 'adamw', mosaic: -0.1, workers: 1.5 });
    expect(lines).toHaveLength(4);
    expect(lines.find((l) => l.startsWith('config.lr0:'))).toMatch(/got 2/);
    expect(lines.find((l) => l.startsWith('config.optimizer:'))).toBeDefined();
    expect(lines.find((l) => l.startsWith('config.mosaic:'))).toBeDefined();
    expect(lines.find((l) => l.startsWith('config.workers:'))).toBeDefined();
  });

  it('refuses keys the trainer owns, with the reason', () => {
    const lines = problems({ data: 'x.yaml', project: '/tmp', name: 'n', exist_ok: true, resume: true });
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^config\.data: not allowed, the trainer points Ultralytics at the dataset/),
        expect.stringMatching(/^config\.project: not allowed, the trainer chooses the run directory/),
        expect.stringMatching(/^config\.name: not allowed/),
        expect.stringMatching(/^config\.exist_ok: not allowed/),
        expect.stringMatching(/^config\.resume: not allowed, resuming is automatic/),
      ]),
    );
  });

  it('suggests the nearest key for a typo and rejects keys Ultralytics removed', () => {
    expect(problems({ lr: 0.1 })[0]).toMatch(/^config\.lr: unknown key \(did you mean "lr0"\?\)/);
    expect(problems({ label_smoothing: 0.1 })[0]).toMatch(/^config\.label_smoothing: unknown key/);
  });

  it('rejects a bad device string', () => {
    expect(problems({ device: 'gpu' })[0]).toMatch(/^config\.device:/);
  });

  it('maps to train() kwargs: only Ultralytics keys, device auto left out, save forced on', () => {
    const c = parseConfigText(ultralyticsConfigSchema, JSON.stringify({ epochs: 2, device: 'auto', lr0: 0.02, checkpoint_interval: 2, primary_metric: 'mAP50' }));
    const args = toUltralyticsArgs(c as Record<string, unknown>);
    expect(args).toMatchObject({ epochs: 2, lr0: 0.02, save: true, batch: 16, imgsz: 640 });
    expect(args).not.toHaveProperty('device');
    for (const k of ['checkpoint_interval', 'primary_metric', 'task', 'split_config', 'strict_data', 'mlflow_log_model']) expect(args).not.toHaveProperty(k);
    expect(toUltralyticsArgs({ ...c, device: 0 } as Record<string, unknown>)['device']).toBe('0');
  });
});
