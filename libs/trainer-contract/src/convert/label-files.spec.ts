import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LabelFiles } from './label-files.js';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'label-files-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function plan(count: number): { dir: string; paths: string[]; bytes: Uint8Array[] } {
  const dir = join(root, `case-${n++}`);
  const paths = Array.from({ length: count }, (_, k) => join(dir, String(k % 7), `${k}.txt`));
  // Every fifth file is a background image: empty.
  const bytes = paths.map((_, k) => (k % 5 === 0 ? new Uint8Array(0) : Buffer.from(`${k % 80} 0.5 0.5 0.1 0.1\n`.repeat(1 + (k % 3)))));
  return { dir, paths, bytes };
}

function expectWritten(p: ReturnType<typeof plan>): void {
  let files = 0;
  for (const d of readdirSync(p.dir)) files += readdirSync(join(p.dir, d)).length;
  expect(files).toBe(p.paths.length);
  p.paths.forEach((path, k) => expect(readFileSync(path)).toEqual(Buffer.from(p.bytes[k]!)));
}

describe('LabelFiles', () => {
  it.each([
    ['the main thread alone', false],
    ['a helper thread creating files while the main thread writes', true],
  ])('writes every planned file with its exact bytes, empty ones included: %s', async (_name, helper) => {
    const p = plan(3000);
    const files = new LabelFiles(p.paths, helper);
    // Writing at once races the helper, which starts from the other end: each file is created exactly once.
    p.bytes.forEach((b, k) => files.write(k, b));
    await files.finish();
    expectWritten(p);
  });

  it('writes through a small shared buffer, and a file bigger than the buffer, in order', async () => {
    const p = plan(2000);
    p.bytes[700] = Buffer.from('1 0.25 0.25 0.5 0.5\n'.repeat(5000));
    const files = new LabelFiles(p.paths, true, 4096);
    p.bytes.forEach((b, k) => files.write(k, b));
    await files.finish();
    expectWritten(p);
  });

  it('writes into the files the helper created before the main thread got to them', async () => {
    const p = plan(500);
    const files = new LabelFiles(p.paths, true);
    for (let i = 0; i < 200 && !existsSync(p.paths[0]!); i++) await new Promise((r) => setTimeout(r, 10));
    expect(existsSync(p.paths[0]!)).toBe(true);
    for (let i = 0; i < 200 && files.helperCreated() < 500; i++) await new Promise((r) => setTimeout(r, 10));
    expect(files.helperCreated()).toBe(500);
    p.bytes.forEach((b, k) => files.write(k, b));
    await files.finish();
    expectWritten(p);
  });

  it('reports the real error when a file cannot be created, whichever thread tried first', async () => {
    const dir = join(root, `case-${n++}`);
    mkdirSync(dir);
    writeFileSync(join(dir, 'taken'), 'a file, not a folder');
    const paths = Array.from({ length: 50 }, (_, k) => join(dir, 'taken', `${k}.txt`));
    for (const helper of [false, true]) {
      const files = new LabelFiles(paths, helper);
      const write = async () => {
        paths.forEach((_, k) => files.write(k, Buffer.from('0 0.5 0.5 0.1 0.1\n')));
        await files.finish();
      };
      await expect(write()).rejects.toThrow(/EEXIST|ENOTDIR/);
      await files.close();
    }
    expect(readFileSync(join(dir, 'taken'), 'utf8')).toBe('a file, not a folder');
  });

  it('creates nothing more once closed, even when closed before writing anything', async () => {
    const p = plan(20000);
    const files = new LabelFiles(p.paths, true);
    await files.close();
    const count = () => (existsSync(p.dir) ? readdirSync(p.dir).reduce((s, d) => s + readdirSync(join(p.dir, d)).length, 0) : 0);
    const after = count();
    await new Promise((r) => setTimeout(r, 50));
    expect(count()).toBe(after);
  });
});
