import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { crc32, deflateRawSync, gzipSync } from 'node:zlib';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { create as tarCreate, Header } from 'tar';
import { createLogger } from '../log/index.js';
import { startS3Server, type S3TestServer } from '../testing/s3-server.js';
import { createS3Client, stageDataset } from './index.js';
import { DataError, DataUnavailableError } from '../errors/index.js';

const logger = createLogger({ level: 'silent', stream: new Writable({ write: (_c, _e, d) => d() }), pretty: false });

interface ZipEntry {
  name: string;
  data?: Buffer;
  deflate?: boolean;
  mode?: number;
}

/** A minimal zip writer, so tests can build archives a normal tool refuses to make (`../` names, symlinks). */
function makeZip(entries: ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const stored = e.deflate ? deflateRawSync(data) : data;
    const name = Buffer.from(e.name, 'utf8');
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(e.deflate ? 8 : 0, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((e.mode ?? (e.name.endsWith('/') ? 0o40755 : 0o100644)) << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, stored);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

/** A tar of raw headers, for link entries that `tar` would never pack from a real tree. */
function rawTar(entries: Array<{ path: string; type: 'File' | 'SymbolicLink' | 'Link'; linkpath?: string; data?: Buffer }>): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = e.data ?? Buffer.alloc(0);
    const h = new Header({ path: e.path, type: e.type, linkpath: e.linkpath, size: data.length, mode: 0o644, mtime: new Date(0), uid: 0, gid: 0 });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (data.length) blocks.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  return Buffer.concat(blocks);
}

let work: string;
let server: S3TestServer;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 's3-archive-spec-'));
  server = await startS3Server({ buckets: ['arch'] });
});
afterAll(async () => {
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

async function tree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[join(e.parentPath, e.name).slice(dir.length + 1)] = await readFile(join(e.parentPath, e.name), 'utf8');
  }
  return out;
}

const goodFiles = { 'images/a.jpg': 'AAA', 'images/sub/b.jpg': 'BBBB', 'annotations.json': '{"images":[]}' };

describe('archive datasets', () => {
  it('unpacks a local zip (the single top folder becomes the dataset) and reuses it on a rerun', async () => {
    const zip = join(work, 'ds.zip');
    await writeFile(
      zip,
      makeZip([
        { name: 'ds/' },
        ...Object.entries(goodFiles).map(([name, text]) => ({ name: `ds/${name}`, data: Buffer.from(text), deflate: true })),
        { name: '__MACOSX/._junk', data: Buffer.from('x') },
      ]),
    );
    const workDir = join(work, 'wd-zip');
    const out = await stageDataset(zip, { workDir, logger });
    expect(out.dir.endsWith('/ds')).toBe(true);
    expect(out.dir.startsWith(workDir)).toBe(true);
    expect(out.files).toBe(3);
    expect(await tree(out.dir)).toEqual(goodFiles);
    const again = await stageDataset(`file://${zip}`, { workDir, logger });
    expect(again.dir).not.toBe('');
    expect(await tree(again.dir)).toEqual(goodFiles);
  });

  it('downloads and unpacks zip and tar.gz datasets from S3, fetching each archive once', async () => {
    const src = join(work, 'src-tree');
    for (const [name, text] of Object.entries(goodFiles)) {
      await mkdir(join(src, name, '..'), { recursive: true });
      await writeFile(join(src, name), text);
    }
    const tgz = join(work, 'ds.tar.gz');
    await tarCreate({ gzip: true, file: tgz, cwd: src }, ['.']);
    const client = createS3Client(server.env);
    await client.send(new PutObjectCommand({ Bucket: 'arch', Key: 'sets/ds.tar.gz', Body: await readFile(tgz) }));
    await client.send(
      new PutObjectCommand({
        Bucket: 'arch',
        Key: 'sets/ds.zip',
        Body: makeZip(Object.entries(goodFiles).map(([name, text]) => ({ name, data: Buffer.from(text) }))),
      }),
    );
    client.destroy();
    const workDir = join(work, 'wd-s3');
    for (const uri of ['s3://arch/sets/ds.tar.gz', 's3://arch/sets/ds.zip']) {
      const first = await stageDataset(uri, { workDir, env: server.env, logger });
      expect(first).toMatchObject({ files: 3, downloaded: 1, skipped: 0 });
      expect(await tree(first.dir)).toEqual(goodFiles);
      const second = await stageDataset(uri, { workDir, env: server.env, logger });
      expect(second).toMatchObject({ dir: first.dir, downloaded: 0, skipped: 1 });
    }
  });

  it('refuses a zip-slip archive without writing anything', async () => {
    for (const name of ['../evil.txt', 'ok/../../evil.txt', '/abs/evil.txt', '..\\evil.txt']) {
      const dir = join(work, 'slip', String(Math.random()).slice(2));
      await mkdir(dir, { recursive: true });
      const zip = join(dir, 'slip.zip');
      await writeFile(zip, makeZip([{ name: 'fine.txt', data: Buffer.from('ok') }, { name, data: Buffer.from('pwned') }]));
      const workDir = join(dir, 'wd');
      const err = await stageDataset(zip, { workDir, logger }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as DataError).exitCode).toBe(3);
      expect((err as Error).message).toContain(zip);
      expect((err as Error).message).toMatch(/evil/);
      expect((err as Error).message).not.toContain('\n');
      expect(existsSync(join(dir, 'evil.txt'))).toBe(false);
      expect(existsSync(join(workDir, 'evil.txt'))).toBe(false);
      expect(existsSync(join(workDir, 'datasets'))).toBe(false);
    }
  });

  it('refuses tar links that point outside, and zip symlinks', async () => {
    const cases: Array<[string, Buffer, RegExp]> = [
      ['symlink.tar', rawTar([{ path: 'data/link', type: 'SymbolicLink', linkpath: '../../../etc' }]), /symbolic link "data\/link" -> "..\/..\/..\/etc" points outside/],
      ['abs-symlink.tar', rawTar([{ path: 'link', type: 'SymbolicLink', linkpath: '/etc/passwd' }]), /points outside/],
      ['hardlink.tar.gz', gzipSync(rawTar([{ path: 'h', type: 'Link', linkpath: '../outside.txt' }])), /hard link "h" -> "..\/outside.txt" points outside/],
      ['dotdot.tar', rawTar([{ path: 'a/../../x.txt', type: 'File', data: Buffer.from('x') }]), /unsafe entry "a\/..\/..\/x.txt"/],
      ['link.zip', makeZip([{ name: 'l', data: Buffer.from('/etc/passwd'), mode: 0o120777 }]), /symbolic link entry "l"/],
    ];
    for (const [name, bytes, pattern] of cases) {
      const dir = join(work, 'links', name);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, name), bytes);
      const err = await stageDataset(join(dir, name), { workDir: join(dir, 'wd'), logger }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message).toMatch(pattern);
      expect(existsSync(join(dir, 'wd', 'datasets'))).toBe(false);
    }
  });

  it('keeps links that stay inside the dataset', async () => {
    const src = join(work, 'inside-links');
    await mkdir(join(src, 'imgs'), { recursive: true });
    await writeFile(join(src, 'imgs', 'a.jpg'), 'A');
    await symlink('imgs/a.jpg', join(src, 'alias.jpg'));
    const file = join(work, 'inside-links.tar');
    await tarCreate({ file, cwd: src }, ['imgs', 'alias.jpg']);
    const out = await stageDataset(file, { workDir: join(work, 'wd-inside'), logger });
    expect(await readFile(join(out.dir, 'alias.jpg'), 'utf8')).toBe('A');
  });

  it('stops archive bombs at the file-count and size limits', async () => {
    const zeros = Buffer.alloc(8 * 1024 * 1024);
    const bomb = join(work, 'bomb.zip');
    await writeFile(bomb, makeZip([{ name: 'zeros.bin', data: zeros, deflate: true }]));
    expect((await readFile(bomb)).length).toBeLessThan(100_000);
    const big = await stageDataset(bomb, { workDir: join(work, 'wd-bomb'), logger, maxArchiveBytes: 1024 * 1024 }).catch((e: unknown) => e);
    expect(big).toBeInstanceOf(DataError);
    expect((big as Error).message).toBe(`${bomb}: archive expands to more than 1048576 bytes (limit maxArchiveBytes)`);

    const many = join(work, 'many.tar.gz');
    await writeFile(many, gzipSync(rawTar(Array.from({ length: 50 }, (_, i) => ({ path: `f${i}`, type: 'File' as const, data: Buffer.from('x') })))));
    const count = await stageDataset(many, { workDir: join(work, 'wd-many'), logger, maxArchiveFiles: 20 }).catch((e: unknown) => e);
    expect((count as Error).message).toBe(`${many}: archive holds more than 20 files (limit maxArchiveFiles)`);
    const tgzBomb = join(work, 'bomb.tar.gz');
    await writeFile(tgzBomb, gzipSync(rawTar([{ path: 'zeros.bin', type: 'File', data: zeros }])));
    const tarBig = await stageDataset(tgzBomb, { workDir: join(work, 'wd-tbomb'), logger, maxArchiveBytes: 1024 * 1024 }).catch((e: unknown) => e);
    expect(tarBig).toBeInstanceOf(DataError);
    expect(existsSync(join(work, 'wd-tbomb', 'datasets'))).toBe(false);
  });

  it('uses a local directory in place and reports a missing path as DATA_UNAVAILABLE', async () => {
    const dir = join(work, 'plain-dir');
    await mkdir(join(dir, 'x'), { recursive: true });
    await writeFile(join(dir, 'x', 'y.txt'), 'y');
    const out = await stageDataset(`file://${dir}`, { workDir: join(work, 'wd-dir'), logger });
    expect(out).toEqual({ dir, files: 1, bytes: 1, downloaded: 0, skipped: 0 });
    expect(existsSync(join(work, 'wd-dir'))).toBe(false);
    await expect(stageDataset(join(work, 'absent'), { workDir: join(work, 'wd-dir'), logger })).rejects.toBeInstanceOf(DataUnavailableError);
    const notArchive = join(work, 'notes.txt');
    await writeFile(notArchive, 'x');
    await expect(stageDataset(notArchive, { workDir: join(work, 'wd-dir'), logger })).rejects.toThrow(`${notArchive}: not a directory, nor a .zip, .tar or .tar.gz archive`);
  });
});
