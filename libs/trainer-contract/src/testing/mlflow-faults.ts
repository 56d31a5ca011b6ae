import { createServer, request, type IncomingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * A loopback proxy in front of a real MLflow server, for what the real one cannot do on cue: be down, be slow,
 * hang, reset a connection, answer an HTML 500 page, fail N times, or sit behind an auth gateway. Every other
 * answer is the real server's, byte for byte. It records each request (and the status the client got), so a
 * test can also check what the client sent, e.g. how it split a batch.
 */
/** `lost`: the server gets and handles the request, but its answer never reaches the client. */
export type FaultKind = 'html500' | 'hang' | 'reset' | 'lost';

export interface ProxiedRequest {
  method: string;
  /** Decoded path without the query, e.g. `/api/2.0/mlflow/runs/log-batch`. */
  path: string;
  /** The path as it arrived (percent-encoding kept). */
  rawPath: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  /** The body as text (artifact uploads: empty). */
  body: string;
  json?: unknown;
  /** What the client got; undefined for a request that was reset or left hanging. */
  status?: number;
  injected?: FaultKind;
}

export interface MlflowFaultProxy {
  uri: string;
  requests: ProxiedRequest[];
  /** The next `n` requests fail this way (they never reach the server). */
  failNext(n: number, kind: FaultKind): void;
  /** Down: the port refuses connections; up: it listens again on the same port. */
  setDown(down: boolean): Promise<void>;
  /** Delays every answer by `ms`. */
  setDelay(ms: number): void;
  /** Requests to `/api/2.0/mlflow/<endpoint>` (or to `mlflow-artifacts/...`). */
  requestsTo(endpoint: string): ProxiedRequest[];
  close(): Promise<void>;
}

export interface MlflowFaultProxyOptions {
  /** Require this Authorization, as a token or basic-auth gateway in front of MLflow does; others get 401. */
  auth?: { token: string } | { username: string; password: string };
  /** Runs before a request is forwarded (after recording); may act on the real server to stage a race. */
  onRequest?: (req: ProxiedRequest) => void | Promise<void>;
}

/**
 * The 500 page MLflow's Flask app renders for an unhandled error (werkzeug's InternalServerError), as a real
 * 2.x server sent it for a body that was not JSON. testing/mlflow-server.spec.ts compares it with the real
 * server's own error answers.
 */
export const HTML_500 =
  '<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n' +
  '<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n';

const API = '/api/2.0/mlflow/';

export async function startMlflowFaultProxy(target: string, opts: MlflowFaultProxyOptions = {}): Promise<MlflowFaultProxy> {
  const upstream = new URL(target);
  const requests: ProxiedRequest[] = [];
  const failures: FaultKind[] = [];
  let delayMs = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();
  const expectedAuth = opts.auth
    ? 'token' in opts.auth
      ? `Bearer ${opts.auth.token}`
      : 'Basic ' + Buffer.from(`${opts.auth.username}:${opts.auth.password}`).toString('base64')
    : undefined;

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void (async () => {
        const raw = Buffer.concat(chunks);
        const rawUrl = req.url ?? '/';
        const url = new URL(rawUrl, 'http://x');
        const rawPath = rawUrl.split('?')[0] ?? '/';
        const isUpload = req.method === 'PUT';
        const rec: ProxiedRequest = {
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
          // recorded as text
        }
        requests.push(rec);
        const failure = failures.shift();
        if (failure) {
          rec.injected = failure;
          if (failure === 'reset') return void req.socket.destroy();
          if (failure === 'hang') return void hanging.add(res);
          if (failure === 'lost') {
            hanging.add(res);
            const fwd = request({ hostname: upstream.hostname, port: upstream.port, path: rawUrl, method: req.method, headers: { ...req.headers, host: upstream.host } }, (up) => up.resume());
            fwd.on('error', () => undefined);
            return void fwd.end(raw);
          }
          rec.status = 500;
          return void res.writeHead(500, { 'content-type': 'text/html; charset=utf-8' }).end(HTML_500);
        }
        if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
        if (expectedAuth && req.headers.authorization !== expectedAuth) {
          rec.status = 401;
          res.writeHead(401, { 'content-type': 'text/plain', 'www-authenticate': 'Basic realm="mlflow"' });
          return void res.end('You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.');
        }
        if (opts.onRequest) await opts.onRequest(rec);
        const headers = { ...req.headers, host: upstream.host };
        delete headers.authorization;
        const fwd = request({ hostname: upstream.hostname, port: upstream.port, path: rawUrl, method: req.method, headers }, (up) => {
          rec.status = up.statusCode;
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        });
        fwd.on('error', () => {
          rec.status = 502;
          if (!res.headersSent) res.writeHead(502).end();
        });
        fwd.end(raw);
      })();
    });
  });
  server.keepAliveTimeout = 1000;
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await listen(server, 0);
  const port = (server.address() as AddressInfo).port;
  let down = false;
  const closeNow = async () => {
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of sockets) s.destroy();
    for (const r of hanging) r.destroy();
    hanging.clear();
    await closed;
  };

  return {
    uri: `http://127.0.0.1:${port}`,
    requests,
    failNext(n, kind) {
      for (let i = 0; i < n; i++) failures.push(kind);
    },
    async setDown(value) {
      if (value === down) return;
      down = value;
      if (value) await closeNow();
      else await listen(server, port);
    },
    setDelay(ms) {
      delayMs = ms;
    },
    requestsTo(endpoint) {
      const prefix = endpoint.startsWith('mlflow-artifacts') ? `/api/2.0/${endpoint}` : `${API}${endpoint}`;
      return requests.filter((r) => r.path === prefix || (endpoint.startsWith('mlflow-artifacts') && r.path.startsWith(prefix)));
    },
    async close() {
      for (const r of hanging) r.destroy();
      hanging.clear();
      if (down) return;
      down = true;
      await closeNow();
    },
  };
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

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
