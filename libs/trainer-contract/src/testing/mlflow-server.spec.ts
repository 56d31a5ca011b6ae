import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { HTML_500, startMlflowFaultProxy, type MlflowFaultProxy } from './mlflow-faults.js';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { reader, startMlflowServer, type MlflowServer } from './mlflow-server.js';

// The real server the tracker and app tests record to, and the fault proxy that stands in front of it only for
// what a real server cannot do on cue. Every answer the proxy makes up is compared here with the real one.
let srv: MlflowServer;
beforeAll(async () => {
  srv = await startMlflowServer();
}, 180_000);
afterAll(async () => {
  await srv?.close();
});

const api = (uri: string, endpoint: string) => `${uri}/api/2.0/mlflow/${endpoint}`;
async function post(uri: string, endpoint: string, body: unknown) {
  const res = await fetch(api(uri, endpoint), { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('the real MLflow test server', () => {
  it('is the pinned version, and holds runs, params, metric history with steps and artifacts', async () => {
    expect(srv.version).toBe('3.17.2');
    const exp = (await srv.read.call('POST', 'experiments/create', { name: 'server-spec' })).json.experiment_id as string;
    const created = await srv.read.call('POST', 'runs/create', { experiment_id: exp, run_name: 'r1', start_time: 1000 });
    const runId = created.json.run.info.run_id as string;
    const metrics = [1, 2, 3].map((step) => ({ key: 'loss', value: 1 / step, timestamp: 2000 + step, step }));
    expect((await srv.read.call('POST', 'runs/log-batch', { run_id: runId, metrics, params: [{ key: 'lr', value: '0.01' }] })).status).toBe(200);
    const root = String(created.json.run.info.artifact_uri).replace(/^mlflow-artifacts:\//, '');
    expect((await fetch(`${srv.uri}/api/2.0/mlflow-artifacts/artifacts/${root}/dir/a.txt`, { method: 'PUT', body: 'hello' })).status).toBe(200);
    await srv.read.call('POST', 'runs/update', { run_id: runId, status: 'FINISHED', end_time: 5000 });

    const [run, ...others] = await srv.read.runsNamed('r1', 'server-spec');
    expect(others).toHaveLength(0);
    expect(run!.info).toMatchObject({ run_id: runId, status: 'FINISHED', end_time: 5000 });
    expect(run!.params).toEqual({ lr: '0.01' });
    expect(run!.metrics['loss']!.map((m) => [m.step, m.value])).toEqual([[1, 1], [2, 0.5], [3, 1 / 3]]);
    expect(await srv.read.artifacts(runId)).toEqual({ 'dir/a.txt': 5 });
    expect((await srv.read.download(runId, 'dir/a.txt')).toString()).toBe('hello');
  });

  it('pages metrics/get-history: max_results bounds a page and next_page_token continues it', async () => {
    // (3.6 answered an empty first page without max_results; 3.17 answers the points. The reader always sends it.)
    const exp = (await srv.read.call('POST', 'experiments/create', { name: 'paging' })).json.experiment_id as string;
    const runId = (await srv.read.call('POST', 'runs/create', { experiment_id: exp, start_time: 1 })).json.run.info.run_id as string;
    const metrics = [1, 2, 3].map((step) => ({ key: 'm', value: step, timestamp: step, step }));
    await srv.read.call('POST', 'runs/log-batch', { run_id: runId, metrics });
    const first = await srv.read.call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'm', max_results: 2 });
    expect(first.json.metrics).toHaveLength(2);
    expect(first.json.next_page_token).toEqual(expect.any(String));
    const rest = await srv.read.call('GET', 'metrics/get-history', { run_id: runId, metric_key: 'm', max_results: 2, page_token: first.json.next_page_token });
    expect([...first.json.metrics, ...rest.json.metrics].map((m: { step: number }) => m.step).sort()).toEqual([1, 2, 3]);
    expect((await srv.read.run(runId)).metrics['m']!.map((m) => m.step)).toEqual([1, 2, 3]);
  });
});

describe('the fault proxy in front of it', () => {
  let proxy: MlflowFaultProxy;
  beforeAll(async () => {
    proxy = await startMlflowFaultProxy(srv.uri);
  });
  afterAll(async () => {
    await proxy?.close();
  });

  it('passes the real answers through unchanged and records what it forwarded', async () => {
    const direct = await post(srv.uri, 'experiments/create', { name: '' });
    const through = await post(proxy.uri, 'experiments/create', { name: '' });
    expect(through).toEqual(direct);
    expect(through.status).toBe(400);
    expect(proxy.requestsTo('experiments/create').map((r) => [r.status, r.json])).toEqual([[400, { name: '' }]]);
  });

  it('answers an injected HTML 500 exactly as the real server answers an internal error', async () => {
    // A JSON array where an object belongs makes the real server's Flask app fail: its own 500 page.
    const real = await post(srv.uri, 'experiments/create', [1, 2]);
    proxy.failNext(1, 'html500');
    const injected = await post(proxy.uri, 'experiments/create', { name: 'x' });
    expect(injected).toEqual(real);
    expect(real).toEqual({ status: 500, type: 'text/html; charset=utf-8', text: HTML_500 });
  });

  it('resets, hangs, goes down and comes back on the same port', async () => {
    const before = proxy.requests.length;
    proxy.failNext(1, 'reset');
    await expect(post(proxy.uri, 'experiments/get-by-name', {})).rejects.toThrow();
    proxy.failNext(1, 'hang');
    await expect(fetch(api(proxy.uri, 'experiments/search'), { method: 'POST', signal: AbortSignal.timeout(300) })).rejects.toThrow();
    await proxy.setDown(true);
    await expect(fetch(`${proxy.uri}/health`)).rejects.toThrow();
    await proxy.setDown(false);
    expect((await fetch(`${proxy.uri}/health`)).status).toBe(200);
    expect(proxy.requests.slice(before).map((r) => r.injected ?? r.status)).toEqual(['reset', 'hang', 200]);
  });
});

describe('the test reader', () => {
  it('retries a read whose connection the server dropped (a keep-alive connection closed as it was reused)', async () => {
    let requests = 0;
    const server = createServer((req, res) => {
      requests++;
      if (requests === 1) return void req.socket.destroy();
      res.setHeader('content-type', 'application/json');
      res.end('{"run": {}}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const r = await reader(`http://127.0.0.1:${(server.address() as AddressInfo).port}`).call('GET', 'runs/get', { run_id: 'x' });
      expect({ status: r.status, json: r.json, requests }).toEqual({ status: 200, json: { run: {} }, requests: 2 });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
