import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestFile } from './digest.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

describe('digestFile (in a low-priority worker thread)', () => {
  let dir: string;
  let bytes: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'digest-'));
    // Not a multiple of the part size or of the worker's read size: the last part and read are short.
    bytes = randomBytes(9 * 1024 * 1024 + 12345);
    writeFileSync(join(dir, 'ckpt.pt'), bytes);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the sha256 and S3's multipart ETag of fixed-size parts", async () => {
    const part = 4 * 1024 * 1024;
    const parts = [0, 1, 2].map((i) => md5(bytes.subarray(i * part, (i + 1) * part)));
    expect(await digestFile(join(dir, 'ckpt.pt'), part)).toEqual({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      md5: undefined,
      multipartEtag: `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-3`,
      bytes: bytes.length,
    });
  });

  it('gives the whole-file MD5 for a file below one part, and the sha256 alone without S3', async () => {
    const small = await digestFile(join(dir, 'ckpt.pt'), 16 * 1024 * 1024);
    expect(small.md5).toBe(md5(bytes).toString('hex'));
    const local = await digestFile(join(dir, 'ckpt.pt'), Infinity);
    expect(local).toMatchObject({ sha256: createHash('sha256').update(bytes).digest('hex'), md5: undefined, bytes: bytes.length });
  });

  it('rejects with the reason for a file it cannot read', async () => {
    await expect(digestFile(join(dir, 'missing.pt'), Infinity)).rejects.toThrow(/ENOENT.*missing\.pt/);
  });
});
