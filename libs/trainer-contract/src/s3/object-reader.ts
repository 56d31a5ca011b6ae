import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { open, stat, truncate } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import { DataUnavailableError } from '../errors/index.js';
import { readS3Env, s3RequestTimeoutMs } from './env.js';
import { TransientError, withRetry, type RetryOptions } from './retry.js';

/** One object of a listing: what the download must produce. */
export interface ObjectRef {
  key: string;
  size: number;
  /** Without quotes. */
  etag?: string;
}

export interface ObjectReader {
  /** Streams the object into `tmpPath` (created or overwritten), retrying transient failures; checks the size. */
  fetchToFile(obj: ObjectRef, tmpPath: string, signal?: AbortSignal): Promise<{ etag?: string }>;
  close(): void;
}

export type ReaderEngine = 'http' | 'sdk';

export interface ReaderOptions {
  client: S3Client;
  bucket: string;
  env?: NodeJS.ProcessEnv;
  concurrency: number;
  retry?: RetryOptions;
  onRetry?: (key: string, err: unknown, attempt: number) => void;
}

export function s3Uri(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

function encodeKey(key: string): string {
  return key
    .split('/')
    .map((seg) => encodeURIComponent(seg).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`))
    .join('/');
}

function etagOf(header: string | string[] | undefined): string | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  return value ? value.replace(/^W\//, '').replace(/"/g, '') : undefined;
}

async function sizeOnDisk(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

/**
 * Plain signed HTTP GETs on a keep-alive agent. The SDK's GetObject spends about 5 ms of CPU per request in
 * its middleware stack; a request signed with the client's own SigV4 signer costs a small fraction of that,
 * which is what a 2-core pod downloading thousands of small images is bound by. The client still provides
 * credentials (default chain), region and endpoint resolution.
 */
export async function createHttpReader(opts: ReaderOptions): Promise<ObjectReader> {
  const { client, bucket } = opts;
  const s3env = readS3Env(opts.env ?? process.env);
  const region = await client.config.region();
  const endpoint = client.config.endpointProvider({
    Bucket: bucket,
    Region: region,
    UseFIPS: false,
    UseDualStack: false,
    Accelerate: false,
    ForcePathStyle: Boolean(s3env.endpoint),
    ...(s3env.endpoint ? { Endpoint: s3env.endpoint } : {}),
  });
  const base = new URL(endpoint.url.toString());
  const secure = base.protocol === 'https:';
  const caBundle = (opts.env ?? process.env).AWS_CA_BUNDLE;
  const agentOptions = { keepAlive: true, maxSockets: opts.concurrency, maxFreeSockets: opts.concurrency, scheduling: 'lifo' as const };
  const agent = secure
    ? new https.Agent({ ...agentOptions, ...(caBundle ? { ca: [...rootCertificates, readFileSync(caBundle, 'utf8')] } : {}) })
    : new http.Agent(agentOptions);
  const request = secure ? https.request : http.request;
  const basePath = base.pathname.replace(/\/$/, '');
  const signer = await client.config.signer();
  const idleMs = s3RequestTimeoutMs(opts.env ?? process.env);

  async function attempt(obj: ObjectRef, tmpPath: string, n: number, signal?: AbortSignal): Promise<{ etag?: string }> {
    // A retry resumes where the last try stopped, pinned to the same version by If-Match.
    const have = n > 1 && obj.size > 0 && obj.etag ? await sizeOnDisk(tmpPath) : 0;
    const offset = have > 0 && have < obj.size ? have : 0;
    const headers: Record<string, string> = { host: base.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' };
    if (offset > 0) {
      headers.range = `bytes=${offset}-`;
      headers['if-match'] = `"${obj.etag}"`;
    }
    const path = `${basePath}/${encodeKey(obj.key)}`;
    const signed = await signer.sign(
      { method: 'GET', protocol: base.protocol, hostname: base.hostname, port: base.port ? Number(base.port) : undefined, path, query: {}, headers },
      { signingRegion: region, signingService: 's3' },
    );
    const uri = s3Uri(bucket, obj.key);
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = request({ agent, protocol: base.protocol, hostname: base.hostname, port: base.port || undefined, path, method: 'GET', headers: signed.headers, signal });
      req.setTimeout(idleMs, () => req.destroy(new TransientError(`${uri}: no data for ${idleMs / 1000} s`)));
      req.on('response', resolve);
      req.on('error', reject);
      req.end();
    });
    const status = res.statusCode ?? 0;
    if (status !== 200 && status !== 206) {
      res.resume();
      if (status === 404) throw new DataUnavailableError(`${uri}: object disappeared during download (HTTP 404)`);
      if (status === 403) throw new DataUnavailableError(`${uri}: access denied (HTTP 403)`);
      if (status === 412 || status === 416) {
        // The object changed, or the partial file is stale: start over from byte 0.
        await truncateTo0(tmpPath);
        throw new TransientError(`${uri}: HTTP ${status} on resume`);
      }
      if (status >= 500 || status === 429) throw new TransientError(`${uri}: HTTP ${status}`);
      throw new DataUnavailableError(`${uri}: HTTP ${status}`);
    }
    let start = 0;
    if (status === 206) {
      const m = /^bytes (\d+)-\d+\/(\d+)$/.exec(String(res.headers['content-range'] ?? ''));
      start = m ? Number(m[1]) : -1;
      if (start !== offset || Number(m?.[2]) !== obj.size) {
        res.resume();
        await truncateTo0(tmpPath);
        throw new TransientError(`${uri}: unexpected Content-Range ${String(res.headers['content-range'])}`);
      }
    }
    const etag = etagOf(res.headers.etag);
    const expected = obj.size - start;
    const length = Number(res.headers['content-length'] ?? expected);
    if (length !== expected) {
      res.resume();
      throw new TransientError(`${uri}: Content-Length ${length}, expected ${expected} from the listing`);
    }
    let received: number;
    try {
      received = await writeBody(res, tmpPath, start);
    } catch (err) {
      throw new TransientError(`${uri}: body cut short (${(err as Error).message})`, { cause: err });
    }
    if (received !== expected) throw new TransientError(`${uri}: body cut short after ${received} of ${expected} bytes`);
    return { etag };
  }

  return {
    fetchToFile(obj, tmpPath, signal) {
      return withRetry((n) => attempt(obj, tmpPath, n, signal), {
        ...opts.retry,
        signal,
        onRetry: (err, n) => opts.onRetry?.(obj.key, err, n),
      });
    },
    close() {
      agent.destroy();
    },
  };
}

const WRITE_BUFFER = 256 * 1024;

/**
 * Streams a body into a file through a bounded buffer: a small object becomes one open, one write and one
 * close (per-file syscalls are most of a small-file download's cost), a large one is written 256 KiB at a time.
 */
async function writeBody(body: AsyncIterable<Buffer>, path: string, start: number): Promise<number> {
  const file = await open(path, start > 0 ? 'r+' : 'w');
  let position = start;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let received = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const data = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    let off = 0;
    while (off < data.length) {
      const { bytesWritten } = await file.write(data, off, data.length - off, position);
      off += bytesWritten;
      position += bytesWritten;
    }
  };
  try {
    for await (const chunk of body) {
      pending.push(chunk);
      pendingBytes += chunk.length;
      received += chunk.length;
      if (pendingBytes >= WRITE_BUFFER) await flush();
    }
    await flush();
  } catch (err) {
    // Keep what did arrive, so the retry can ask for the rest only.
    await flush().catch(() => undefined);
    throw err;
  } finally {
    await file.close();
  }
  return received;
}

async function truncateTo0(path: string): Promise<void> {
  await truncate(path, 0).catch(() => undefined);
}

/** GetObject through the SDK: slower per request, kept as the reference and as a fallback (`S3_DOWNLOAD_ENGINE=sdk`). */
export function createSdkReader(opts: ReaderOptions): ObjectReader {
  const { client, bucket } = opts;
  return {
    fetchToFile(obj, tmpPath, signal) {
      const uri = s3Uri(bucket, obj.key);
      return withRetry(
        async () => {
          let out;
          try {
            out = await client.send(new GetObjectCommand({ Bucket: bucket, Key: obj.key }), { abortSignal: signal });
          } catch (err) {
            const name = (err as { name?: string }).name;
            if (name === 'NoSuchKey' || name === 'NotFound') throw new DataUnavailableError(`${uri}: object disappeared during download`);
            if (name === 'AccessDenied') throw new DataUnavailableError(`${uri}: access denied`);
            throw err;
          }
          if (out.ContentLength !== undefined && out.ContentLength !== obj.size) {
            (out.Body as Readable | undefined)?.resume();
            throw new TransientError(`${uri}: Content-Length ${out.ContentLength}, expected ${obj.size} from the listing`);
          }
          let received: number;
          try {
            received = await writeBody(out.Body as Readable, tmpPath, 0);
          } catch (err) {
            throw new TransientError(`${uri}: body cut short (${(err as Error).message})`, { cause: err });
          }
          if (received !== obj.size) throw new TransientError(`${uri}: body cut short after ${received} of ${obj.size} bytes`);
          return { etag: out.ETag?.replace(/"/g, '') };
        },
        { ...opts.retry, signal, onRetry: (err, n) => opts.onRetry?.(obj.key, err, n) },
      );
    },
    close() {},
  };
}
