/**
 * The test double must look like Ultralytics from a trainer's side. callback_trace.py records every callback in
 * order with the shape of the trainer's state; golden/*.json were recorded from real Ultralytics 8.3.186.
 * The double is compared against them always; the real library too, whenever TRAINER_PYTHON can import it.
 */
import { describe, it, expect, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkPythonModule, type Task } from '@trainers/trainer-contract';
import { pythonFor } from '../src/driver.js';
import { APP_ROOT, FAKE_ULTRALYTICS_PATH, SYSTEM_PYTHON, makeFakeDataset } from './support/fake.js';

const TRACE = join(APP_ROOT, 'e2e', 'callback_trace.py');
const MODELS: Record<Exclude<Task, 'obb'>, string> = {
  detect: 'yolov8n.yaml',
  segment: 'yolov8n-seg.yaml',
  pose: 'yolov8n-pose.yaml',
  classify: 'yolov8n-cls.yaml',
};
const base = mkdtempSync(join(tmpdir(), 'ul-fidelity-'));
afterAll(() => rmSync(base, { recursive: true, force: true }));

const golden = (task: string) => {
  const { recorded_with: _, ...rest } = JSON.parse(readFileSync(join(APP_ROOT, 'e2e', 'golden', `callback-trace-${task}.json`), 'utf8'));
  return rest;
};

function trace(python: string, env: NodeJS.ProcessEnv, model: string, data: string): unknown {
  const work = mkdtempSync(join(base, 'work-'));
  const out = execFileSync(python, [TRACE, model, data, work, '2'], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 64 * 1024 * 1024 });
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('fake_ultralytics matches the recorded behaviour of Ultralytics 8.3.186', () => {
  it.each(Object.entries(MODELS))('%s: callbacks, state, files and results.csv header', (task, model) => {
    const ds = makeFakeDataset(mkdtempSync(join(base, 'ds-')), task as Task, 8, 4);
    const got = trace(SYSTEM_PYTHON, { PATH: process.env['PATH'], PYTHONPATH: FAKE_ULTRALYTICS_PATH }, model, ds.dataYaml ?? ds.root);
    expect(got).toEqual(golden(task));
  });
});

const realEnv = { ...process.env };
const realPython = pythonFor(realEnv, APP_ROOT);
const real = await checkPythonModule(realPython, 'ultralytics', { ...realEnv, YOLO_CONFIG_DIR: join(base, 'probe'), YOLO_OFFLINE: 'True' });
(real.ok ? describe : describe.skip)(`real Ultralytics ${real.version ?? '(not importable: skipped)'} still matches the recordings`, () => {
  it.each(Object.entries(MODELS))('%s', (task, model) => {
    const dir = mkdtempSync(join(base, 'real-ds-'));
    execFileSync(realPython, [join(APP_ROOT, 'e2e', 'make_tiny_dataset.py'), dir, '8', '4', '64', task], { env: realEnv });
    const got = trace(realPython, realEnv, model, task === 'classify' ? dir : join(dir, 'data.yaml'));
    expect(got).toEqual(golden(task));
  });
});
