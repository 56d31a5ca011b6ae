import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { startMlflowFaultProxy, type MlflowFaultProxyOptions, type MlflowFaultProxy } from '../testing/mlflow-faults.js';
import { startMlflowServer, type MlflowServer } from '../testing/mlflow-server.js';
import { MlflowApiError, MlflowClient, LIMITS, type MlflowClientOptions } from './index.js';

// A real MLflow server (the dev venv's) holds what the client writes; a fault proxy in front of it records the
// requests and injects what a real server cannot do on cue (hangs, resets, HTML 500, down, an auth gateway).
let real: MlflowServer;
let srv: MlflowFaultProxy;
let dir: string;
let n = 0;
const unique = (p: string) => `${p}-${process.pid}-${++n}`;

beforeAll(async () => {
  real = await startMlflowServer();
}, 180_000);
afterAll(async () => {
  await real?.close();
});
beforeEach(async () => {
  srv = await startMlflowFaultProxy(real.uri);
  dir = await mkdtemp(join(tmpdir(), 'mlflow-client-'));
});
afterEach(async () => {
  await srv.close();
  await rm(dir, { recursive: true, force: true });
});

async function reproxy(opts: MlflowFaultProxyOptions): Promise<void> {
  await srv.close();
  srv = await startMlflowFaultProxy(real.uri, opts);
}

function client(opts: Partial<MlflowClientOptions> = {}): MlflowClient {
  return new MlflowClient({ trackingUri: srv.uri, timeoutMs: 2000, retries: 2, retryDelayMs: 10, ...opts });
}

async function newRun(c: MlflowClient): Promise<string> {
  const exp = await c.getOrCreateExperiment(unique('exp'));
  return (await c.createRun({ experimentId: exp.experiment_id, runName: 'r' })).info.run_id;
}

/** Every log-batch body the server received, parsed. */
type Sent = Array<Record<string, unknown>>;
function batches(): Array<{ run_id: string; metrics?: Sent; params?: Sent; tags?: Sent; bytes: number }> {
  return srv.requestsTo('runs/log-batch').map((r) => ({ ...(r.json as { run_id: string; metrics?: Sent; params?: Sent; tags?: Sent }), bytes: r.bodyBytes }));
}

describe('MlflowClient experiments', () => {
  it('creates the experiment once and finds it afterwards', async () => {
    const c = client();
    const name = unique('trainer-demo');
    const a = await c.getOrCreateExperiment(name);
    const b = await c.getOrCreateExperiment(name);
    expect(a.experiment_id).toMatch(/^\d+$/);
    expect(b.experiment_id).toBe(a.experiment_id);
    expect(srv.requestsTo('experiments/create')).toHaveLength(1);
    expect(await real.read.experimentId(name)).toBe(a.experiment_id);
  });

  it('survives losing the create race to another process', async () => {
    const name = unique('raced');
    let theirs: string | undefined;
    await reproxy({
      onRequest: async (req) => {
        // Another trainer creates the experiment between our lookup and our create.
        if (req.path.endsWith('experiments/create') && !theirs) theirs = (await real.read.call('POST', 'experiments/create', { name })).json.experiment_id;
      },
    });
    const exp = await client().getOrCreateExperiment(name);
    expect(exp.experiment_id).toBe(theirs);
    expect(srv.requestsTo('experiments/create').map((r) => r.status)).toEqual([400]);
    expect(srv.requestsTo('experiments/get-by-name').map((r) => r.status)).toEqual([404, 200]);
  });

  it('fails clearly for a deleted experiment, and can restore it when asked', async () => {
    const c = client();
    const name = unique('gone');
    const exp = await c.getOrCreateExperiment(name);
    await real.read.call('POST', 'experiments/delete', { experiment_id: exp.experiment_id });
    const err = (await c.getOrCreateExperiment(name).catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err.errorCode).toBe('EXPERIMENT_DELETED');
    expect(err.message).toContain(`'${name}' (id ${exp.experiment_id}) is deleted`);
    expect(srv.requestsTo('runs/create')).toHaveLength(0);
    await c.getOrCreateExperiment(name, { restoreDeleted: true });
    expect((await real.read.call('GET', 'experiments/get', { experiment_id: exp.experiment_id })).json.experiment.lifecycle_stage).toBe('active');
  });
});

describe('MlflowClient runs', () => {
  it('creates a run with run_name, source tags and user_id', async () => {
    const c = client();
    const exp = await c.getOrCreateExperiment(unique('exp'));
    const run = await c.createRun({
      experimentId: exp.experiment_id,
      runName: 'job-7',
      userId: 'alice',
      tags: { 'mlflow.source.name': 'ultralytics', 'mlflow.source.type': 'JOB', 'mlflow.user': 'alice' },
    });
    const body = srv.requestsTo('runs/create')[0]!.json as Record<string, unknown>;
    expect(body).toMatchObject({ experiment_id: exp.experiment_id, run_name: 'job-7', user_id: 'alice' });
    const stored = await real.read.run(run.info.run_id);
    expect(stored.info).toMatchObject({ run_name: 'job-7', user_id: 'alice', status: 'RUNNING', lifecycle_stage: 'active' });
    expect(stored.tags).toMatchObject({ 'mlflow.source.name': 'ultralytics', 'mlflow.source.type': 'JOB', 'mlflow.user': 'alice', 'mlflow.runName': 'job-7' });
  });

  it('does not leave a second run behind when the answer to runs/create is lost and it is retried', async () => {
    const c = client({ timeoutMs: 1000 });
    const name = unique('exp');
    const exp = await c.getOrCreateExperiment(name);
    // The server creates the run, but its answer never arrives: the retry must find it rather than add another.
    srv.failNext(1, 'lost');
    const run = await c.createRun({ experimentId: exp.experiment_id, runName: 'r' });
    const runs = await real.read.runsNamed('r', name);
    expect(runs.map((r) => r.info.run_id)).toEqual([run.info.run_id]);
    expect(srv.requests.slice(-2).map((r) => r.path.split('/').slice(-2).join('/'))).toEqual(['runs/create', 'runs/search']);
  });

  it('validates the status client-side (the server ignores an unknown one)', async () => {
    const c = client();
    const id = await newRun(c);
    const before = srv.requests.length;
    await expect(c.updateRun(id, { status: 'DONE' as never })).rejects.toThrow(/must be one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED/);
    expect(srv.requests.length).toBe(before);
    const info = await c.updateRun(id, { status: 'KILLED', endTime: 1234 });
    expect(info.status).toBe('KILLED');
    expect((await real.read.run(id)).info).toMatchObject({ status: 'KILLED', end_time: 1234 });
  });

  it('reads a run back with getRun', async () => {
    const c = client();
    const id = await newRun(c);
    await c.setTag(id, 'phase', 'train');
    await c.setTag(id, 'phase', 'eval');
    const run = await c.getRun(id);
    expect(run.data.tags).toContainEqual({ key: 'phase', value: 'eval' });
    expect(run.data.metrics ?? []).toEqual([]);
  });
});

describe('MlflowClient logBatch', () => {
  it('splits a batch that crosses every count limit into requests the server accepts', async () => {
    const c = client();
    const id = await newRun(c);
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: `m${i % 50}`, value: i, step: Math.floor(i / 50), timestamp: 1000 + i }));
    const params = Object.fromEntries(Array.from({ length: 250 }, (_, i) => [`p${i}`, `v${i}`]));
    const tags = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`t${i}`, `v${i}`]));
    await c.logBatch(id, { metrics, params, tags });
    for (const b of batches()) {
      const m = b.metrics?.length ?? 0;
      const p = b.params?.length ?? 0;
      const t = b.tags?.length ?? 0;
      expect(m).toBeLessThanOrEqual(1000);
      expect(p).toBeLessThanOrEqual(100);
      expect(t).toBeLessThanOrEqual(100);
      expect(m + p + t).toBeLessThanOrEqual(1000);
    }
    expect(srv.requestsTo('runs/log-batch').every((r) => r.status === 200)).toBe(true);
    const run = await real.read.run(id);
    expect(Object.keys(run.metrics)).toHaveLength(50);
    expect(run.metrics['m7']!.map((p) => [p.step, p.value])).toEqual(Array.from({ length: 50 }, (_, s) => [s, s * 50 + 7]));
    expect(Object.keys(run.params)).toHaveLength(250);
    expect(Object.keys(run.tags).filter((k) => /^t\d+$/.test(k))).toHaveLength(150);
  });

  it('keeps every request under 1 MB when values are long', async () => {
    const c = client();
    const id = await newRun(c);
    const params = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`p${i}`, `${i}`.padEnd(LIMITS.paramValueLength, 'x')]));
    const tags = Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`t${i}`, `${i}`.padEnd(LIMITS.tagValueLength, 'y')]));
    await c.logBatch(id, { params, tags });
    const sent = batches();
    expect(sent.length).toBeGreaterThan(1);
    for (const b of sent) expect(b.bytes).toBeLessThan(LIMITS.batchBytes);
    expect(Object.values((await real.read.run(id)).params).every((v) => v.length === LIMITS.paramValueLength)).toBe(true);
  });

  it('sends NaN and ±Infinity as the strings MLflow parses', async () => {
    const c = client();
    const id = await newRun(c);
    await c.logBatch(id, {
      metrics: [
        { key: 'nan', value: NaN, step: 1, timestamp: 5 },
        { key: 'inf', value: Infinity, step: 1, timestamp: 5 },
        { key: 'ninf', value: -Infinity, step: 1, timestamp: 5 },
        { key: 'ok', value: 0.25, step: 1, timestamp: 5 },
      ],
    });
    const body = srv.requestsTo('runs/log-batch')[0]!.body;
    expect(body).toContain('"value":"NaN"');
    expect(body).toContain('"value":"Infinity"');
    expect(body).toContain('"value":"-Infinity"');
    expect(body).not.toContain('null');
    const stored = Object.fromEntries(Object.entries((await real.read.run(id)).metrics).map(([k, v]) => [k, v[0]!.value]));
    expect(stored).toEqual({ nan: NaN, inf: 1.7976931348623157e308, ninf: -1.7976931348623157e308, ok: 0.25 });
  });

  it('refuses a non-integer step before sending anything', async () => {
    const c = client();
    const id = await newRun(c);
    await expect(c.logBatch(id, { metrics: [{ key: 'a', value: 1, step: 1.5 }] })).rejects.toThrow(/step must be an integer; got 1.5/);
    expect(srv.requestsTo('runs/log-batch')).toHaveLength(0);
  });

  it('never re-logs a param with a different value', async () => {
    const c = client();
    const id = await newRun(c);
    expect((await c.logParams(id, { lr: '0.001', epochs: '10' })).paramConflicts).toEqual([]);
    const again = await c.logParams(id, { lr: '0.001', epochs: '20', batch: '16' });
    expect(again.paramConflicts).toEqual([{ key: 'epochs', logged: '10', attempted: '20' }]);
    const sentParams = batches().flatMap((b) => b.params ?? []);
    expect(sentParams).toEqual([
      { key: 'lr', value: '0.001' },
      { key: 'epochs', value: '10' },
      { key: 'batch', value: '16' },
    ]);
    expect(srv.requests.some((r) => r.status === 400)).toBe(false);
    expect((await real.read.run(id)).params).toEqual({ lr: '0.001', epochs: '10', batch: '16' });
  });

  it('recovers when another writer changed a param behind its back', async () => {
    const c = client();
    const id = await newRun(c);
    await c.logParams(id, { a: '1' });
    await real.read.call('POST', 'runs/log-parameter', { run_id: id, key: 'b', value: 'theirs' });
    const res = await c.logParams(id, { b: 'ours', c: '3' });
    expect(res.paramConflicts).toEqual([{ key: 'b', logged: 'theirs', attempted: 'ours' }]);
    expect((await real.read.run(id)).params).toEqual({ a: '1', b: 'theirs', c: '3' });
  });

  it('cuts over-long values itself, with a marker and a warning', async () => {
    const warnings: string[] = [];
    const c = client({ onWarning: (kind, msg) => warnings.push(`${kind}: ${msg}`) });
    const id = await newRun(c);
    await c.logParams(id, { long: 'a'.repeat(7000) });
    await c.setTag(id, 'note', 'b'.repeat(9000));
    const stored = await real.read.run(id);
    const param = stored.params['long']!;
    expect(param).toHaveLength(LIMITS.paramValueLength);
    expect(param.endsWith('...[truncated, 7000 chars]')).toBe(true);
    const tag = stored.tags['note']!;
    expect(tag).toHaveLength(LIMITS.tagValueLength);
    expect(tag.endsWith('...[truncated, 9000 chars]')).toBe(true);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/^value-truncated: MLflow param 'long' is 7000 characters long/);
  });

  it('rejects a key MLflow would refuse', async () => {
    const c = client();
    const id = await newRun(c);
    await expect(c.logBatch(id, { tags: { ['k'.repeat(251)]: 'v' } })).rejects.toThrow(/is 251 characters long/);
    await expect(c.logBatch(id, { metrics: [{ key: 'a/../b', value: 1, step: 0 }] })).rejects.toThrow(/normalised relative path/);
    expect(srv.requestsTo('runs/log-batch')).toHaveLength(0);
  });
});

describe('MlflowClient errors and transport', () => {
  it('turns an HTML 500 into a typed error', async () => {
    const c = client({ retries: 0 });
    srv.failNext(1, 'html500');
    const err = (await c.getExperimentByName('x').catch((e: unknown) => e)) as MlflowApiError;
    expect(err).toBeInstanceOf(MlflowApiError);
    expect(err.status).toBe(500);
    expect(err.errorCode).toBe('HTTP_500');
    expect(err.message).toContain('Internal Server Error');
    expect(err.message).not.toMatch(/<[a-z]/i);
    expect(err.transient).toBe(true);
  });

  it('carries MLflow error codes', async () => {
    const c = client();
    const err = (await c.getRun('0'.repeat(32)).catch((e: unknown) => e)) as MlflowApiError;
    expect([err.status, err.errorCode, err.transient]).toEqual([404, 'RESOURCE_DOES_NOT_EXIST', false]);
    expect(err.message).toContain(`Run with id=${'0'.repeat(32)} not found`);
  });

  it('retries transient failures and then succeeds', async () => {
    const c = client({ retries: 2 });
    srv.failNext(1, 'html500');
    srv.failNext(1, 'reset');
    expect(await c.getExperimentByName(unique('missing'))).toBeNull();
    expect(srv.requests.map((r) => r.injected ?? r.status)).toEqual(['html500', 'reset', 404]);
  });

  it('gives up after the timeout with a TIMEOUT error', async () => {
    const c = client({ retries: 0, timeoutMs: 200 });
    srv.failNext(1, 'hang');
    const err = (await c.getExperimentByName('x').catch((e: unknown) => e)) as MlflowApiError;
    expect([err.status, err.errorCode]).toEqual([0, 'TIMEOUT']);
  });

  it('reports a server that is down as NETWORK_ERROR', async () => {
    const c = client({ retries: 1 });
    await srv.setDown(true);
    const err = (await c.getExperimentByName('x').catch((e: unknown) => e)) as MlflowApiError;
    expect([err.errorCode, err.networkCode]).toEqual(['NETWORK_ERROR', 'ECONNREFUSED']);
  });

  it('sends bearer and basic auth headers', async () => {
    await reproxy({ auth: { token: 'tok-123456' } });
    await client({ auth: { token: 'tok-123456' } }).getOrCreateExperiment(unique('a'));
    expect(srv.requests.every((r) => r.headers.authorization === 'Bearer tok-123456')).toBe(true);
    const denied = (await client().getExperimentByName('a').catch((e: unknown) => e)) as MlflowApiError;
    expect([denied.status, denied.errorCode]).toEqual([401, 'HTTP_401']);
    await reproxy({ auth: { username: 'bob', password: 'pa:ss' } });
    await client({ auth: { username: 'bob', password: 'pa:ss' } }).getOrCreateExperiment(unique('a'));
    expect(srv.requests[0]!.headers.authorization).toBe('Basic ' + Buffer.from('bob:pa:ss').toString('base64'));
    expect(srv.requests.every((r) => r.status !== 401)).toBe(true);
  });

  it('streams an artifact with a PUT through the proxy and lists it', async () => {
    const c = client();
    const id = await newRun(c);
    const bytes = randomBytes(3 * 1024 * 1024 + 17);
    const file = join(dir, 'model.bin');
    await writeFile(file, bytes);
    expect(await c.uploadArtifact(id, file, 'checkpoints/best model.bin')).toEqual({ path: 'checkpoints/best model.bin', bytes: bytes.length });
    const put = srv.requestsTo('mlflow-artifacts/artifacts').find((r) => r.method === 'PUT')!;
    const root = (await real.read.run(id)).info.artifact_uri.replace(/^mlflow-artifacts:\//, '');
    expect(put.rawPath).toBe(`/api/2.0/mlflow-artifacts/artifacts/${root}/checkpoints/best%20model.bin`);
    expect(put.headers['content-length']).toBe(String(bytes.length));
    expect((await real.read.download(id, 'checkpoints/best model.bin')).equals(bytes)).toBe(true);
    expect(await c.listArtifacts(id)).toEqual([{ path: 'checkpoints', is_dir: true }]);
    expect(await c.listArtifacts(id, 'checkpoints')).toEqual([{ path: 'checkpoints/best model.bin', is_dir: false, file_size: bytes.length }]);
    await expect(c.uploadArtifact(id, file, '../escape.bin')).rejects.toThrow(/must be a relative path/);
  });

  it('says so when the server does not proxy artifacts', async () => {
    const c = client();
    const created = await real.read.call('POST', 'experiments/create', { name: unique('s3-artifacts'), artifact_location: 's3://bucket/mlruns/1' });
    const run = await c.createRun({ experimentId: created.json.experiment_id });
    const file = join(dir, 'a.txt');
    await writeFile(file, 'a');
    const err = (await c.uploadArtifact(run.info.run_id, file, 'a.txt').catch((e: unknown) => e)) as MlflowApiError;
    expect(err.errorCode).toBe('ARTIFACTS_NOT_PROXIED');
  });
});
