import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { devPython, missingReal } from './python-envs.js';

/**
 * A real `mlflow server` (the pinned one in the dev venv) on a free loopback port, with a SQLite store and local
 * artifacts in a temp dir that `close()` removes. Tests record to it and read back what it holds through
 * `read` (plain REST calls, independent of the client under test).
 */
export interface MlflowServer {
  uri: string;
  version: string;
  read: MlflowReader;
  close(): Promise<void>;
}

export interface StoredMetric {
  step: number;
  value: number;
  timestamp: number;
}

/** A run as the server holds it: info, params, tags, and every metric's full history. */
export interface StoredRun {
  info: { run_id: string; experiment_id: string; run_name: string; user_id: string; status: string; start_time: number; end_time?: number; artifact_uri: string; lifecycle_stage: string };
  params: Record<string, string>;
  tags: Record<string, string>;
  metrics: Record<string, StoredMetric[]>;
}

export interface MlflowReader {
  /** GET or POST a REST endpoint (`runs/get`, …) and return status + parsed JSON. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any MLflow REST reply; tests drill into it by field
  call(method: 'GET' | 'POST', endpoint: string, body?: Record<string, unknown>): Promise<{ status: number; json: any; text: string; type: string | null }>;
  experimentId(name: string): Promise<string | undefined>;
  /** Runs named `runName` (in one experiment, or in any), newest first. */
  runsNamed(runName: string, experimentName?: string): Promise<StoredRun[]>;
  run(runId: string): Promise<StoredRun>;
  /** Every file under the run's artifact root: relative path → size. */
  artifacts(runId: string): Promise<Record<string, number>>;
  download(runId: string, path: string): Promise<Buffer>;
}

const MAX_HISTORY = 25_000;

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

export interface StartMlflowOptions {
  /** The interpreter with mlflow installed (default: the dev venv, TRAINERS_DEV_PYTHON overrides). */
  python?: string;
  /** How long to wait for /health (a fresh SQLite store runs every migration first). */
  startTimeoutMs?: number;
}

export async function startMlflowServer(opts: StartMlflowOptions = {}): Promise<MlflowServer> {
  const python = opts.python ?? devPython();
  if (!python) throw new Error(missingReal('the dev venv with mlflow (tools/python/requirements.txt)'));
  const dir = mkdtempSync(join(tmpdir(), 'mlflow-server-'));
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    try {
      return await launch(python, dir, port, opts.startTimeoutMs ?? 120_000);
    } catch (err) {
      // Another process may have taken the port between probe and bind.
      lastError = err as Error;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError;
}

async function launch(python: string, dir: string, port: number, timeoutMs: number): Promise<MlflowServer> {
  const uri = `http://127.0.0.1:${port}`;
  const args = ['-m', 'mlflow', 'server', '--host', '127.0.0.1', '--port', String(port), '--workers', '1', '--backend-store-uri', `sqlite:///${join(dir, 'mlflow.db')}`, '--artifacts-destination', join(dir, 'artifacts')];
  // Its own process group, so close() also stops uvicorn's worker; no job runner (7 idle consumers otherwise).
  const child = spawn(python, args, {
    cwd: dir,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env['PATH'], HOME: process.env['HOME'], LANG: 'C.UTF-8', MLFLOW_SERVER_ENABLE_JOB_EXECUTION: 'false', PYTHONDONTWRITEBYTECODE: '1' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-20_000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let gone = false;
  void exited.then(() => (gone = true));

  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (gone) throw new Error(`mlflow server exited before it was healthy:\n${stderr.slice(-3000)}`);
    try {
      const res = await fetch(`${uri}/health`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  if (Date.now() >= deadline) {
    await stop(child, exited);
    throw new Error(`mlflow server not healthy after ${timeoutMs} ms:\n${stderr.slice(-3000)}`);
  }
  const read = reader(uri);
  const version = String((await (await fetch(`${uri}/version`)).text()).trim());
  return {
    uri,
    version,
    read,
    async close() {
      await stop(child, exited);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function stop(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const kill = (sig: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, sig);
    } catch {
      // already gone
    }
  };
  kill('SIGTERM');
  const timer = setTimeout(() => kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
  // uvicorn's worker may outlive its parent by a moment.
  kill('SIGKILL');
}

/**
 * The test's reads, retried on a dropped connection: uvicorn closes an idle keep-alive connection after 5 s, and a
 * request that undici sends on it at that moment fails with "other side closed". Reads are idempotent.
 */
async function fetchRead(url: string, init?: RequestInit): Promise<Response> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fetch(url, init);
    } catch (err) {
      // By name: under jest, fetch's TypeError comes from another realm than the test's `TypeError`.
      if (attempt >= 3 || (err as Error).name !== 'TypeError') throw err;
    }
  }
}

export function reader(uri: string): MlflowReader {
  const api = `${uri}/api/2.0/mlflow/`;
  const call: MlflowReader['call'] = async (method, endpoint, body) => {
    const query = body ? new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, String(v)])) : undefined;
    const url = method === 'GET' && query ? `${api}${endpoint}?${query}` : `${api}${endpoint}`;
    const res = await fetchRead(url, {
      method,
      ...(method === 'POST' ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) } : {}),
    });
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text, type: res.headers.get('content-type') };
  };
  const ok = async (method: 'GET' | 'POST', endpoint: string, body?: Record<string, unknown>) => {
    const r = await call(method, endpoint, body);
    if (r.status !== 200) throw new Error(`${method} ${endpoint}: HTTP ${r.status} ${r.text.slice(0, 300)}`);
    return r.json;
  };
  const kv = (list: Array<{ key: string; value: string }> | undefined) => Object.fromEntries((list ?? []).map((t) => [t.key, t.value]));

  const run = async (runId: string): Promise<StoredRun> => {
    const { run: r } = await ok('GET', 'runs/get', { run_id: runId });
    const metrics: StoredRun['metrics'] = {};
    for (const m of (r.data.metrics ?? []) as Array<{ key: string }>) {
      // 3.x pages get-history: without max_results the first page is empty.
      const h = await ok('GET', 'metrics/get-history', { run_id: runId, metric_key: m.key, max_results: MAX_HISTORY });
      metrics[m.key] = ((h.metrics ?? []) as Array<{ step?: number | string; value: number | string; timestamp: number | string }>)
        .map((p) => ({ step: Number(p.step ?? 0), value: Number(p.value), timestamp: Number(p.timestamp) }))
        .sort((a, b) => a.step - b.step || a.timestamp - b.timestamp);
    }
    return { info: r.info, params: kv(r.data.params), tags: kv(r.data.tags), metrics };
  };

  const experimentId = async (name: string) => {
    const r = await call('GET', 'experiments/get-by-name', { experiment_name: name });
    return r.status === 200 ? (r.json.experiment.experiment_id as string) : undefined;
  };

  return {
    call,
    experimentId,
    run,
    async runsNamed(runName, experimentName) {
      let ids: string[];
      if (experimentName) {
        const id = await experimentId(experimentName);
        ids = id ? [id] : [];
      } else {
        const all = await ok('POST', 'experiments/search', { max_results: 1000 });
        ids = ((all.experiments ?? []) as Array<{ experiment_id: string }>).map((e) => e.experiment_id);
      }
      if (!ids.length) return [];
      const res = await ok('POST', 'runs/search', { experiment_ids: ids, filter: `attributes.run_name = '${runName}'`, max_results: 1000, order_by: ['attributes.start_time DESC'] });
      return Promise.all(((res.runs ?? []) as Array<{ info: { run_id: string } }>).map((r) => run(r.info.run_id)));
    },
    async artifacts(runId) {
      const out: Record<string, number> = {};
      const walk = async (path: string) => {
        const res = await ok('GET', 'artifacts/list', { run_id: runId, ...(path ? { path } : {}) });
        for (const f of (res.files ?? []) as Array<{ path: string; is_dir: boolean; file_size?: number | string }>) {
          if (f.is_dir) await walk(f.path);
          else out[f.path] = Number(f.file_size ?? 0);
        }
      };
      await walk('');
      return out;
    },
    async download(runId, path) {
      const { run: r } = await ok('GET', 'runs/get', { run_id: runId });
      const root = String(r.info.artifact_uri).replace(/^mlflow-artifacts:\/*/, '');
      const res = await fetchRead(`${uri}/api/2.0/mlflow-artifacts/artifacts/${root}/${path.split('/').map(encodeURIComponent).join('/')}`);
      if (!res.ok) throw new Error(`download ${path}: HTTP ${res.status}`);
      return Buffer.from(await res.arrayBuffer());
    },
  };
}
