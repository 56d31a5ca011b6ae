import { readdirSync, readFileSync } from 'node:fs';
import { builtApp, podEnv } from '@trainers/trainer-contract/testing';
import { APP_ROOT, FAKE_ULTRALYTICS_PATH, SYSTEM_PYTHON } from './fake.js';

export type { AppResult, AppRun } from '@trainers/trainer-contract/testing';

const app = builtApp(APP_ROOT, 'ultralytics');
/** The launcher a user runs (`npx trainer-ultralytics`); it loads the esbuild bundle in dist/. */
export const APP_BIN = app.bin;
export const assertBuilt = app.assertBuilt;
export const startApp = app.start;

/**
 * A pod's environment (podEnv) on Debian's interpreter with the Ultralytics double on PYTHONPATH; `fake: false`
 * leaves the double off.
 */
export function appEnv(extra: NodeJS.ProcessEnv = {}, opts: { fake?: boolean } = {}): NodeJS.ProcessEnv {
  return podEnv({ TRAINER_PYTHON: SYSTEM_PYTHON, ...(opts.fake === false ? {} : { PYTHONPATH: FAKE_ULTRALYTICS_PATH }), ...extra });
}

/** Live processes whose command line mentions `text` (Linux /proc): an orphaned bridge shows up here. */
export function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(text)) found.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return found;
}
