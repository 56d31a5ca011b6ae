import { afterAll, beforeAll, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { generate } from 'selfsigned';
import { runTrainerCli } from './index.js';
import { createScriptedDriver, writeShapesDataset } from '../testing/index.js';

// The whole trainer, not just the reporter: a job run with the variables Kubeflow injects posts its epochs.
let server: Server;
let root: string;
const posts: { path: string; auth?: string; body: { trainerStatus: { progressPercentage: number; metrics: { name: string; value: string }[] } } }[] = [];

beforeAll(async () => {
  const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [{ name: 'subjectAltName', altNames: [{ type: 7, ip: '127.0.0.1' }] }],
  });
  root = mkdtempSync(join(tmpdir(), 'kubeflow-job-'));
  writeFileSync(join(root, 'ca.crt'), pems.cert);
  await writeShapesDataset(join(root, 'data'), { images: 12, size: 32 });
  server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      posts.push({ path: req.url!, auth: req.headers.authorization, body: JSON.parse(text) });
      res.writeHead(200).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
}, 60_000);
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

it('a trainer run inside a TrainJob posts its progress to the status server and still exits 0', async () => {
  const stdout = new PassThrough();
  stdout.resume();
  const code = await runTrainerCli(
    ['--job-id', '42', '--model-name', 'scripted-n', '--dataset-s3-uri', join(root, 'data'), '--config', '{"epochs": 3}', '--work-dir', join(root, 'work'), '--output-dir', join(root, 'out')],
    createScriptedDriver(),
    {
      env: {
        PATH: process.env['PATH'],
        TERMINATION_LOG: join(root, 'termination.log'),
        KUBEFLOW_TRAINER_STATUS_SERVER_URL: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
        KUBEFLOW_TRAINER_STATUS_SERVER_CA_CERT: join(root, 'ca.crt'),
        KUBEFLOW_TRAINER_STATUS_SERVER_TOKEN: 'sa-token',
        KUBEFLOW_TRAINJOB_NAME: 'scripted-42',
        POD_NAMESPACE: 'ml',
      },
      stdout,
      stderr: new PassThrough(),
      handleSignals: false,
    },
  );
  expect(code).toBe(0);
  expect(posts.length).toBeGreaterThanOrEqual(1);
  for (const p of posts) {
    expect(p.path).toBe('/apis/trainer.kubeflow.org/v1alpha1/namespaces/ml/trainjobs/scripted-42/status');
    expect(p.auth).toBe('Bearer sa-token');
  }
  // Updates may be merged while one is in flight, but the last epoch always lands before the trainer exits.
  expect(posts.at(-1)!.body.trainerStatus.progressPercentage).toBe(100);
  expect(posts.at(-1)!.body.trainerStatus.metrics.length).toBeGreaterThan(0);
});
