import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';

/**
 * An in-process MLflow tracking server (REST API + mlflow-artifacts proxy) that answers as real MLflow 2.12 /
 * 2.17 servers were observed to answer (shared/notes/mlflow-rest.md): the shapes, status codes, error bodies,
 * the HTML 500 page for a body that is not JSON, the batch limits and their quirks. Everything it receives is
 * recorded, so tests assert on what reached the server rather than on what a client claims to have sent.
 */

export type MlflowVersion = '2.12' | '2.17';
export type FailureKind = 'html500' | 'hang' | 'reset';

export interface MlflowServerOptions {
  /** Where 2.12 and 2.17 differ (error texts, tag length, ':' in keys); default 2.17. */
  version?: MlflowVersion;
  /** Require this Authorization (as the basic-auth app and token proxies do); other requests get 401. */
  auth?: { token: string } | { username: string; password: string };
  /** Runs before each request is handled (after recording); may change `state` to stage races. */
  onRequest?: (req: RecordedRequest, state: MlflowServerState) => void | Promise<void>;
}

export interface RecordedRequest {
  method: string;
  /** Decoded path without the query, e.g. `/api/2.0/mlflow/runs/log-batch`. */
  path: string;
  /** The path as it arrived (percent-encoding kept). */
  rawPath: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  /** The body as text (artifact uploads: empty, see `state.artifacts`). */
  body: string;
  /** The parsed JSON body, when it parsed. */
  json?: unknown;
  /** The status answered; undefined for a request that was reset or left hanging. */
  status?: number;
  /** What the test server did instead of answering normally. */
  injected?: FailureKind;
}

export interface FakeMetric {
  key: string;
  /** As stored: NaN stays NaN, ±Infinity becomes ±1.7976931348623157e308 (the sqlite store's behaviour). */
  value: number;
  timestamp: number;
  step: number;
}

export interface FakeRun {
  info: {
    run_id: string;
    experiment_id: string;
    run_name: string;
    user_id: string;
    status: string;
    start_time: number;
    end_time?: number;
    artifact_uri: string;
    lifecycle_stage: 'active' | 'deleted';
  };
  params: Record<string, string>;
  tags: Record<string, string>;
  /** Every point, in arrival order (metrics are append-only). */
  metrics: FakeMetric[];
}

export interface FakeExperiment {
  experiment_id: string;
  name: string;
  artifact_location: string;
  lifecycle_stage: 'active' | 'deleted';
  creation_time: number;
  last_update_time: number;
  tags: Record<string, string>;
}

export interface MlflowServerState {
  experiments: Record<string, FakeExperiment>;
  runs: Record<string, FakeRun>;
  /** Artifact bytes by path under the artifact root, e.g. `1/<run_id>/artifacts/checkpoints/model.bin`. */
  artifacts: Record<string, Buffer>;
  requests: RecordedRequest[];
}

export interface MlflowTestServer {
  uri: string;
  state: MlflowServerState;
  /** The next `n` requests fail: an HTML 500 page, no answer until close, or a reset connection. */
  failNext(n: number, kind: FailureKind): void;
  /** Down: the port refuses connections (open sockets are destroyed); up: it listens again on the same port. */
  setDown(down: boolean): Promise<void>;
  /** Delays every answer by `ms` (a slow server). */
  setDelay(ms: number): void;
  /** Requests to `/api/2.0/mlflow/<endpoint>` (or `mlflow-artifacts/...` when given with that prefix). */
  requestsTo(endpoint: string): RecordedRequest[];
  close(): Promise<void>;
}

const API = '/api/2.0/mlflow/';
const ARTIFACTS = '/api/2.0/mlflow-artifacts/artifacts';
const DOUBLE_MAX = 1.7976931348623157e308;
const STATUSES = ['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED'];

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
const invalid = (message: string) => new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
const missing = (name: string) => invalid(`Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`);

const HTML_500 =
  '<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n' +
  '<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n';
const HTML_404 =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n' +
  '<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';

export async function startMlflowServer(opts: MlflowServerOptions = {}): Promise<MlflowTestServer> {
  const version = opts.version ?? '2.17';
  const state: MlflowServerState = { experiments: {}, runs: {}, artifacts: {}, requests: [] };
  const now = Date.now();
  state.experiments['0'] = {
    experiment_id: '0',
    name: 'Default',
    artifact_location: 'mlflow-artifacts:/0',
    lifecycle_stage: 'active',
    creation_time: now,
    last_update_time: now,
    tags: {},
  };
  let nextExperimentId = 1;
  const failures: FailureKind[] = [];
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();

  const expectedAuth = opts.auth
    ? 'token' in opts.auth
      ? `Bearer ${opts.auth.token}`
      : 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')
    : undefined;

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) send(res, 500, { error_code: 'INTERNAL_ERROR', message: String(err) });
    });
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const rawUrl = req.url ?? '/';
    const url = new URL(rawUrl, 'http://x');
    const rawPath = rawUrl.split('?')[0] ?? '/';
    const isUpload = req.method === 'PUT' && rawPath.startsWith(ARTIFACTS + '/');
    const rec: RecordedRequest = {
      method: req.method ?? 'GET',
      path: safeDecode(rawPath),
      rawPath,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      bodyBytes: raw.length,
      body: isUpload ? '' : raw.toString('utf8'),
    };
    try {
      if (!isUpload && raw.length) rec.json = JSON.parse(rec.body);
    } catch {
      // Recorded as text; the route answers the HTML 500 real servers give.
    }
    state.requests.push(rec);

    const failure = failures.shift();
    if (failure) {
      rec.injected = failure;
      if (failure === 'reset') return void req.socket.destroy();
      if (failure === 'hang') return void hanging.add(res);
      rec.status = 500;
      return void res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_500);
    }
    if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
    if (opts.onRequest) await opts.onRequest(rec, state);

    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      send(res, status, body, headers);
    };

    if (expectedAuth && req.headers.authorization !== expectedAuth) {
      rec.status = 401;
      res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="mlflow"' });
      return void res.end('You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.');
    }

    try {
      if (rawPath.startsWith(ARTIFACTS)) return artifactRoute(req.method ?? 'GET', rawPath, url, raw, reply, res, rec);
      if (!rawPath.startsWith(API)) throw new NotFound();
      const endpoint = rawPath.slice(API.length);
      let body: Record<string, unknown> = {};
      if (req.method === 'POST') {
        const ctype = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
        if (ctype !== 'application/json') throw invalid("Bad Request. Content-Type must be one of ['application/json'].");
        if (rec.json === undefined || typeof rec.json !== 'object' || rec.json === null || Array.isArray(rec.json)) {
          rec.status = 500;
          return void res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_500);
        }
        body = rec.json as Record<string, unknown>;
      } else {
        body = Object.fromEntries(url.searchParams);
      }
      const route = routes[`${req.method} ${endpoint}`];
      if (!route) throw new NotFound();
      reply(200, route(body));
    } catch (err) {
      if (err instanceof NotFound) {
        rec.status = 404;
        return void res.writeHead(404, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_404);
      }
      if (err instanceof ApiError) return reply(err.status, { error_code: err.code, message: err.message });
      throw err;
    }
  }

  // ---- helpers over the state ----

  function experimentByName(name: string): FakeExperiment | undefined {
    return Object.values(state.experiments).find((e) => e.name === name);
  }

  function activeRun(body: Record<string, unknown>): FakeRun {
    const id = str(body, 'run_id') ?? str(body, 'run_uuid');
    if (!id) {
      throw invalid(version === '2.12' ? "Invalid run ID: ''" : `Invalid value "" for parameter 'run_id' supplied.`);
    }
    const run = state.runs[id];
    if (!run) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
    if (run.info.lifecycle_stage !== 'active') {
      throw invalid(`The run ${id} must be in the 'active' state. Current state is ${run.info.lifecycle_stage}.`);
    }
    return run;
  }

  function checkKey(kind: 'Param' | 'Metric' | 'Tag', key: unknown): string {
    if (typeof key !== 'string') throw missing('key');
    if (key.length > 250) throw invalid(`${kind} key '${key}' had length ${key.length}, which exceeded length limit of 250`);
    const chars = version === '2.12' ? /^[\p{L}\p{N}_\-. /]*$/u : /^[\p{L}\p{N}_\-. /:]*$/u;
    const noun = kind === 'Param' ? 'parameter' : kind.toLowerCase();
    if (!chars.test(key)) {
      throw invalid(
        `Invalid ${noun} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
      );
    }
    const normal = key
      .split('/')
      .reduce<string[]>((acc, seg) => (seg === '' || seg === '.' ? acc : seg === '..' ? acc.slice(0, -1) : [...acc, seg]), [])
      .join('/');
    if (normal !== key) {
      throw invalid(
        `Invalid ${noun} name: '${key}'. Names may be treated as files in certain cases, and must not resolve to other names when treated as such. This name would resolve to '${normal}'`,
      );
    }
    return key;
  }

  function stringValue(entity: Record<string, unknown>, field: string, where: string): string {
    const v = entity[field];
    if (v === undefined || v === null) throw missing(where);
    if (typeof v !== 'string') throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${where}' supplied. Hint: Value was of type '${typeof v === 'number' ? 'int' : typeof v}'. See the API docs for more information about request parameters.`);
    return v;
  }

  /** int64 fields: protobuf's JSON parser takes integers and numeric strings. */
  function intValue(v: unknown, where: string, onFloat: 'zero' | 'reject'): number | undefined {
    if (v === undefined || v === null) return undefined;
    const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${where}' supplied.`);
    if (!Number.isInteger(n)) {
      if (onFloat === 'zero') return 0;
      throw new FloatStep();
    }
    return n;
  }

  function metricValue(v: unknown, where: string): number {
    if (v === undefined || v === null) throw missing(where);
    if (typeof v === 'number') return v;
    if (v === 'NaN') return NaN;
    if (v === 'Infinity') return DOUBLE_MAX;
    if (v === '-Infinity') return -DOUBLE_MAX;
    if (typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v))) return Number(v);
    throw invalid(`Invalid value ${JSON.stringify(v)} for parameter '${where}' supplied.`);
  }

  function parseMetric(m: Record<string, unknown>, prefix: string, floatStep: 'zero' | 'reject'): FakeMetric {
    const key = checkKey('Metric', m['key']);
    const value = metricValue(m['value'], `${prefix}value`);
    const timestamp = intValue(m['timestamp'], `${prefix}timestamp`, 'zero');
    if (timestamp === undefined) throw missing(`${prefix}timestamp`);
    const step = intValue(m['step'], `${prefix}step`, floatStep) ?? 0;
    return { key, value: value === Infinity ? DOUBLE_MAX : value === -Infinity ? -DOUBLE_MAX : value, timestamp, step };
  }

  function setTagOn(run: FakeRun, key: string, value: string): void {
    run.tags[key] = value.slice(0, version === '2.12' ? 5000 : 8000);
    if (key === 'mlflow.runName') run.info.run_name = run.tags[key] ?? '';
  }

  const routes: Record<string, (body: Record<string, unknown>) => unknown> = {
    'GET experiments/get-by-name': (q) => {
      const name = str(q, 'experiment_name') ?? '';
      const exp = experimentByName(name);
      if (!exp) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Could not find experiment with name '${name}'`);
      return { experiment: experimentJson(exp) };
    },
    'GET experiments/get': (q) => {
      const exp = state.experiments[str(q, 'experiment_id') ?? ''];
      if (!exp) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${str(q, 'experiment_id')} exists`);
      return { experiment: experimentJson(exp) };
    },
    'POST experiments/create': (b) => {
      const name = str(b, 'name');
      if (!name) throw missing('name');
      if (experimentByName(name)) {
        throw new ApiError(
          400,
          'RESOURCE_ALREADY_EXISTS',
          `Experiment(name=${name}) already exists. Error: (raised as a result of Query-invoked autoflush; consider using a session.no_autoflush block if this flush is occurring prematurely)\n(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.name`,
        );
      }
      const id = String(nextExperimentId++);
      const t = Date.now();
      state.experiments[id] = {
        experiment_id: id,
        name,
        artifact_location: str(b, 'artifact_location') ?? `mlflow-artifacts:/${id}`,
        lifecycle_stage: 'active',
        creation_time: t,
        last_update_time: t,
        tags: Object.fromEntries(kvList(b['tags']).map((t) => [t.key, t.value])),
      };
      return { experiment_id: id };
    },
    'POST experiments/delete': (b) => lifecycle(b, 'deleted'),
    'POST experiments/restore': (b) => lifecycle(b, 'active'),
    'POST runs/create': (b) => {
      const expId = str(b, 'experiment_id');
      if (!expId) throw new ApiError(400, 'BAD_REQUEST', '(sqlite3.IntegrityError) FOREIGN KEY constraint failed');
      const exp = state.experiments[expId];
      if (!exp) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${expId} exists`);
      if (exp.lifecycle_stage !== 'active') {
        throw invalid(`The experiment ${expId} must be in the 'active' state. Current state is ${exp.lifecycle_stage}.`);
      }
      const tags = kvList(b['tags']);
      for (const t of tags) checkKey('Tag', t.key);
      const runNameArg = str(b, 'run_name');
      const runNameTag = tags.find((t) => t.key === 'mlflow.runName')?.value;
      if (runNameArg && runNameTag && runNameArg !== runNameTag) {
        throw invalid(
          `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${runNameArg}', mlflow.runName='${runNameTag}').`,
        );
      }
      const runName = runNameArg || runNameTag || `${pick(ADJECTIVES)}-${pick(ANIMALS)}-${Math.floor(Math.random() * 1000)}`;
      const runId = randomBytes(16).toString('hex');
      const run: FakeRun = {
        info: {
          run_id: runId,
          experiment_id: expId,
          run_name: runName,
          user_id: str(b, 'user_id') ?? '',
          status: 'RUNNING',
          start_time: intValue(b['start_time'], 'start_time', 'zero') ?? 0,
          artifact_uri: `${exp.artifact_location}/${runId}/artifacts`,
          lifecycle_stage: 'active',
        },
        params: {},
        tags: {},
        metrics: [],
      };
      for (const t of tags) setTagOn(run, t.key, t.value);
      setTagOn(run, 'mlflow.runName', runName);
      state.runs[runId] = run;
      return { run: runJson(run, false) };
    },
    'GET runs/get': (q) => {
      const id = str(q, 'run_id') ?? str(q, 'run_uuid') ?? '';
      const run = state.runs[id];
      if (!run) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
      return { run: runJson(run, true) };
    },
    'POST runs/update': (b) => {
      const run = activeRun(b);
      const status = str(b, 'status');
      // Observed: an unknown status string is accepted with 200 and ignored.
      if (status && STATUSES.includes(status)) run.info.status = status;
      const end = intValue(b['end_time'], 'end_time', 'zero');
      if (end !== undefined) run.info.end_time = end;
      const name = str(b, 'run_name');
      if (name) setTagOn(run, 'mlflow.runName', name);
      return { run_info: infoJson(run) };
    },
    'POST runs/delete': (b) => {
      const run = activeRun(b);
      run.info.lifecycle_stage = 'deleted';
      return {};
    },
    'POST runs/set-tag': (b) => {
      const run = activeRun(b);
      setTagOn(run, checkKey('Tag', b['key']), stringValue(b, 'value', 'value'));
      return {};
    },
    'POST runs/log-parameter': (b) => {
      const run = activeRun(b);
      const key = checkKey('Param', b['key']);
      const value = stringValue(b, 'value', 'value').slice(0, 6000);
      const old = run.params[key];
      if (old !== undefined && old !== value) {
        throw invalid(
          `Changing param values is not allowed. Param with key='${key}' was already logged with value='${old}' for run ID='${run.info.run_id}'. Attempted logging new value '${value}'.`,
        );
      }
      run.params[key] = value;
      return {};
    },
    'POST runs/log-metric': (b) => {
      const run = activeRun(b);
      run.metrics.push(parseMetric(b, '', 'zero'));
      return {};
    },
    'POST runs/log-batch': (b) => {
      // A float step anywhere makes the whole body unparsable; the server then blames run_id.
      const parse = <T>(fn: () => T): T => {
        try {
          return fn();
        } catch (err) {
          if (err instanceof FloatStep) {
            throw invalid(version === '2.12' ? "Invalid run ID: ''" : `Invalid value "" for parameter 'run_id' supplied.`);
          }
          throw err;
        }
      };
      const rawMetrics = Array.isArray(b['metrics']) ? (b['metrics'] as Record<string, unknown>[]) : [];
      for (const m of rawMetrics) parse(() => intValue(m['step'], 'step', 'reject'));
      const run = activeRun(b);
      const params = kvList(b['params']);
      const tags = kvList(b['tags']);
      const limit = (n: number, max: number, what: string) => {
        if (n > max) {
          throw invalid(
            `A batch logging request can contain at most ${max} ${what}. Got ${n} ${what}. Please split up ${what} across multiple requests and try again.`,
          );
        }
      };
      limit(rawMetrics.length, 1000, 'metrics');
      limit(params.length, 100, 'params');
      limit(tags.length, 100, 'tags');
      limit(rawMetrics.length + params.length + tags.length, 1000, 'metrics, params, and tags');
      const metrics = rawMetrics.map((m, i) => {
        if (m['timestamp'] === undefined && version === '2.12') {
          throw invalid(`Invalid value ${pyRepr(rawMetrics)} for parameter 'metrics' supplied.`);
        }
        return parse(() => parseMetric(m, `metrics[${i}].`, 'reject'));
      });
      const newParams: Record<string, string> = {};
      const seen = new Set<string>();
      const dups = new Set<string>();
      for (const [i, p] of params.entries()) {
        const key = checkKey('Param', p.key);
        if (seen.has(key)) dups.add(key);
        seen.add(key);
        newParams[key] = stringValue(p as unknown as Record<string, unknown>, 'value', `params[${i}].value`).slice(0, 6000);
      }
      if (dups.size) {
        throw invalid(
          `Duplicate parameter keys have been submitted: ${pyRepr([...dups])}. Please ensure the request contains only one param value per param key.`,
        );
      }
      for (const t of tags) checkKey('Tag', t.key);
      const changed = Object.entries(newParams)
        .filter(([k, v]) => run.params[k] !== undefined && run.params[k] !== v)
        .map(([k, v]) => ({ key: k, old_value: run.params[k], new_value: v }));
      if (changed.length) {
        throw invalid(`Changing param values is not allowed. Params were already logged='${pyRepr(changed)}' for run ID='${run.info.run_id}'.`);
      }
      // Only now, after every check: the real store applies a batch in one transaction.
      Object.assign(run.params, newParams);
      for (const t of tags) setTagOn(run, t.key, String(t.value));
      run.metrics.push(...metrics);
      return {};
    },
    'GET metrics/get-history': (q) => {
      const id = str(q, 'run_id') ?? str(q, 'run_uuid') ?? '';
      const run = state.runs[id];
      if (!run) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
      const points = run.metrics.filter((m) => m.key === str(q, 'metric_key')).map(metricJson);
      return points.length ? { metrics: points } : {};
    },
    'POST runs/search': (b) => {
      const ids = Array.isArray(b['experiment_ids']) ? (b['experiment_ids'] as unknown[]).map(String) : [];
      const clauses = parseFilter(str(b, 'filter') ?? '');
      const max = Number(b['max_results'] ?? 1000);
      const runs = Object.values(state.runs)
        .filter((r) => ids.includes(r.info.experiment_id) && r.info.lifecycle_stage === 'active')
        .filter((r) => clauses.every((c) => (c.kind === 'tag' ? r.tags[c.key] : String((r.info as Record<string, unknown>)[c.key])) === c.value))
        .sort((a, b2) => b2.info.start_time - a.info.start_time)
        .slice(0, max);
      return runs.length ? { runs: runs.map((r) => runJson(r, true)) } : {};
    },
    'GET artifacts/list': (q) => {
      const id = str(q, 'run_id') ?? str(q, 'run_uuid') ?? '';
      const run = state.runs[id];
      if (!run) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${id} not found`);
      const root = run.info.artifact_uri.replace(/^mlflow-artifacts:\/*/, '');
      const sub = (str(q, 'path') ?? '').replace(/^\/+|\/+$/g, '');
      const files = listDir(sub ? `${root}/${sub}` : root).map((f) => ({ ...f, path: sub ? `${sub}/${f.path}` : f.path }));
      return files.length ? { root_uri: run.info.artifact_uri, files } : { root_uri: run.info.artifact_uri };
    },
  };

  function lifecycle(b: Record<string, unknown>, stage: 'active' | 'deleted'): unknown {
    const exp = state.experiments[str(b, 'experiment_id') ?? ''];
    if (!exp) throw new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', `No Experiment with id=${str(b, 'experiment_id')} exists`);
    exp.lifecycle_stage = stage;
    exp.last_update_time = Date.now();
    return {};
  }

  function listDir(dir: string): Array<{ path: string; is_dir: boolean; file_size?: number }> {
    const prefix = dir.replace(/\/+$/, '') + '/';
    const out = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
    for (const [path, bytes] of Object.entries(state.artifacts)) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      const slash = rest.indexOf('/');
      if (slash === -1) out.set(rest, { path: rest, is_dir: false, file_size: bytes.length });
      else out.set(rest.slice(0, slash), { path: rest.slice(0, slash), is_dir: true });
    }
    return [...out.values()].sort((a, b) => a.path.localeCompare(b.path));
  }

  function artifactRoute(
    method: string,
    rawPath: string,
    url: URL,
    body: Buffer,
    reply: (status: number, body: unknown, headers?: Record<string, string>) => void,
    res: ServerResponse,
    rec: RecordedRequest,
  ): void {
    const rest = rawPath.slice(ARTIFACTS.length).replace(/^\/+/, '');
    if (method === 'GET' && rest === '') {
      const dir = (url.searchParams.get('path') ?? '').replace(/^\/+|\/+$/g, '');
      const files = listDir(dir);
      return reply(200, files.length ? { files } : {});
    }
    const segments = rest.split('/').map(safeDecode);
    if (segments.some((s) => s === '..' || s.split('/').includes('..'))) throw invalid('Invalid path');
    const path = segments.filter((s) => s !== '').join('/');
    if (method === 'PUT') {
      state.artifacts[path] = body;
      return reply(200, {});
    }
    if (method === 'GET') {
      const bytes = state.artifacts[path];
      if (!bytes) throw new ApiError(500, 'INTERNAL_ERROR', `[Errno 2] No such file or directory: '/mlartifacts/${path}'`);
      rec.status = 200;
      const name = path.split('/').pop() ?? path;
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-disposition': `attachment; filename=${name}` });
      return void res.end(bytes);
    }
    if (method === 'DELETE') {
      delete state.artifacts[path];
      return reply(200, {});
    }
    throw new NotFound();
  }

  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  const uri = `http://127.0.0.1:${port}`;
  let down = false;

  return {
    uri,
    state,
    failNext(n, kind) {
      for (let i = 0; i < n; i++) failures.push(kind);
    },
    async setDown(value) {
      if (value === down) return;
      down = value;
      if (value) {
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        for (const s of sockets) s.destroy();
        for (const r of hanging) r.destroy();
        hanging.clear();
        await closed;
      } else {
        await listen(server, port);
      }
    },
    setDelay(ms) {
      delayMs = ms;
    },
    requestsTo(endpoint) {
      const prefix = endpoint.startsWith('mlflow-artifacts') ? `/api/2.0/${endpoint}` : `${API}${endpoint}`;
      return state.requests.filter((r) => r.path === prefix || (endpoint.startsWith('mlflow-artifacts') && r.path.startsWith(prefix)));
    },
    async close() {
      for (const r of hanging) r.destroy();
      hanging.clear();
      if (down) return;
      down = true;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };

  function experimentJson(e: FakeExperiment): Record<string, unknown> {
    const tags = Object.entries(e.tags).map(([key, value]) => ({ key, value }));
    return {
      experiment_id: e.experiment_id,
      name: e.name,
      artifact_location: e.artifact_location,
      lifecycle_stage: e.lifecycle_stage,
      last_update_time: e.last_update_time,
      creation_time: e.creation_time,
      ...(tags.length ? { tags } : {}),
    };
  }
}

class NotFound extends Error {}
class FloatStep extends Error {}

function infoJson(run: FakeRun): Record<string, unknown> {
  const i = run.info;
  return {
    run_uuid: i.run_id,
    experiment_id: i.experiment_id,
    run_name: i.run_name,
    user_id: i.user_id,
    status: i.status,
    start_time: i.start_time,
    ...(i.end_time !== undefined ? { end_time: i.end_time } : {}),
    artifact_uri: i.artifact_uri,
    lifecycle_stage: i.lifecycle_stage,
    run_id: i.run_id,
  };
}

function metricJson(m: FakeMetric): Record<string, unknown> {
  return { key: m.key, value: Number.isNaN(m.value) ? 'NaN' : m.value, timestamp: m.timestamp, step: m.step };
}

/** runs/get and runs/search give the latest point per key (highest step, then newest timestamp). */
function runJson(run: FakeRun, withMetrics: boolean): Record<string, unknown> {
  const latest = new Map<string, FakeMetric>();
  for (const m of run.metrics) {
    const cur = latest.get(m.key);
    if (!cur || m.step > cur.step || (m.step === cur.step && m.timestamp >= cur.timestamp)) latest.set(m.key, m);
  }
  const metrics = withMetrics ? [...latest.values()].map(metricJson) : [];
  const params = Object.entries(run.params).map(([key, value]) => ({ key, value }));
  const tags = Object.entries(run.tags).map(([key, value]) => ({ key, value }));
  // Protobuf JSON leaves out empty repeated fields.
  const data: Record<string, unknown> = {};
  if (metrics.length) data['metrics'] = metrics;
  if (params.length) data['params'] = params;
  if (tags.length) data['tags'] = tags;
  return { info: infoJson(run), data, ...(withMetrics ? { inputs: {} } : {}) };
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function str(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

function kvList(v: unknown): Array<{ key: string; value: string }> {
  return Array.isArray(v) ? (v as Array<{ key: string; value: string }>) : [];
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** Enough of Python's repr for the error texts MLflow builds from lists and dicts. */
function pyRepr(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(pyRepr).join(', ')}]`;
  if (v && typeof v === 'object') return `{${Object.entries(v).map(([k, x]) => `'${k}': ${pyRepr(x)}`).join(', ')}}`;
  if (typeof v === 'string') return `'${v}'`;
  return String(v);
}

/** `tags.key = 'v'`, ``tags.`a.b` = 'v'``, `attributes.status = 'v'`, joined by AND: what clients here send. */
function parseFilter(filter: string): Array<{ kind: 'tag' | 'attr'; key: string; value: string }> {
  if (!filter.trim()) return [];
  return filter.split(/\s+AND\s+/i).map((clause) => {
    const m = /^\s*(tags?|attributes?|attr)\.(?:`([^`]+)`|"([^"]+)"|([\w.]+))\s*=\s*'([^']*)'\s*$/i.exec(clause);
    if (!m) throw invalid(`Invalid filter '${filter}'`);
    const key = (m[2] ?? m[3] ?? m[4]) as string;
    return { kind: m[1]!.toLowerCase().startsWith('tag') ? 'tag' : 'attr', key, value: m[5] ?? '' };
  });
}

const ADJECTIVES = ['capricious', 'bold', 'calm', 'nimble', 'sincere'];
const ANIMALS = ['snail', 'owl', 'fox', 'whale', 'crab'];
function pick<T>(list: readonly T[]): T {
  return list[Math.floor(Math.random() * list.length)] as T;
}
