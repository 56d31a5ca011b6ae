/**
 * The contract's conformance suite (libs/trainer-contract/src/conformance) run on the built trainer-ultralytics.
 * By default the framework is the Ultralytics test double (any Python 3, no torch), as in app.e2e.ts.
 * `CONFORMANCE_FRAMEWORK=real` runs it on the real Ultralytics instead: TRAINER_PYTHON if set, else the managed
 * venv the trainer finds by itself (BRIEF seam 5).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineConformanceSuite, realMlflow, type ConformanceProfile } from '@trainers/trainer-contract/conformance';
import { APP_BIN, assertBuilt } from './support/app.js';
import { FAKE_ULTRALYTICS_PATH, SYSTEM_PYTHON } from './support/fake.js';

const real = process.env['CONFORMANCE_FRAMEWORK'] === 'real';

const framework: Pick<ConformanceProfile, 'env' | 'slowEnv' | 'model'> = real
  ? {
      env: {
        ...(process.env['TRAINER_PYTHON'] ? { TRAINER_PYTHON: process.env['TRAINER_PYTHON'] } : {}),
        // Runs get a scratch HOME, so the default venv home (~/.cache/trainers/venvs) is named here.
        TRAINERS_VENV_HOME: process.env['TRAINERS_VENV_HOME'] ?? join(homedir(), '.cache', 'trainers', 'venvs'),
      },
      // Built from its yaml: nothing to download.
      model: 'yolov8n.yaml',
    }
  : {
      env: { TRAINER_PYTHON: SYSTEM_PYTHON, PYTHONPATH: FAKE_ULTRALYTICS_PATH, PYTHONDONTWRITEBYTECODE: '1', FAKE_ULTRALYTICS_BATCH_SECONDS: '0.03' },
      // Epochs of ~1 s, so a signal sent at the first progress lands inside the run even on a busy machine.
      slowEnv: { FAKE_ULTRALYTICS_BATCH_SECONDS: '0.25', FAKE_ULTRALYTICS_BATCHES: '4' },
      model: 'yolov8n',
    };

defineConformanceSuite(
  {
    name: 'ultralytics',
    command: [process.execPath, APP_BIN],
    task: 'detect',
    badModel: 'yolov99z',
    config: { imgsz: 32, batch: 4, device: 'cpu', workers: 0 },
    resultFiles: ['results.csv', 'args.yaml'],
    ...framework,
  },
  {
    before: assertBuilt,
    mlflow: realMlflow,
    ...(process.env['CONFORMANCE_VERBOSE'] ? { log: (line: string) => console.log(line) } : {}),
  },
);
