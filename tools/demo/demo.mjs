#!/usr/bin/env node
// `npm run demo`: one command, embedded defaults. Trains yolov8n.yaml on a generated dataset of shapes, with no
// S3, backend or MLflow: checkpoints go to outputs/demo/, and the demo itself plays the backend on loopback so it
// can print the completion payload the backend would receive.
import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build, pythonEnv, root } from './python-env.mjs';

build();
const { writeShapesDataset, startCallbackReceiver } = await import(join(root, 'libs/trainer-contract/dist/testing/index.js'));
const { env: pyEnv, real } = pythonEnv();

const work = join(root, '.work', 'demo');
const dataset = join(work, 'dataset');
const outputs = join(root, 'outputs', 'demo');
rmSync(work, { recursive: true, force: true });
rmSync(outputs, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const made = await writeShapesDataset(dataset, { images: 48, size: 96 });
console.log(`Generated a DICEFormat dataset: ${made.images} images of squares, circles and triangles in ${dataset}`);

const receiver = await startCallbackReceiver();
const config = { epochs: real ? 10 : 5, imgsz: 96, batch: 8, device: 'cpu', workers: 0, plots: false };
const args = ['--job-id', 'demo', '--model-name', 'yolov8n.yaml', '--dataset-s3-uri', dataset, '--callback-url', receiver.url, '--config', JSON.stringify(config), '--work-dir', join(work, 'job'), '--output-dir', outputs];
console.log(`\n$ trainer-ultralytics ${args.map((a) => (/[\s{"]/.test(a) ? `'${a}'` : a)).join(' ')}\n`);
const child = spawn(process.execPath, [join(root, 'apps/ultralytics/bin/trainer-ultralytics.mjs'), ...args], { stdio: 'inherit', env: { ...process.env, ...pyEnv } });
const code = await new Promise((resolve) => child.on('close', (c, sig) => resolve(c ?? (sig === 'SIGTERM' ? 143 : 1))));
const completion = receiver.received.find((r) => r.kind === 'completion');
console.log(`\nExit code: ${code}. Progress callbacks received: ${receiver.received.filter((r) => r.kind === 'progress').length}.`);
if (completion) console.log(`Completion payload (POST ${completion.path}):\n${JSON.stringify(completion.json, null, 2)}`);
console.log(`Checkpoints: ${outputs}/best.pt${real ? '' : ' (written by the test double)'}`);
await receiver.close();
process.exit(code);
