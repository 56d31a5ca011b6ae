#!/usr/bin/env node
// `npm run demo`: one command, embedded defaults. Creates the Python environment when missing (npm run setup),
// generates a DICEFormat dataset of shapes and trains real Ultralytics YOLO (yolov8n.yaml) on it, with no S3,
// backend or MLflow: checkpoints go to outputs/demo/, and the demo plays the backend on loopback so it can print
// the completion payload a backend would receive. `--fake` runs the test double instead, on purpose only.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build, DEMO, pythonEnv, root, summary, trainingSeconds } from './python-env.mjs';

const { values: opts } = parseArgs({ options: { fake: { type: 'boolean', default: false } } });
const { env: pyEnv, real, version } = await pythonEnv({ fake: opts.fake });
build();
const { writeShapesDataset, startCallbackReceiver } = await import(join(root, 'libs/trainer-contract/dist/testing/index.js'));

const work = join(root, '.work', 'demo');
const dataset = join(work, 'dataset');
const outputs = join(root, 'outputs', 'demo');
rmSync(work, { recursive: true, force: true });
rmSync(outputs, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const made = await writeShapesDataset(dataset, { images: DEMO.images, size: DEMO.size });
console.log(`Generated a DICEFormat dataset: ${made.images} images (${DEMO.size} px) of squares, circles and triangles in ${dataset}`);

const receiver = await startCallbackReceiver();
const config = real ? DEMO.config : DEMO.fakeConfig;
const jobDir = join(work, 'job');
const args = ['--job-id', 'demo', '--model-name', 'yolov8n.yaml', '--dataset-s3-uri', dataset, '--callback-url', receiver.url, '--config', JSON.stringify(config), '--work-dir', jobDir, '--output-dir', outputs];
console.log(`\n$ trainer-ultralytics ${args.map((a) => (/[\s{"]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
const started = Date.now();
const child = spawn(process.execPath, [join(root, 'apps/ultralytics/bin/trainer-ultralytics.mjs'), ...args], { stdio: 'inherit', env: { ...process.env, ...pyEnv } });
const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig === 'SIGTERM' ? 143 : 1))));
const seconds = (Date.now() - started) / 1000;
const completion = receiver.received.find((r) => r.kind === 'completion');
console.log(`\nExit code: ${code}. Progress callbacks received: ${receiver.received.filter((r) => r.kind === 'progress').length}.`);
if (completion) console.log(`Completion payload (POST ${completion.path}):\n${JSON.stringify(completion.json, null, 2)}`);
console.log(`Checkpoints: ${outputs}/best.pt${real ? '' : ' (written by the test double)'}\n`);
for (const line of summary({ real, seconds, trainSeconds: trainingSeconds(join(jobDir, 'run', 'results.csv')), completion: completion?.json, version })) console.log(line);
await receiver.close();
process.exit(code);
