import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generate } from 'selfsigned';
import { captureLogger } from '../testing/index.js';
import { createKubeflowStatusReporter, statusEndpoint, trainerStatusBody } from './status.js';

interface Seen {
  method: string;
  path: string;
  authorization?: string;
  body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
}

describe('Kubeflow Trainer status server (KEP-2779)', () => {
  let server: Server;
  let base: string;
  let dir: string;
  let caFile: string;
  let tokenFile: string;
  const seen: Seen[] = [];
  const PATH = '/apis/trainer.kubeflow.org/v1alpha1/namespaces/team-a/trainjobs/ultralytics-42/status';

  beforeAll(async () => {
    const pems = await generate([{ name: 'commonName', value: 'localhost' }], {
      keySize: 2048,
      algorithm: 'sha256',
      extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: 'localhost' }, { type: 7, ip: '127.0.0.1' }] }],
    });
    dir = mkdtempSync(join(tmpdir(), 'kubeflow-status-'));
    caFile = join(dir, 'ca.crt');
    tokenFile = join(dir, 'token');
    writeFileSync(caFile, pems.cert);
    writeFileSync(tokenFile, 'projected-sa-token\n');
    // A status server that checks what the controller's would: path, bearer token, a trainerStatus body.
    server = createServer({ key: pems.private, cert: pems.cert }, (req, res) => {
      let text = '';
      req.on('data', (c) => (text += c));
      req.on('end', () => {
        seen.push({ method: req.method!, path: req.url!, authorization: req.headers.authorization, body: JSON.parse(text) });
        const ok = req.url === PATH && req.headers.authorization === 'Bearer projected-sa-token';
        res.writeHead(ok ? 200 : 403).end('{}');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((r) => server.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  const env = (extra: NodeJS.ProcessEnv = {}) => ({
    KUBEFLOW_TRAINER_STATUS_SERVER_URL: base,
    KUBEFLOW_TRAINER_STATUS_SERVER_CA_CERT: caFile,
    KUBEFLOW_TRAINER_STATUS_SERVER_TOKEN: tokenFile,
    KUBEFLOW_TRAINJOB_NAME: 'ultralytics-42',
    POD_NAMESPACE: 'team-a',
    ...extra,
  });

  it('posts progress and metrics over TLS with the injected CA and token', async () => {
    seen.length = 0;
    const { logger, lines } = captureLogger();
    const reporter = createKubeflowStatusReporter(env(), logger)!;
    expect(reporter.url).toBe(base + PATH);
    reporter.report({ epoch: 2, totalEpochs: 5, metrics: { loss: 0.5, mAP50: 0.25, bad: Number.NaN }, epochSeconds: 10 });
    await reporter.drain();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ method: 'POST', path: PATH, authorization: 'Bearer projected-sa-token' });
    expect(seen[0]!.body).toEqual({
      trainerStatus: {
        progressPercentage: 40,
        estimatedRemainingSeconds: 30,
        metrics: [{ name: 'loss', value: '0.5' }, { name: 'mAP50', value: '0.25' }],
        lastUpdatedTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      },
    });
    expect(lines.join('')).not.toMatch(/warn|projected-sa-token/);
  });

  it('without the CA the TLS handshake fails: one warning, training is not affected', async () => {
    seen.length = 0;
    const { logger, lines } = captureLogger();
    const reporter = createKubeflowStatusReporter(env({ KUBEFLOW_TRAINER_STATUS_SERVER_CA_CERT: '' }), logger)!;
    reporter.report({ epoch: 1, totalEpochs: 2, metrics: {} });
    await reporter.drain();
    reporter.report({ epoch: 2, totalEpochs: 2, metrics: {} });
    await reporter.drain();
    expect(seen).toHaveLength(0);
    expect(lines.filter((l) => l.includes('Kubeflow status post failed'))).toHaveLength(1);
  });

  it('a wrong token is refused by the server and said once', async () => {
    const { logger, lines } = captureLogger();
    const reporter = createKubeflowStatusReporter(env({ KUBEFLOW_TRAINER_STATUS_SERVER_TOKEN: 'other' }), logger)!;
    reporter.report({ epoch: 1, totalEpochs: 2, metrics: {} });
    await reporter.drain();
    expect(lines.join('')).toMatch(/Kubeflow status post failed \(HTTP 403\)/);
    expect(lines.join('')).not.toContain('other');
  });

  it('is off without the URL, and needs the TrainJob name when the URL is only the server', () => {
    expect(createKubeflowStatusReporter({}, captureLogger().logger)).toBeUndefined();
    const { logger, lines } = captureLogger();
    expect(createKubeflowStatusReporter(env({ KUBEFLOW_TRAINJOB_NAME: '' }), logger)).toBeUndefined();
    expect(lines.join('')).toMatch(/KUBEFLOW_TRAINJOB_NAME/);
    expect(statusEndpoint({ KUBEFLOW_TRAINER_STATUS_SERVER_URL: `${base}${PATH}` })).toBe(`${base}${PATH}`);
  });

  it('keeps metrics within the API limits (256 names, 64-character strings)', () => {
    const metrics = Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`m${i}`.padEnd(80, 'x'), 1 / 3]));
    const body = trainerStatusBody({ epoch: 1, totalEpochs: 3, metrics }) as { trainerStatus: { metrics: { name: string; value: string }[] } };
    expect(body.trainerStatus.metrics).toHaveLength(256);
    expect(Math.max(...body.trainerStatus.metrics.map((m) => Math.max(m.name.length, m.value.length)))).toBeLessThanOrEqual(64);
  });
});
