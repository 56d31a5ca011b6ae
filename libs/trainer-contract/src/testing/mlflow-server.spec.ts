import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { request } from 'node:http';
import { startMlflowServer, type MlflowTestServer } from './mlflow-server.js';

// The fake must answer as shared/notes/mlflow-rest.md records; these pin the quirks the client relies on.
let srv: MlflowTestServer;
beforeEach(async () => {
  srv = await startMlflowServer();
});
afterEach(async () => {
  await srv.close();
});

async function call(method: string, endpoint: string, body?: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) {
  const res = await fetch(`${srv.uri}/api/2.0/mlflow/${endpoint}`, {
    method,
    headers,
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, type: res.headers.get('content-type') };
}

function rawPut(path: string): Promise<{ status: number; body: unknown }> {
  return new Promise((resolve, reject) => {
    const { hostname, port } = new URL(srv.uri);
    const req = request({ hostname, port, path, method: 'PUT' }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end('x');
  });
}

async function newRun(): Promise<string> {
  const exp = await call('POST', 'experiments/create', { name: 'e' });
  const run = await call('POST', 'runs/create', { experiment_id: exp.json.experiment_id, start_time: 1, run_name: 'r' });
  return run.json.run.info.run_id;
}

describe('fake MLflow server', () => {
  it('rejects a POST without JSON content type and answers a non-JSON body with an HTML 500', async () => {
    const noType = await call('POST', 'experiments/create', { name: 'x' }, {});
    expect(noType.status).toBe(400);
    expect(noType.json).toEqual({
      error_code: 'INVALID_PARAMETER_VALUE',
      message: "Bad Request. Content-Type must be one of ['application/json'].",
    });
    const garbage = await call('POST', 'experiments/create', '{not json');
    expect(garbage.status).toBe(500);
    expect(garbage.type).toContain('text/html');
    expect(garbage.text).toContain('<title>500 Internal Server Error</title>');
  });

  it('experiments: 404 by name, create, duplicate 400, deleted still returned, gone list endpoint', async () => {
    expect((await call('GET', 'experiments/get-by-name?experiment_name=trainer-demo')).json).toEqual({
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: "Could not find experiment with name 'trainer-demo'",
    });
    const created = await call('POST', 'experiments/create', { name: 'trainer-demo', tags: [{ key: 'team', value: 'ml' }] });
    expect(created.json).toEqual({ experiment_id: '1' });
    const dup = await call('POST', 'experiments/create', { name: 'trainer-demo' });
    expect(dup.status).toBe(400);
    expect(dup.json.error_code).toBe('RESOURCE_ALREADY_EXISTS');
    const got = await call('GET', 'experiments/get-by-name?experiment_name=trainer-demo');
    expect(got.json.experiment).toMatchObject({ experiment_id: '1', artifact_location: 'mlflow-artifacts:/1', lifecycle_stage: 'active', tags: [{ key: 'team', value: 'ml' }] });
    await call('POST', 'experiments/delete', { experiment_id: '1' });
    expect((await call('GET', 'experiments/get-by-name?experiment_name=trainer-demo')).json.experiment.lifecycle_stage).toBe('deleted');
    const inDeleted = await call('POST', 'runs/create', { experiment_id: '1', start_time: 1 });
    expect(inDeleted.status).toBe(400);
    expect(inDeleted.json.message).toBe("The experiment 1 must be in the 'active' state. Current state is deleted.");
    expect((await call('GET', 'experiments/list')).status).toBe(404);
  });

  it('runs/create: user_id separate from the tag, run name rules, unknown experiment', async () => {
    await call('POST', 'experiments/create', { name: 'e' });
    const run = await call('POST', 'runs/create', {
      experiment_id: '1',
      start_time: 5,
      run_name: 'demo-run',
      tags: [{ key: 'mlflow.user', value: 'alice' }],
    });
    expect(run.json.run.info).toMatchObject({ run_name: 'demo-run', user_id: '', status: 'RUNNING', start_time: 5, lifecycle_stage: 'active' });
    expect(run.json.run.info.run_id).toMatch(/^[0-9a-f]{32}$/);
    expect(run.json.run.info.run_uuid).toBe(run.json.run.info.run_id);
    expect(run.json.run.info.artifact_uri).toBe(`mlflow-artifacts:/1/${run.json.run.info.run_id}/artifacts`);
    expect(run.json.run.data.tags).toContainEqual({ key: 'mlflow.runName', value: 'demo-run' });
    const withUser = await call('POST', 'runs/create', { experiment_id: '1', user_id: 'alice' });
    expect(withUser.json.run.info).toMatchObject({ user_id: 'alice', start_time: 0 });
    expect(withUser.json.run.info.run_name).toMatch(/^\w+-\w+-\d+$/);
    const clash = await call('POST', 'runs/create', { experiment_id: '1', run_name: 'a', tags: [{ key: 'mlflow.runName', value: 'b' }] });
    expect(clash.status).toBe(400);
    expect((await call('POST', 'runs/create', { experiment_id: '999' })).json).toEqual({
      error_code: 'RESOURCE_DOES_NOT_EXIST',
      message: 'No Experiment with id=999 exists',
    });
    expect((await call('POST', 'runs/create', {})).json.error_code).toBe('BAD_REQUEST');
  });

  it('params are immutable, metrics need timestamps, float steps are quirky', async () => {
    const id = await newRun();
    expect((await call('POST', 'runs/log-parameter', { run_id: id, key: 'lr', value: 5 })).status).toBe(400);
    expect((await call('POST', 'runs/log-parameter', { run_id: id, key: 'lr', value: '0.001' })).json).toEqual({});
    expect((await call('POST', 'runs/log-parameter', { run_id: id, key: 'lr', value: '0.001' })).status).toBe(200);
    const change = await call('POST', 'runs/log-parameter', { run_id: id, key: 'lr', value: '0.01' });
    expect(change.status).toBe(400);
    expect(change.json.message).toMatch(/^Changing param values is not allowed. Param with key='lr' was already logged with value='0.001'/);
    expect((await call('POST', 'runs/log-metric', { run_id: id, key: 'loss', value: 0.5 })).json.message).toMatch(
      /Missing value for required parameter 'timestamp'/,
    );
    expect((await call('POST', 'runs/log-metric', { run_id: id, key: 'loss', value: null, timestamp: 1 })).status).toBe(400);
    expect((await call('POST', 'runs/log-metric', { run_id: id, key: 'loss', value: 0.5, timestamp: 1, step: 1.5 })).status).toBe(200);
    expect(srv.state.runs[id]!.metrics).toEqual([{ key: 'loss', value: 0.5, timestamp: 1, step: 0 }]);
    const batch = await call('POST', 'runs/log-batch', { run_id: id, metrics: [{ key: 'a', value: 1, timestamp: 1, step: 1.5 }] });
    expect(batch.json).toEqual({ error_code: 'INVALID_PARAMETER_VALUE', message: `Invalid value "" for parameter 'run_id' supplied.` });
    const dup = await call('POST', 'runs/log-batch', { run_id: id, params: [{ key: 'd', value: '1' }, { key: 'd', value: '1' }] });
    expect(dup.json.message).toMatch(/^Duplicate parameter keys have been submitted: \['d'\]/);
    await call('POST', 'runs/log-batch', { run_id: id, metrics: [{ key: 'n', value: 'NaN', timestamp: 2, step: 1 }, { key: 'i', value: 'Infinity', timestamp: 2, step: 1 }] });
    const got = await call('GET', `runs/get?run_id=${id}`);
    expect(got.json.run.data.metrics).toEqual(
      expect.arrayContaining([
        { key: 'n', value: 'NaN', timestamp: 2, step: 1 },
        { key: 'i', value: 1.7976931348623157e308, timestamp: 2, step: 1 },
      ]),
    );
  });

  it('2.12 words the float-step error differently', async () => {
    await srv.close();
    srv = await startMlflowServer({ version: '2.12' });
    const id = await newRun();
    const batch = await call('POST', 'runs/log-batch', { run_id: id, metrics: [{ key: 'a', value: 1, timestamp: 1, step: 0.5 }] });
    expect(batch.json.message).toBe("Invalid run ID: ''");
    expect((await call('POST', 'runs/set-tag', { run_id: id, key: 'bad:key', value: 'v' })).status).toBe(400);
  });

  it('enforces the batch limits and key rules', async () => {
    const id = await newRun();
    const metrics = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `m${i}`, value: i, timestamp: 1, step: 0 }));
    const kv = (n: number, p: string) => Array.from({ length: n }, (_, i) => ({ key: `${p}${i}`, value: 'v' }));
    expect((await call('POST', 'runs/log-batch', { run_id: id, metrics: metrics(1001) })).json.message).toBe(
      'A batch logging request can contain at most 1000 metrics. Got 1001 metrics. Please split up metrics across multiple requests and try again.',
    );
    expect((await call('POST', 'runs/log-batch', { run_id: id, params: kv(101, 'p') })).json.message).toMatch(/at most 100 params. Got 101 params/);
    expect((await call('POST', 'runs/log-batch', { run_id: id, tags: kv(101, 't') })).json.message).toMatch(/at most 100 tags. Got 101 tags/);
    const total = await call('POST', 'runs/log-batch', { run_id: id, metrics: metrics(900), params: kv(100, 'p'), tags: kv(100, 't') });
    expect(total.json.message).toMatch(/at most 1000 metrics, params, and tags. Got 1100/);
    expect(srv.state.runs[id]!.metrics).toHaveLength(0);
    const longKey = await call('POST', 'runs/log-batch', { run_id: id, params: [{ key: 'k'.repeat(251), value: 'v' }] });
    expect(longKey.json.message).toBe(`Param key '${'k'.repeat(251)}' had length 251, which exceeded length limit of 250`);
    expect((await call('POST', 'runs/log-batch', { run_id: id, params: [{ key: 'a/../b', value: 'v' }] })).status).toBe(400);
    await call('POST', 'runs/log-parameter', { run_id: id, key: 'long', value: 'x'.repeat(7000) });
    expect(srv.state.runs[id]!.params['long']).toHaveLength(6000);
  });

  it('runs/update ignores an unknown status; FINISHED can go back to RUNNING', async () => {
    const id = await newRun();
    const bad = await call('POST', 'runs/update', { run_id: id, status: 'DONE' });
    expect(bad.status).toBe(200);
    expect(bad.json.run_info.status).toBe('RUNNING');
    expect((await call('POST', 'runs/update', { run_id: id, status: 'FINISHED', end_time: 9 })).json.run_info).toMatchObject({ status: 'FINISHED', end_time: 9 });
    expect((await call('POST', 'runs/update', { run_id: id, status: 'RUNNING' })).json.run_info.status).toBe('RUNNING');
    await call('POST', 'runs/delete', { run_id: id });
    expect((await call('POST', 'runs/set-tag', { run_id: id, key: 'a', value: 'b' })).json.message).toBe(
      `The run ${id} must be in the 'active' state. Current state is deleted.`,
    );
  });

  it('artifacts: PUT, list (both endpoints), download, .. refused, missing file is a 500', async () => {
    const id = await newRun();
    const base = `${srv.uri}/api/2.0/mlflow-artifacts/artifacts/1/${id}/artifacts`;
    expect((await fetch(`${base}/notes%20dir/a%20b.txt`, { method: 'PUT', body: 'hello' })).status).toBe(200);
    expect((await fetch(`${base}/summary.json`, { method: 'PUT', body: '{"ok":true}' })).status).toBe(200);
    expect(srv.state.artifacts[`1/${id}/artifacts/notes dir/a b.txt`]!.toString()).toBe('hello');
    // fetch would resolve the dots itself, so send the raw path.
    for (const dots of ['%2E%2E', '..']) {
      const evil = await rawPut(`/api/2.0/mlflow-artifacts/artifacts/1/${id}/artifacts/${dots}/x`);
      expect(evil).toEqual({ status: 400, body: { error_code: 'INVALID_PARAMETER_VALUE', message: 'Invalid path' } });
    }
    const listed = await (await fetch(`${srv.uri}/api/2.0/mlflow-artifacts/artifacts?path=1/${id}/artifacts`)).json();
    expect(listed).toEqual({ files: [{ path: 'notes dir', is_dir: true }, { path: 'summary.json', is_dir: false, file_size: 11 }] });
    const runList = await call('GET', `artifacts/list?run_id=${id}&path=notes%20dir`);
    expect(runList.json).toEqual({ root_uri: `mlflow-artifacts:/1/${id}/artifacts`, files: [{ path: 'notes dir/a b.txt', is_dir: false, file_size: 5 }] });
    expect((await call('GET', `artifacts/list?run_id=${id}&path=empty`)).json).toEqual({ root_uri: `mlflow-artifacts:/1/${id}/artifacts` });
    expect(await (await fetch(`${base}/summary.json`)).text()).toBe('{"ok":true}');
    const missing = await fetch(`${base}/nope.txt`);
    expect(missing.status).toBe(500);
    expect(((await missing.json()) as { error_code: string }).error_code).toBe('INTERNAL_ERROR');
  });

  it('injects failures and goes down and up on the same port', async () => {
    srv.failNext(1, 'html500');
    expect((await call('GET', 'experiments/get-by-name?experiment_name=x')).status).toBe(500);
    srv.failNext(1, 'reset');
    await expect(call('GET', 'experiments/get-by-name?experiment_name=x')).rejects.toThrow();
    await srv.setDown(true);
    await expect(call('GET', 'experiments/get-by-name?experiment_name=x')).rejects.toThrow();
    await srv.setDown(false);
    expect((await call('GET', 'experiments/get-by-name?experiment_name=x')).status).toBe(404);
    expect(srv.state.requests.map((r) => r.injected ?? r.status)).toEqual(['html500', 'reset', 404]);
  });
});
