/**
 * The test double must look like Ultralytics from a trainer's side. callback_trace.py records every callback in
 * order with the shape of the trainer's state, the checkpoint dict layout (mid-training, and after final_eval
 * strips it) and a resume from an interrupted last.pt; golden/*.json were recorded from the pinned Ultralytics
 * 8.4.190. The double is compared with them, and so is the real library, so a recording that no longer matches
 * the pinned version fails here too (under CI=true the real half cannot be skipped).
 *
 * Re-record after changing the pin (from the repository root, with the managed venv from `npm run setup`):
 *   python apps/ultralytics/e2e/make_tiny_dataset.py /tmp/ds 8 4 64 TASK
 *   python apps/ultralytics/e2e/callback_trace.py MODEL /tmp/ds/data.yaml /tmp/work 2 | tail -1   (classify: /tmp/ds)
 */
import { describe, it, expect, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Task } from '@trainers/trainer-contract';
import { frameworkPython, missingReal } from '@trainers/trainer-contract/testing';
import { TESTED_ULTRALYTICS } from '../src/driver.js';
import { APP_ROOT, FAKE_ULTRALYTICS_PATH, SYSTEM_PYTHON, makeFakeDataset } from './support/fake.js';

const TRACE = join(APP_ROOT, 'e2e', 'callback_trace.py');
const MODELS: Record<Task, string> = {
  detect: 'yolov8n.yaml',
  segment: 'yolov8n-seg.yaml',
  pose: 'yolov8n-pose.yaml',
  classify: 'yolov8n-cls.yaml',
  obb: 'yolov8n-obb.yaml',
};
const base = mkdtempSync(join(tmpdir(), 'ul-fidelity-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const golden = (task: string) => {
  const { recorded_with: recordedWith, ...rest } = JSON.parse(readFileSync(join(APP_ROOT, 'e2e', 'golden', `callback-trace-${task}.json`), 'utf8'));
  expect(recordedWith).toContain(`ultralytics ${TESTED_ULTRALYTICS.pinned}`);
  return rest;
};

function trace(python: string, env: NodeJS.ProcessEnv, model: string, data: string): Record<string, unknown> {
  const work = mkdtempSync(join(base, 'work-'));
  const out = execFileSync(python, [TRACE, model, data, work, '2'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe(`fake_ultralytics matches the recorded behaviour of Ultralytics ${TESTED_ULTRALYTICS.pinned}`, () => {
  it.each(Object.entries(MODELS))('%s: callbacks, state, files, results.csv header, checkpoint layout, resume', (task, model) => {
    const ds = makeFakeDataset(mkdtempSync(join(base, 'ds-')), task as Task, 8, 4);
    const got = trace(SYSTEM_PYTHON, { PATH: process.env['PATH'], PYTHONPATH: FAKE_ULTRALYTICS_PATH }, model, ds.dataYaml ?? ds.root);
    expect(got).toEqual(golden(task));
  });

  it('records that best.pt names its epoch only through train_metrics, which the bridge reads', () => {
    for (const task of Object.keys(MODELS)) {
      const g = golden(task);
      expect(g.checkpoint.final_best['epoch==']).toBe(-1);
      expect(g.checkpoint.final_best.train_metrics_keys).toContain('fitness');
      expect(g.best_pt_matches_rows).toBe(true);
    }
  });
});

const realEnv = { ...process.env };
const realPython = frameworkPython(APP_ROOT, realEnv);
const skipWhy = realPython ? undefined : missingReal('Ultralytics (the managed venv of apps/ultralytics/requirements.txt, or TRAINER_PYTHON)');
(realPython ? describe : describe.skip)(`real Ultralytics ${skipWhy ? '(skipped: ' + skipWhy + ')' : TESTED_ULTRALYTICS.pinned} still matches the recordings`, () => {
  it.each(Object.entries(MODELS))('%s', (task, model) => {
    const dir = mkdtempSync(join(base, 'real-ds-'));
    execFileSync(realPython!, [join(APP_ROOT, 'e2e', 'make_tiny_dataset.py'), dir, '8', '4', '64', task], { env: realEnv });
    const got = trace(realPython!, realEnv, model, task === 'classify' ? dir : join(dir, 'data.yaml'));
    expect(got).toEqual(golden(task));
  });
});
