import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { describeTrainer, schemaFor } from '@trainers/trainer-contract';
import { createUltralyticsDriver } from './driver.js';

describe('published config schema', () => {
  it('schemas/ultralytics.config.schema.json is up to date (run `npm run schemas`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../schemas/ultralytics.config.schema.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(schemaFor(createUltralyticsDriver(), 'config'))));
  });

  it('schemas/ultralytics.describe.json is up to date (run `npm run schemas`)', () => {
    const committed = JSON.parse(readFileSync(new URL('../../../schemas/ultralytics.describe.json', import.meta.url), 'utf8')) as unknown;
    expect(committed).toEqual(JSON.parse(JSON.stringify(describeTrainer(createUltralyticsDriver()))));
  });

  it('refuses unknown keys and publishes the framework keys with their ranges', () => {
    const schema = schemaFor(createUltralyticsDriver(), 'config') as { additionalProperties: boolean; properties: Record<string, { minimum?: number; maximum?: number; default?: unknown }> };
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties['lr0']).toBeDefined();
    expect(schema.properties['epochs']!.default).toBe(100);
  });
});
