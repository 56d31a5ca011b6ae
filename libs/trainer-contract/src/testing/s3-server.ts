import crypto from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The environment a trainer needs to talk to the test server (CONTRACT §3 names). */
// A ProcessEnv, so it can be passed (and spread) wherever the trainer takes an env.
export type S3TestEnv = NodeJS.ProcessEnv & {
  S3_ENDPOINT: string;
  AWS_ACCESS_KEY_ID: 'S3RVER';
  AWS_SECRET_ACCESS_KEY: 'S3RVER';
  AWS_REGION: 'us-east-1';
};

export interface S3TestServer {
  endpoint: string;
  port: number;
  /** s3rver's storage folder (a fresh temp dir unless given). */
  directory: string;
  env: S3TestEnv;
  close(): Promise<void>;
}

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer?: Server;
}
type S3rverCtor = new (opts: Record<string, unknown>) => S3rverInstance;

let desPatched = false;

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 only has in its legacy
 * provider, so any listing of more than 1000 keys answers 500 on Node 20. Three-key 3DES with all three keys
 * equal is exactly DES and is in the default provider, so the same tokens come out.
 */
function patchDes(): void {
  if (desPatched) return;
  desPatched = true;
  const mod = crypto as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const fn of ['createCipheriv', 'createDecipheriv'] as const) {
    const original = mod[fn]!.bind(crypto);
    mod[fn] = (algorithm: unknown, key: unknown, iv: unknown, ...rest: unknown[]) => {
      if (typeof algorithm === 'string' && algorithm.toLowerCase() === 'des' && Buffer.isBuffer(key) && key.length === 8) {
        return original('des-ede3-cbc', Buffer.concat([key, key, key]), iv, ...rest);
      }
      return original(algorithm, key, iv, ...rest);
    };
  }
}

/** A real s3rver on a random loopback port with a temp directory, buckets created. */
export async function startS3Server(opts: { buckets?: string[]; directory?: string } = {}): Promise<S3TestServer> {
  patchDes();
  const require = createRequire(import.meta.url);
  const S3rver = require('s3rver') as S3rverCtor;
  const directory = opts.directory ?? (await mkdtemp(join(tmpdir(), 's3rver-')));
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    directory,
    silent: true,
    configureBuckets: (opts.buckets ?? ['test-bucket']).map((name) => ({ name })),
  });
  const address = await server.run();
  if (!address?.port) throw new Error('s3rver did not report a port');
  const endpoint = `http://127.0.0.1:${address.port}`;
  return {
    endpoint,
    port: address.port,
    directory,
    env: { S3_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' },
    async close() {
      server.httpServer?.closeAllConnections();
      await server.close().catch(() => undefined);
      if (!opts.directory) await rm(directory, { recursive: true, force: true });
    },
  };
}

export interface TestProxy {
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function closer(server: Server): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
}

function forward(target: URL, req: IncomingMessage, onResponse: (up: IncomingMessage) => void, onError: (err: Error) => void): void {
  const up = request(
    { hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } },
    onResponse,
  );
  up.on('error', onError);
  req.pipe(up);
}

function passThrough(target: URL, req: IncomingMessage, res: ServerResponse): void {
  forward(
    target,
    req,
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
    () => res.destroy(),
  );
}

/** Object GETs, not listings: a path with a key and no `list-type`/`uploads` query. */
function isObjectGet(req: IncomingMessage): boolean {
  if (req.method !== 'GET') return false;
  const url = new URL(req.url ?? '/', 'http://x');
  return url.pathname.split('/').filter(Boolean).length >= 2 && !url.searchParams.has('list-type');
}

export type Fault = '500' | '503' | 'reset';

export interface FaultProxyOptions {
  /** The S3 endpoint to front. */
  target: string;
  /** Share of object GETs that get a fault, 0–1. */
  rate: number;
  faults?: Fault[];
  /** So that every object succeeds within the client's retries, one path gets at most this many faults. */
  maxFaultsPerPath?: number;
  seed?: number;
}

export interface FaultProxy extends TestProxy {
  /** `resumed`: GETs with a Range header (a client picking up after a cut). */
  stats: { requests: number; resumed: number; faults: Record<Fault, number> };
}

/**
 * A loopback proxy in front of S3 that makes a share of object GETs fail: 500 InternalError, 503 SlowDown, or
 * the real response cut off half-way through its body by a connection reset. Deterministic for a seed.
 */
export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const target = new URL(opts.target);
  const faults = opts.faults ?? ['500', '503', 'reset'];
  const maxPerPath = opts.maxFaultsPerPath ?? 2;
  const perPath = new Map<string, number>();
  let state = (opts.seed ?? 1) >>> 0;
  const random = () => {
    // mulberry32
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const stats: FaultProxy['stats'] = { requests: 0, resumed: 0, faults: { '500': 0, '503': 0, reset: 0 } };
  const server = createServer((req, res) => {
    stats.requests++;
    if (req.headers.range) stats.resumed++;
    const path = req.url ?? '';
    const count = perPath.get(path) ?? 0;
    if (!isObjectGet(req) || count >= maxPerPath || random() >= opts.rate) {
      passThrough(target, req, res);
      return;
    }
    perPath.set(path, count + 1);
    const fault = faults[Math.floor(random() * faults.length)]!;
    stats.faults[fault]++;
    if (fault === '500' || fault === '503') {
      const code = fault === '500' ? 'InternalError' : 'SlowDown';
      req.resume();
      res.writeHead(Number(fault), { 'content-type': 'application/xml' });
      res.end(`<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>injected</Message></Error>`);
      return;
    }
    forward(
      target,
      req,
      (up) => {
        const length = Number(up.headers['content-length'] ?? 0);
        res.writeHead(up.statusCode ?? 502, up.headers);
        let sent = 0;
        const cut = Math.floor(length / 2);
        up.on('data', (chunk: Buffer) => {
          if (sent >= cut) return;
          const part = chunk.subarray(0, Math.max(0, cut - sent));
          sent += part.length;
          res.write(part);
          if (sent >= cut) {
            up.destroy();
            // Give the half body a moment to leave, then reset the client's connection mid-body.
            setTimeout(() => res.socket?.resetAndDestroy(), 5);
          }
        });
        up.on('end', () => res.socket?.resetAndDestroy());
      },
      () => res.destroy(),
    );
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, port, stats, close: closer(server) };
}

export interface HostileListingProxyOptions {
  target: string;
  bucket: string;
  /** Keys to add to every ListObjectsV2 answer whose prefix they match, and the bodies GETs of them return. */
  inject: Array<{ key: string; body: string }>;
}

export interface HostileListingProxy extends TestProxy {
  /** GETs the proxy answered for injected keys (a safe client makes none). */
  injectedGets: string[];
}

function xmlEscape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A loopback proxy that adds keys to listings which a real server would not list (s3rver writes `../x` outside
 * its bucket folder and never lists it back), such as `prefix/../../x`, to test that a client refuses them.
 */
export async function startHostileListingProxy(opts: HostileListingProxyOptions): Promise<HostileListingProxy> {
  const target = new URL(opts.target);
  const injectedGets: string[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'GET' && url.searchParams.get('list-type') === '2') {
      const prefix = url.searchParams.get('prefix') ?? '';
      forward(
        target,
        req,
        (up) => {
          const chunks: Buffer[] = [];
          up.on('data', (c: Buffer) => chunks.push(c));
          up.on('end', () => {
            let xml = Buffer.concat(chunks).toString('utf8');
            const extra = opts.inject
              .filter((i) => i.key.startsWith(prefix))
              .map(
                (i) =>
                  `<Contents><Key>${xmlEscape(i.key)}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified>` +
                  `<ETag>&quot;${crypto.createHash('md5').update(i.body).digest('hex')}&quot;</ETag><Size>${Buffer.byteLength(i.body)}</Size>` +
                  `<StorageClass>STANDARD</StorageClass></Contents>`,
              )
              .join('');
            xml = xml.replace('</ListBucketResult>', `${extra}</ListBucketResult>`);
            const headers = { ...up.headers, 'content-length': String(Buffer.byteLength(xml)) };
            res.writeHead(up.statusCode ?? 502, headers);
            res.end(xml);
          });
        },
        () => res.destroy(),
      );
      return;
    }
    if (req.method === 'GET') {
      const raw = req.url?.split('?')[0] ?? '';
      const hit = opts.inject.find((i) => raw === `/${opts.bucket}/${i.key}` || decodeURIComponent(raw) === `/${opts.bucket}/${i.key}`);
      if (hit) {
        injectedGets.push(hit.key);
        res.writeHead(200, { 'content-length': String(Buffer.byteLength(hit.body)), etag: `"${crypto.createHash('md5').update(hit.body).digest('hex')}"` });
        res.end(hit.body);
        return;
      }
    }
    passThrough(target, req, res);
  });
  const port = await listen(server);
  return { endpoint: `http://127.0.0.1:${port}`, port, injectedGets, close: closer(server) };
}
