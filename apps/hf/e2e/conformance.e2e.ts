/**
 * The contract's conformance suite (libs/trainer-contract/src/conformance) run on the built trainer-hf with REAL
 * transformers: the detect profile, a tiny DETR built from its config (make_tiny_model.py, nothing downloaded).
 * Under CI=true a missing framework fails the suite.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConformanceSuite, realMlflow } from '@trainers/trainer-contract/conformance';
import { frameworkPython, missingReal } from '@trainers/trainer-contract/testing';
import { APP_BIN, APP_ROOT, assertBuilt, makeTinyModel } from './support.js';

const python = frameworkPython(APP_ROOT);
const MODEL = join(tmpdir(), 'hf-conformance-detr-64');

defineConformanceSuite(
  {
    name: 'hf',
    command: [process.execPath, APP_BIN],
    task: 'detect',
    model: MODEL,
    badModel: join(tmpdir(), 'no-such-hf-model-x9'),
    config: { imgsz: 64, batch: 4, device: 'cpu', learning_rate: 1e-3 },
    resultFiles: ['results.csv', 'args.json'],
    env: {
      ...(python ? { TRAINER_PYTHON: python } : {}),
      TRAINERS_VENV_HOME: process.env['TRAINERS_VENV_HOME'] ?? join(homedir(), '.cache', 'trainers', 'venvs'),
    },
    runTimeoutMs: 400_000,
  },
  {
    before: () => {
      assertBuilt();
      if (!python) throw new Error(missingReal('transformers (npm run setup -- --only hf, or TRAINER_PYTHON)'));
      if (!existsSync(join(MODEL, 'config.json'))) {
        mkdirSync(MODEL, { recursive: true });
        makeTinyModel(python, 'detect', MODEL, 64);
      }
    },
    mlflow: realMlflow,
    concurrency: 2,
    ...(process.env['CONFORMANCE_VERBOSE'] ? { log: (line: string) => console.log(line) } : {}),
  },
);
