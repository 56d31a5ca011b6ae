import { describe, expect, it } from '@jest/globals';
import { z } from 'zod';
import { configJsonSchema, defineConfig, imgszSchema, parseConfigText } from './schema.js';
import { ConfigError } from '../errors/index.js';

const schema = defineConfig({ lr0: z.number().gt(0).max(10).default(0.01) }, { ownedKeys: { data: 'the trainer sets it from --dataset-s3-uri' } });
const problems = (text: string) => {
  try {
    parseConfigText(schema, text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).exitCode).toBe(3);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
};

describe('config', () => {
  it('fills defaults and keeps what is given', () => {
    const c = parseConfigText(schema, '{"epochs": 5, "imgsz": [320, 640], "device": "0,1", "split_config": {"splits": {"img_001": "val"}}}');
    expect(c).toMatchObject({ epochs: 5, batch: 16, imgsz: [320, 640], device: '0,1', lr0: 0.01, checkpoint_interval: 1, strict_data: false });
    expect(c.split_config).toEqual({ splits: { img_001: 'val' }, val_ratio: 0.2, seed: 0 });
    expect(parseConfigText(schema, undefined).epochs).toBe(100);
  });

  it.each([
    ['{"epochs": "ten"}', /^config\.epochs: invalid input: expected number, received string \(got "ten"\)$/],
    ['{"epochs": -5}', /^config\.epochs: too small: expected number to be >=1 \(got -5\)$/],
    ['{"epochs": 2.5}', /^config\.epochs: .*int.* \(got 2\.5\)$/],
    ['{"epoch": 5}', /^config\.epoch: unknown key \(did you mean "epochs"\?\)$/],
    ['{"epochs": 1e400}', /^config\.epochs: .* \(got Infinity\)$/],
    ['{"epochs": 99999999999}', /^config\.epochs: too big: expected number to be <=100000 \(got 99999999999\)$/],
    ['{"lr0": "NaN"}', /^config\.lr0: invalid input: expected number, received string \(got "NaN"\)$/],
    ['{"batch": 0}', /^config\.batch: /],
    ['{"batch": -1}', /^config\.batch: too small/],
    ['{"batch": 0.5}', /^config\.batch: .*int/],
    ['{"imgsz": [640]}', /^config\.imgsz: /],
    ['{"device": "gpu"}', /^config\.device: /],
    ['{"task": "segmentation"}', /^config\.task: /],
    ['{"split_config": {"val_ratio": 1.5}}', /^config\.split_config\.val_ratio: too big/],
    ['{"split_config": {"splits": {"a.jpg": "holdout"}}}', /^config\.split_config\.splits\.a\.jpg: /],
    ['{"split_config": {"val_raito": 0.1}}', /^config\.split_config\.val_raito: unknown key \(did you mean "val_ratio"\?\)$/],
    ['{"data": "/x/data.yaml"}', /^config\.data: not allowed, the trainer sets it from --dataset-s3-uri$/],
    ['{"checkpoint_interval": 0}', /^config\.checkpoint_interval: too small/],
  ])('%s → exit 3 naming the field', (text, expected) => {
    const lines = problems(text);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(expected);
  });

  it('leaves imgsz to the app: no default in common, an app names its own and may widen batch', () => {
    expect(parseConfigText(schema, '{}').imgsz).toBeUndefined();
    const app = defineConfig({ imgsz: imgszSchema(224), batch: z.union([z.number().int().min(1), z.literal(-1)]).default(8) });
    expect(parseConfigText(app, '{}')).toMatchObject({ imgsz: 224, batch: 8 });
    expect(parseConfigText(app, '{"batch": -1, "imgsz": [320, 480]}')).toMatchObject({ batch: -1, imgsz: [320, 480] });
    // Overriding keeps the key where the common schema put it, so published schemas keep their order.
    expect(Object.keys(configJsonSchema(app).properties as object).slice(0, 3)).toEqual(['epochs', 'batch', 'imgsz']);
  });

  it('gives one line per problem', () => {
    expect(problems('{"epochs": 0, "batch": "x", "optimiser": "SGD"}')).toHaveLength(3);
  });

  it.each([
    ['{"epochs": 5', /^config: not valid JSON \(/],
    ['not json', /^config: not valid JSON/],
    ['[1,2]', /^config: expected a JSON object, got an array$/],
    ['42', /^config: expected a JSON object, got 42$/],
    ['null', /^config: expected a JSON object, got null$/],
  ])('non-object or broken JSON %s', (text, expected) => {
    expect(problems(text)).toEqual([expect.stringMatching(expected)]);
  });

  it('publishes a JSON Schema that refuses unknown keys', () => {
    const js = configJsonSchema(schema) as { properties: Record<string, { default?: unknown }>; additionalProperties: boolean };
    expect(js.additionalProperties).toBe(false);
    expect(js.properties['epochs']!.default).toBe(100);
    expect(Object.keys(js.properties)).toEqual(expect.arrayContaining(['epochs', 'batch', 'imgsz', 'device', 'task', 'primary_metric', 'split_config', 'lr0']));
  });
});
