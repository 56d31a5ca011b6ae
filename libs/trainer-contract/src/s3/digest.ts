import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import { stat } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';

export interface FileDigest {
  sha256: string;
  /** The whole-file MD5: S3's ETag for a single PUT (files below one part). */
  md5?: string;
  /** The MD5 of the part MD5s with `-N`: S3's ETag for a multipart upload of fixed-size parts. */
  multipartEtag: string;
  bytes: number;
}

/**
 * Hashing a checkpoint is ~0.2 s of CPU per 100 MB, once an epoch. On the main thread it took that from the
 * framework's CPU threads (the timm bench, a small model on the CPU). Files from this size up are hashed in a worker
 * thread at the lowest priority (nice is per thread on Linux), which gets only what training leaves idle; below it,
 * the worker's own start (~25 ms of CPU, measured) would cost more than the hashing.
 */
const WORKER_FROM_BYTES = 16 * 1024 * 1024;

/**
 * sha256 for the stored checksum, plus the MD5s S3 reports as the ETag (the whole-file MD5 below one part, the
 * multipart ETag above). `partSize` Infinity (no S3 behind) computes the sha256 alone.
 */
export async function digestFile(path: string, partSize: number): Promise<FileDigest> {
  const parts = Number.isFinite(partSize) ? partSize : 0;
  if ((await stat(path)).size < WORKER_FROM_BYTES) return digestSync(path, parts, crypto, fs);
  return new Promise((resolve, reject) => {
    // The function's own source runs in the worker; execArgv [] keeps that code CommonJS whatever the parent runs as.
    const code = `require('node:os').setPriority(19);
      const { parentPort, workerData: w } = require('node:worker_threads');
      parentPort.postMessage((${digestSync.toString()})(w.path, w.partSize, require('node:crypto'), require('node:fs')));`;
    const worker = new Worker(code, { eval: true, execArgv: [], workerData: { path, partSize: parts } });
    let result: FileDigest | undefined;
    worker.once('message', (m: FileDigest) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`digest of ${path} ended without a result (exit ${code})`))));
  });
}

/** Self-contained (it runs in the worker from its source): the modules come in as arguments. `partSize` 0: sha256 only. */
function digestSync(path: string, partSize: number, c: typeof crypto, f: typeof fs): FileDigest {
  const fd = f.openSync(path, 'r');
  try {
    const size = f.fstatSync(fd).size;
    const etags = partSize > 0;
    const sha = c.createHash('sha256');
    const md5 = etags && size < partSize ? c.createHash('md5') : undefined;
    const parts: Buffer[] = [];
    let part = c.createHash('md5');
    let inPart = 0;
    let bytes = 0;
    const buf = Buffer.allocUnsafe(4 << 20);
    for (;;) {
      const n = f.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const chunk = buf.subarray(0, n);
      sha.update(chunk);
      md5?.update(chunk);
      bytes += n;
      if (!etags) continue;
      let offset = 0;
      while (offset < n) {
        const take = Math.min(partSize - inPart, n - offset);
        part.update(chunk.subarray(offset, offset + take));
        inPart += take;
        offset += take;
        if (inPart === partSize) {
          parts.push(part.digest());
          part = c.createHash('md5');
          inPart = 0;
        }
      }
    }
    if (inPart > 0 || parts.length === 0) parts.push(part.digest());
    const multipartEtag = `${c.createHash('md5').update(Buffer.concat(parts)).digest('hex')}-${parts.length}`;
    return { sha256: sha.digest('hex'), ...(md5 ? { md5: md5.digest('hex') } : {}), multipartEtag, bytes };
  } finally {
    f.closeSync(fd);
  }
}
