#!/usr/bin/env node
// `npm run demo:contract`: the whole contract on one machine. An embedded S3 server (s3rver) holds the dataset as a
// .tar.gz, a callback receiver prints and verifies every callback (bearer token + HMAC signature), and the trainer
// runs between them exactly as a Kubernetes Job would, uploading its checkpoints to the embedded S3.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build, pythonEnv, root } from './python-env.mjs';

build();
const { writeShapesDataset, startCallbackReceiver, startS3Server } = await import(join(root, 'libs/trainer-contract/dist/testing/index.js'));
const { createS3Client } = await import(join(root, 'libs/trainer-contract/dist/index.js'));
const { PutObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
const tar = await import('tar');
const { env: pyEnv, real } = pythonEnv();

const work = join(root, '.work', 'demo-contract');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const dataset = join(work, 'shapes');
await writeShapesDataset(dataset, { images: 48, size: 96 });
const archive = join(work, 'shapes.tar.gz');
await tar.c({ gzip: true, file: archive, cwd: dataset }, ['images', 'annotations.json']);

const s3 = await startS3Server({ buckets: ['datasets', 'trainer-outputs'] });
const client = createS3Client(s3.env);
await client.send(new PutObjectCommand({ Bucket: 'datasets', Key: 'demo/shapes.tar.gz', Body: readFileSync(archive) }));
console.log(`Embedded S3 at ${s3.endpoint}: s3://datasets/demo/shapes.tar.gz`);

const secret = 'whsec_' + Buffer.from('demo-signing-key-0123456789abcdef').toString('base64');
const token = 'demo-bearer-token';
const receiver = await startCallbackReceiver({ secret });
console.log(`Callback receiver at ${receiver.url} (verifies Authorization and webhook-signature)\n`);
let shown = 0;
const printer = setInterval(() => {
  for (; shown < receiver.received.length; shown++) {
    const r = receiver.received[shown];
    const auth = r.headers['authorization'] === `Bearer ${token}` ? 'token ok' : 'TOKEN MISSING';
    console.log(`\n<<< backend received POST ${r.path}  [${auth}, signature ${r.signatureValid ? 'valid' : 'INVALID'}, webhook-id ${r.headers['webhook-id']}]\n${JSON.stringify(r.json)}\n`);
  }
}, 100);

const jobId = '4242';
const env = {
  ...process.env,
  ...pyEnv,
  JOB_ID: jobId,
  MODEL_NAME: 'yolov8n.yaml',
  DATASET_S3_URI: 's3://datasets/demo/shapes.tar.gz',
  CALLBACK_URL: receiver.url,
  CONFIG: JSON.stringify({ epochs: real ? 5 : 3, imgsz: 96, batch: 8, device: 'cpu', workers: 0, plots: false }),
  S3_ENDPOINT: s3.endpoint,
  S3_BUCKET: 'trainer-outputs',
  AWS_ACCESS_KEY_ID: 'S3RVER',
  AWS_SECRET_ACCESS_KEY: 'S3RVER',
  AWS_REGION: 'us-east-1',
  CALLBACK_TOKEN: token,
  CALLBACK_SECRET: secret,
  WORK_DIR: join(work, 'job'),
  TERMINATION_LOG: join(work, 'termination-log'),
};
const child = spawn(process.execPath, [join(root, 'apps/ultralytics/bin/trainer-ultralytics.mjs')], { stdio: 'inherit', env });
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
await new Promise((r) => setTimeout(r, 300));
clearInterval(printer);
const listed = await client.send(new ListObjectsV2Command({ Bucket: 'trainer-outputs', Prefix: `checkpoints/${jobId}/` }));
console.log(`\nExit code: ${code}`);
console.log(`Objects in s3://trainer-outputs/checkpoints/${jobId}/:`);
for (const o of listed.Contents ?? []) console.log(`  ${o.Key}  ${o.Size} bytes`);
await receiver.close();
await s3.close();
process.exit(code);
