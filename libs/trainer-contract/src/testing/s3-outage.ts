import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/**
 * How the proxy answers: `pass` forwards; `reset` resets every connection as soon as a request arrives; `503`
 * answers SlowDown to everything; `403` answers AccessDenied to everything; `hang-body` forwards listings but sends
 * an object GET's headers and first bytes and then nothing, keeping the connection open.
 */
export type OutageMode = 'pass' | 'reset' | '503' | '403' | 'hang-body';

export interface S3OutageProxy {
  endpoint: string;
  mode: OutageMode;
  /** Requests seen per mode, for tests that must show the faults were really met. */
  stats: { requests: number; faulted: number };
  close(): Promise<void>;
}

const xmlError = (code: string, message: string) => `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

function isObjectGet(req: IncomingMessage): boolean {
  if (req.method !== 'GET') return false;
  const url = new URL(req.url ?? '/', 'http://x');
  return url.pathname.split('/').filter(Boolean).length >= 2 && !url.searchParams.has('list-type');
}

/**
 * A loopback proxy in front of a real S3 server (s3rver) that plays an S3 outage of one kind, switchable while a
 * test runs (`proxy.mode = 'pass'` brings it back). Complements `startFaultProxy`, whose faults are sparse and
 * recoverable: these last, so the trainer's retries run out.
 */
export async function startS3OutageProxy(opts: { target: string; mode: OutageMode }): Promise<S3OutageProxy> {
  const target = new URL(opts.target);
  const sockets = new Set<Socket>();
  const stats = { requests: 0, faulted: 0 };
  const state = { mode: opts.mode };
  const forward = (req: IncomingMessage, res: ServerResponse, hangBody: boolean) => {
    const up = request(
      { hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        if (!hangBody) {
          upRes.pipe(res);
          return;
        }
        // A few bytes, then silence: the client must notice by its own idle timeout.
        upRes.once('data', (chunk: Buffer) => {
          res.write(chunk.subarray(0, Math.min(4, chunk.length)));
          upRes.destroy();
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  const server = createServer((req, res) => {
    stats.requests++;
    const mode = state.mode;
    if (mode === 'pass' || (mode === 'hang-body' && !isObjectGet(req))) return forward(req, res, false);
    stats.faulted++;
    if (mode === 'reset') {
      req.socket.resetAndDestroy();
      return;
    }
    if (mode === 'hang-body') return forward(req, res, true);
    req.resume();
    const [status, code, message] = mode === '503' ? [503, 'SlowDown', 'Please reduce your request rate.'] : [403, 'AccessDenied', 'Access Denied'];
    const body = req.method === 'HEAD' ? '' : xmlError(code, message);
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(m: OutageMode) {
      state.mode = m;
    },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A loopback endpoint where nothing listens: every connection is refused. */
export async function refusedEndpoint(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}
