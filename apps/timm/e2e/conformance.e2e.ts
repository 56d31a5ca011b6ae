/**
 * The contract's conformance suite (libs/trainer-contract/src/conformance) run on the built trainer-timm with REAL
 * timm: TRAINER_PYTHON if set, else the managed venv the trainer finds by itself. The classify profile: timm's tiny
 * test_resnet from scratch on the generated shapes (each image's category), 32 px, CPU.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';
import { defineConformanceSuite, realMlflow } from '@trainers/trainer-contract/conformance';
import { APP_BIN, assertBuilt } from './support.js';

defineConformanceSuite(
  {
    name: 'timm',
    command: [process.execPath, APP_BIN],
    task: 'classify',
    model: 'test_resnet',
    badModel: 'resnet181',
    config: { pretrained: false, img_size: 32, batch: 4, workers: 0, device: 'cpu', warmup_epochs: 0 },
    dataset: { images: 15, size: 32 },
    resultFiles: ['results.csv', 'args.yaml'],
    env: {
      ...(process.env['TRAINER_PYTHON'] ? { TRAINER_PYTHON: process.env['TRAINER_PYTHON'] } : {}),
      // Runs get a scratch HOME, so the default venv home (~/.cache/trainers/venvs) is named here.
      TRAINERS_VENV_HOME: process.env['TRAINERS_VENV_HOME'] ?? join(homedir(), '.cache', 'trainers', 'venvs'),
    },
    runTimeoutMs: 400_000,
  },
  {
    before: assertBuilt,
    mlflow: realMlflow,
    concurrency: 2,
    ...(process.env['CONFORMANCE_VERBOSE'] ? { log: (line: string) => console.log(line) } : {}),
  },
);
