import { Worker } from 'node:worker_threads';

export interface FileDigest {
  sha256: string;
  /** The whole-file MD5: S3's ETag for a single PUT (files below one part). */
  md5?: string;
  /** The MD5 of the part MD5s with `-N`: S3's ETag for a multipart upload of fixed-size parts. */
  multipartEtag: string;
  bytes: number;
}

// Hashing a checkpoint is ~0.2 s of CPU per 100 MB, once an epoch. On the main thread it took that from the
// framework's CPU threads, and a CPU epoch of a small model ran 25% slower (the timm bench). In a worker thread at
// the lowest priority (nice is per thread on Linux) it uses only what training leaves idle; it waits, training doesn't.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { closeSync, fstatSync, openSync, readSync } = require('node:fs');
try { require('node:os').setPriority(19); } catch {}
const { path, partSize } = workerData;
const etags = partSize > 0;
const fd = openSync(path, 'r');
try {
  const size = fstatSync(fd).size;
  const sha = createHash('sha256');
  const md5 = etags && size < partSize ? createHash('md5') : undefined;
  const parts = [];
  let part = createHash('md5');
  let inPart = 0;
  let bytes = 0;
  const buf = Buffer.allocUnsafe(4 << 20);
  for (;;) {
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    const chunk = buf.subarray(0, n);
    sha.update(chunk);
    if (md5) md5.update(chunk);
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
        part = createHash('md5');
        inPart = 0;
      }
    }
  }
  if (inPart > 0 || parts.length === 0) parts.push(part.digest());
  const multipartEtag = createHash('md5').update(Buffer.concat(parts)).digest('hex') + '-' + parts.length;
  parentPort.postMessage({ sha256: sha.digest('hex'), md5: md5 ? md5.digest('hex') : undefined, multipartEtag, bytes });
} finally {
  closeSync(fd);
}
`;

/**
 * sha256 for the stored checksum, plus the MD5s S3 reports as the ETag (the whole-file MD5 below one part, the
 * multipart ETag above). `partSize` Infinity (no S3 behind) computes the sha256 alone.
 */
export function digestFile(path: string, partSize: number): Promise<FileDigest> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: { path, partSize: Number.isFinite(partSize) ? partSize : 0 } });
    let result: FileDigest | undefined;
    worker.once('message', (m: FileDigest) => (result = m));
    worker.once('error', reject);
    worker.once('exit', (code) => (result ? resolve(result) : reject(new Error(`digest of ${path} ended without a result (exit ${code})`))));
  });
}
