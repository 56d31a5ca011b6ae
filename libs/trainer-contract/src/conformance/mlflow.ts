import { startMlflowServer } from '../testing/mlflow-server.js';
import type { ConformanceMlflow, MlflowFactory } from './types.js';

/**
 * A real `mlflow server` from the dev venv (src/testing/mlflow-server.ts). It runs without auth and ignores the
 * bearer token, which the suite still passes as MLFLOW_TRACKING_TOKEN so that its secret checks see that the token
 * reaches no log, callback or run.
 */
export const realMlflow: MlflowFactory = async () => {
  const token = 'conformance-mlflow-token-' + Math.random().toString(36).slice(2, 10);
  const server = await startMlflowServer();
  return { uri: server.uri, token, close: () => server.close() };
};

export interface MlflowRunView {
  runId: string;
  runName: string;
  status: string;
  params: Record<string, string>;
  tags: Record<string, string>;
}

async function api<T>(mlflow: ConformanceMlflow, method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (mlflow.token) headers['authorization'] = `Bearer ${mlflow.token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${mlflow.uri.replace(/\/+$/, '')}/api/2.0/mlflow/${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  return { status: res.status, json: (text ? JSON.parse(text) : {}) as T };
}

/** Every run of one experiment, as the server holds it (an unknown experiment has none). */
export async function readMlflowRuns(mlflow: ConformanceMlflow, experimentName: string): Promise<MlflowRunView[]> {
  const exp = await api<{ experiment?: { experiment_id: string } }>(mlflow, 'GET', `experiments/get-by-name?experiment_name=${encodeURIComponent(experimentName)}`);
  if (exp.status === 404 || !exp.json.experiment) return [];
  const found = await api<{ runs?: Array<{ info: { run_id: string; run_name?: string; status: string }; data?: { params?: KV[]; tags?: KV[] } }> }>(
    mlflow,
    'POST',
    'runs/search',
    { experiment_ids: [exp.json.experiment.experiment_id], max_results: 1000 },
  );
  return (found.json.runs ?? []).map((r) => ({
    runId: r.info.run_id,
    runName: r.info.run_name ?? '',
    status: r.info.status,
    params: Object.fromEntries((r.data?.params ?? []).map((p) => [p.key, p.value])),
    tags: Object.fromEntries((r.data?.tags ?? []).map((t) => [t.key, t.value])),
  }));
}
type KV = { key: string; value: string };
