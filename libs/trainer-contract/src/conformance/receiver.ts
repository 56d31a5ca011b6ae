import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { verifyWebhook } from '../callbacks/index.js';

export interface ReceivedRequest {
  kind: 'progress' | 'completion' | 'other';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  json: unknown;
  /** The `webhook-id` header ('' when missing). */
  id: string;
  /** 1 for the first request carrying this webhook-id, 2 for its first retry, … */
  attemptOfId: number;
  signatureValid: boolean;
  /** What the receiver answered. */
  status: number;
  at: number;
}

type Answer = { status: number; headers?: Record<string, string> };
/** Decides the answer to each request from what it is and how often its webhook-id was seen; default 200. */
export type AnswerPolicy = (req: Omit<ReceivedRequest, 'status'>) => Answer | undefined;

/** The backend, played by a real HTTP server: records every request and answers by a policy. */
export interface PolicyReceiver {
  /** The base URL a trainer gets as `--callback-url` (with a path, as the seed's backend has). */
  url: string;
  received: ReceivedRequest[];
  /** Requests for one job (by the path's `/jobs/{id}/`). */
  forJob(jobId: string): ReceivedRequest[];
  close(): Promise<void>;
}

const BASE_PATH = '/api/v1/training';

export async function startPolicyReceiver(opts: { secret: string; policy?: AnswerPolicy }): Promise<PolicyReceiver> {
  const received: ReceivedRequest[] = [];
  const seen = new Map<string, number>();
  const sockets = new Set<Socket>();
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
      const id = String(req.headers['webhook-id'] ?? '');
      const attemptOfId = (seen.get(id) ?? 0) + 1;
      seen.set(id, attemptOfId);
      const kind = path.endsWith('/callback/progress') ? 'progress' : path.endsWith('/callback/completion') ? 'completion' : 'other';
      const request = {
        kind,
        method: req.method ?? '',
        path,
        headers: req.headers,
        body,
        json,
        id,
        attemptOfId,
        signatureValid: verifyWebhook(opts.secret, req.headers as Record<string, string>, body),
        at: Date.now(),
      } as const;
      const answer = opts.policy?.(request) ?? { status: 200 };
      received.push({ ...request, status: answer.status });
      res.writeHead(answer.status, { 'content-type': 'application/json', ...(answer.headers ?? {}) });
      res.end(answer.status < 300 ? '{"ok":true}' : '{"detail":"refused by the conformance receiver"}');
    });
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${BASE_PATH}`,
    received,
    forJob: (jobId) => received.filter((r) => r.path.includes(`/jobs/${jobId}/`)),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export const RECEIVER_BASE_PATH = BASE_PATH;
