import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { callbackJsonSchemas } from './json-schema.js';

const committed = (name: string) => JSON.parse(readFileSync(new URL(`../../../../schemas/${name}.schema.json`, import.meta.url), 'utf8')) as unknown;

describe('published callback schemas', () => {
  it.each(['progress', 'completion'] as const)('schemas/%s.schema.json is up to date (run `npm run schemas`)', (which) => {
    expect(committed(which)).toEqual(JSON.parse(JSON.stringify(callbackJsonSchemas()[which])));
  });
});
