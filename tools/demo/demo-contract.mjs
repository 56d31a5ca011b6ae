#!/usr/bin/env node
// `npm run demo:contract`: the whole contract on one machine. An embedded S3 server (s3rver) holds the dataset as a
// .tar.gz, a callback receiver prints and verifies every callback (bearer token + HMAC signature), and the trainer
// runs between them exactly as a Kubernetes Job would, uploading its checkpoints to the embedded S3. It trains real
// Ultralytics (the venv from `npm run setup`); with MLFLOW_TRACKING_URI set, the run is tracked and shown at the end.
// `--fake` runs the test double instead, on purpose only.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build, DEMO, pythonEnv, root, summary, trainingSeconds } from './python-env.mjs';

const { values: opts } = parseArgs({ options: { fake: { type: 'boolean', default: false } } });
const { env: pyEnv, real, version } = await pythonEnv({ fake: opts.fake });
build();
const { writeShapesDataset, startCallbackReceiver, startS3Server } = await import(join(root, 'libs/trainer-contract/dist/testing/index.js'));
const { createS3Client } = await import(join(root, 'libs/trainer-contract/dist/index.js'));
const { reader } = await import(join(root, 'libs/trainer-contract/dist/testing/index.js'));
const { PutObjectCommand, ListObjectsV2Command } = await import('@aws-sdk/client-s3');
const tar = await import('tar');

const work = join(root, '.work', 'demo-contract');
rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
const dataset = join(work, 'shapes');
await writeShapesDataset(dataset, { images: DEMO.images, size: DEMO.size });
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
  CONFIG: JSON.stringify(real ? DEMO.config : DEMO.fakeConfig),
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
if (!process.env.MLFLOW_TRACKING_URI) console.log('(MLFLOW_TRACKING_URI is not set: no MLflow tracking; set it to see the run recorded)\n');
const started = Date.now();
const child = spawn(process.execPath, [join(root, 'apps/ultralytics/bin/trainer-ultralytics.mjs')], { stdio: 'inherit', env });
const code = await new Promise((resolve) => child.on('close', (c) => resolve(c ?? 1)));
const seconds = (Date.now() - started) / 1000;
await new Promise((r) => setTimeout(r, 300));
clearInterval(printer);
const listed = await client.send(new ListObjectsV2Command({ Bucket: 'trainer-outputs', Prefix: `checkpoints/${jobId}/` }));
console.log(`\nExit code: ${code}`);
console.log(`Objects in s3://trainer-outputs/checkpoints/${jobId}/:`);
for (const o of listed.Contents ?? []) console.log(`  ${o.Key}  ${o.Size} bytes`);
const completion = receiver.received.find((r) => r.kind === 'completion')?.json;
const runId = completion?.mlflow_run_id;
if (process.env.MLFLOW_TRACKING_URI && runId) {
  const uri = process.env.MLFLOW_TRACKING_URI.replace(/\/$/, '');
  try {
    const run = await reader(uri).run(runId);
    const steps = Object.values(run.metrics)[0]?.length ?? 0;
    console.log(`\nMLflow run ${runId} (${run.info.run_name}): ${run.info.status}, ${Object.keys(run.params).length} params, ${Object.keys(run.metrics).length} metrics over ${steps} epochs`);
    console.log(`  ${uri}/#/experiments/${run.info.experiment_id}/runs/${runId}`);
  } catch (err) {
    console.log(`\nMLflow run ${runId}: could not be read back from ${uri} (${err.message})`);
  }
}
console.log('');
for (const line of summary({ real, seconds, trainSeconds: trainingSeconds(join(work, 'job', 'run', 'results.csv')), completion, version })) console.log(line);
await receiver.close();
await s3.close();
process.exit(code);
