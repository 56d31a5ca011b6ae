import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { digestFile } from './digest.js';

const md5 = (b: Buffer) => createHash('md5').update(b).digest();

describe('digestFile', () => {
  let dir: string;
  let bytes: Buffer;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'digest-'));
    // Big enough for the worker thread; not a multiple of the part size or of the read size.
    bytes = randomBytes(17 * 1024 * 1024 + 12345);
    writeFileSync(join(dir, 'ckpt.pt'), bytes);
    writeFileSync(join(dir, 'small.pt'), bytes.subarray(0, 3 * 1024 * 1024 + 7));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("gives the sha256 and S3's multipart ETag of fixed-size parts", async () => {
    const part = 4 * 1024 * 1024;
    const parts = [0, 1, 2, 3, 4].map((i) => md5(bytes.subarray(i * part, (i + 1) * part)));
    expect(await digestFile(join(dir, 'ckpt.pt'), part)).toEqual({
      sha256: createHash('sha256').update(bytes).digest('hex'),
      multipartEtag: `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-5`,
      bytes: bytes.length,
    });
  });

  it('gives the whole-file MD5 for a file below one part, and the sha256 alone without S3', async () => {
    const whole = await digestFile(join(dir, 'ckpt.pt'), 32 * 1024 * 1024);
    expect(whole.md5).toBe(md5(bytes).toString('hex'));
    const local = await digestFile(join(dir, 'ckpt.pt'), Infinity);
    expect(local).toEqual({ sha256: createHash('sha256').update(bytes).digest('hex'), multipartEtag: expect.any(String), bytes: bytes.length });
  });

  it('hashes a small file on the calling thread to the same answers', async () => {
    const small = bytes.subarray(0, 3 * 1024 * 1024 + 7);
    const part = 1024 * 1024;
    const parts = [0, 1, 2, 3].map((i) => md5(small.subarray(i * part, (i + 1) * part)));
    expect(await digestFile(join(dir, 'small.pt'), part)).toEqual({
      sha256: createHash('sha256').update(small).digest('hex'),
      multipartEtag: `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-4`,
      bytes: small.length,
    });
    expect((await digestFile(join(dir, 'small.pt'), 8 * part)).md5).toBe(md5(small).toString('hex'));
  });

  it('rejects with the reason for a file it cannot read', async () => {
    await expect(digestFile(join(dir, 'missing.pt'), Infinity)).rejects.toThrow(/ENOENT.*missing\.pt/);
  });
});
