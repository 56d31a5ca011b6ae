import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtApp } from '@trainers/trainer-contract/testing';

export { getObject, listKeys, podEnv as appEnv, testS3Client, uploadDir, type AppResult } from '@trainers/trainer-contract/testing';

export const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const app = builtApp(APP_ROOT, 'timm');
export const APP_BIN = app.bin;
export const assertBuilt = app.assertBuilt;
export const startApp = app.start;

/** results.csv (timm's summary.csv columns) as numbers. */
export function readResultsCsv(path: string): Array<Record<string, number>> {
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const keys = header!.split(',');
  return rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [keys[i]!, Number(v)])));
}

/** Runs Python code in the trainer's interpreter and parses its last stdout line as JSON. */
export function pythonJson(python: string, code: string, args: string[] = []): unknown {
  const out = execFileSync(python, ['-c', code, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return JSON.parse(out.trim().split('\n').pop()!);
}
