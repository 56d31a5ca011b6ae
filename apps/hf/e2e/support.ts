import { execFileSync } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtApp } from '@trainers/trainer-contract/testing';

export { getObject, listKeys, testS3Client, uploadDir, uploadFile, type AppResult, type AppRun } from '@trainers/trainer-contract/testing';

export const APP_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const app = builtApp(APP_ROOT, 'hf');
/** The launcher a user runs (`npx trainer-hf`); it loads the esbuild bundle in dist/. */
export const APP_BIN = app.bin;
export const assertBuilt = app.assertBuilt;
export const startApp = app.start;

/** A tiny model from a config, saved with its image processor (e2e/make_tiny_model.py): nothing is downloaded. */
export function makeTinyModel(python: string, kind: 'classify' | 'detect' | 'vit', dir: string, size = 64): string {
  execFileSync(python, [join(APP_ROOT, 'e2e', 'make_tiny_model.py'), kind, dir, String(size)], { env: { PATH: process.env['PATH'], HOME: process.env['HOME'], HF_HUB_DISABLE_TELEMETRY: '1' }, stdio: 'pipe' });
  return dir;
}
