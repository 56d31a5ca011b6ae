import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifyWebhook } from '../callbacks/index.js';

export interface ReceivedCallback {
  kind: 'progress' | 'completion' | 'other';
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
  json: unknown;
  /** Whether the Standard Webhooks signature verified (when the receiver has a secret). */
  signatureValid?: boolean;
  at: number;
}

/** What to do with the next request: answer with a status (and headers), hang, or reset the connection. */
export type ReceiverBehaviour = { status: number; headers?: Record<string, string> } | 'hang' | 'reset';

/**
 * A real HTTP server that plays the backend: it records every callback it receives and answers
 * according to a script, so tests can check the exact bytes and headers that arrived.
 */
export interface CallbackReceiver {
  url: string;
  received: ReceivedCallback[];
  /** Behaviours to use for the next requests, in order; afterwards it answers 200. */
  script(...behaviours: ReceiverBehaviour[]): void;
  /** Answers every request with this from now on (e.g. 503 for a backend that stays down). */
  always(behaviour: ReceiverBehaviour | undefined): void;
  waitFor(predicate: (all: ReceivedCallback[]) => boolean, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export async function startCallbackReceiver(opts: { secret?: string; basePath?: string } = {}): Promise<CallbackReceiver> {
  const received: ReceivedCallback[] = [];
  const queue: ReceiverBehaviour[] = [];
  let fallback: ReceiverBehaviour | undefined;
  const sockets = new Set<Socket>();
  const hanging = new Set<ServerResponse>();

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const path = req.url ?? '';
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const kind = path.endsWith('/callback/progress') ? 'progress' : path.endsWith('/callback/completion') ? 'completion' : 'other';
      received.push({
        kind,
        path,
        headers: req.headers,
        body,
        json,
        signatureValid: opts.secret ? verifyWebhook(opts.secret, req.headers as Record<string, string>, body) : undefined,
        at: Date.now(),
      });
      const behaviour = queue.shift() ?? fallback ?? { status: 200 };
      if (behaviour === 'hang') {
        hanging.add(res);
        return;
      }
      if (behaviour === 'reset') {
        req.socket.destroy();
        return;
      }
      res.writeHead(behaviour.status, { 'content-type': 'application/json', ...(behaviour.headers ?? {}) });
      res.end(behaviour.status < 300 ? '{"ok":true}' : '{"detail":"scripted failure"}');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}${opts.basePath ?? '/api/v1/training'}`;

  return {
    url,
    received,
    script: (...b) => void queue.push(...b),
    always: (b) => void (fallback = b),
    async waitFor(predicate, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > deadline) throw new Error(`callback receiver: condition not met within ${timeoutMs} ms (got ${received.length} requests)`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const res of hanging) res.destroy();
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
