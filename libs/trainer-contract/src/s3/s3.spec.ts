import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Writable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client, type S3Client as S3ClientType } from '@aws-sdk/client-s3';
import { createLogger, type Logger } from '../log/index.js';
import { startFaultProxy, startHostileListingProxy, startS3Server, type S3TestServer } from '../testing/s3-server.js';
import { createCheckpointStore, createS3Client, stageDataset } from './index.js';
import { CheckpointUploadError, ConfigError, DataError, DataUnavailableError } from '../errors/index.js';

const BUCKET = 'data';

function quietLogger(lines: string[] = []): Logger {
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split('\n').filter(Boolean));
      done();
    },
  });
  return createLogger({ level: 'info', stream, pretty: false });
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1)).sort();
}

let server: S3TestServer;
let client: S3ClientType;
let work: string;

async function deleteKey(key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: key }));
}

async function put(key: string, body: string | Buffer): Promise<void> {
  await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
}

async function putMany(entries: Array<[string, string | Buffer]>, concurrency = 16): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (i < entries.length) {
        const [k, b] = entries[i++]!;
        await put(k, b);
      }
    }),
  );
}

function body(i: number, size: number): Buffer {
  const b = Buffer.alloc(size);
  for (let j = 0; j < size; j += 4) b.writeUInt32LE((i * 2654435761 + j) >>> 0, Math.min(j, size - 4));
  return b;
}

beforeAll(async () => {
  server = await startS3Server({ buckets: [BUCKET, 'checkpoints-bucket'] });
  client = createS3Client(server.env);
  work = await mkdtemp(join(tmpdir(), 's3-spec-'));
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
  if (work) await rm(work, { recursive: true, force: true });
});

describe('stageDataset from an S3 prefix', () => {
  it('pages through more than 1000 keys (plain names: s3rver mis-orders names sharing a stem)', async () => {
    const entries: Array<[string, string]> = Array.from({ length: 1205 }, (_, i) => [`many/f${String(i).padStart(5, '0')}.txt`, `file ${i}\n`]);
    await putMany(entries);
    const workDir = join(work, 'many');
    const out = await stageDataset(`s3://${BUCKET}/many/`, { workDir, env: server.env, logger: quietLogger() });
    expect(out).toMatchObject({ files: 1205, downloaded: 1205, skipped: 0 });
    const names = await filesUnder(out.dir);
    expect(names).toHaveLength(1205);
    expect(await readFile(join(out.dir, 'f01204.txt'), 'utf8')).toBe('file 1204\n');
    expect(out.dir.startsWith(workDir)).toBe(true);
  });

  it('mirrors nested prefixes, unicode and spaces byte-exact, with or without the trailing slash', async () => {
    const objects: Array<[string, Buffer]> = [
      ['nested/top.txt', Buffer.from('top')],
      ['nested/a/b/c/deep.bin', body(1, 70_000)],
      ['nested/ünïcödé/ファイル 1.jpg', body(2, 1234)],
      ['nested/with space/a+b (1)~.png', body(3, 99)],
      ['nested/empty.txt', Buffer.alloc(0)],
    ];
    await putMany(objects);
    for (const uri of [`s3://${BUCKET}/nested/`, `s3://${BUCKET}/nested`]) {
      const out = await stageDataset(uri, { workDir: join(work, 'nested'), env: server.env, logger: quietLogger(), concurrency: 3 });
      expect(out.files).toBe(objects.length);
      for (const [key, data] of objects) {
        expect(await readFile(join(out.dir, key.slice('nested/'.length)))).toEqual(data);
      }
    }
    const sub = await stageDataset(`s3://${BUCKET}/nested/a/`, { workDir: join(work, 'nested'), env: server.env, logger: quietLogger() });
    expect(await filesUnder(sub.dir)).toEqual(['b/c/deep.bin']);
  });

  it('downloads nothing on a rerun, and only what changed or went missing after that', async () => {
    await putMany(Array.from({ length: 40 }, (_, i) => [`rerun/img${i}.jpg`, body(i, 5000 + i)] as [string, Buffer]));
    const workDir = join(work, 'rerun');
    const lines: string[] = [];
    const first = await stageDataset(`s3://${BUCKET}/rerun/`, { workDir, env: server.env, logger: quietLogger(lines) });
    expect(first).toMatchObject({ files: 40, downloaded: 40, skipped: 0 });
    const second = await stageDataset(`s3://${BUCKET}/rerun/`, { workDir, env: server.env, logger: quietLogger() });
    expect(second).toMatchObject({ dir: first.dir, files: 40, downloaded: 0, skipped: 40 });

    await put('rerun/img3.jpg', Buffer.from('changed'));
    await unlink(join(first.dir, 'img7.jpg'));
    const third = await stageDataset(`s3://${BUCKET}/rerun/`, { workDir, env: server.env, logger: quietLogger() });
    expect(third).toMatchObject({ downloaded: 2, skipped: 38 });
    expect(await readFile(join(first.dir, 'img3.jpg'), 'utf8')).toBe('changed');
    expect(await readFile(join(first.dir, 'img7.jpg'))).toEqual(body(7, 5007));
    // No temp files left beside the dataset.
    expect(await filesUnder(first.dir)).toHaveLength(40);
    // An object deleted from the prefix is deleted locally too (with what the framework left beside it).
    await deleteKey('rerun/img5.jpg');
    await writeFile(join(first.dir, 'labels.cache'), 'left by a training run');
    const fourth = await stageDataset(`s3://${BUCKET}/rerun/`, { workDir, env: server.env, logger: quietLogger() });
    expect(fourth).toMatchObject({ files: 39, downloaded: 0, skipped: 39, removed: 2 });
    expect(await filesUnder(first.dir)).toHaveLength(39);
    expect(existsSync(join(first.dir, 'img5.jpg'))).toBe(false);
    // Progress lines are JSON with the progress object the pretty logger draws as a bar.
    const progress = lines.map((l) => JSON.parse(l) as { progress?: { done: number; total: number; unit: string } }).filter((r) => r.progress);
    expect(progress.at(-1)?.progress).toMatchObject({ done: 40, total: 40, unit: 'files' });
  });

  it('completes byte-exact through 500s, 503 SlowDowns and connections reset mid-body', async () => {
    const objects = Array.from({ length: 150 }, (_, i) => [`faulty/${i}.bin`, body(i, i % 10 === 0 ? 400_000 : 20_000 + i)] as [string, Buffer]);
    await putMany(objects);
    const proxy = await startFaultProxy({ target: server.endpoint, rate: 0.35, seed: 7 });
    try {
      const lines: string[] = [];
      for (const engine of ['http', 'sdk'] as const) {
        const out = await stageDataset(`s3://${BUCKET}/faulty/`, {
          workDir: join(work, `faulty-${engine}`),
          env: { ...server.env, S3_ENDPOINT: proxy.endpoint },
          logger: quietLogger(lines),
          concurrency: 8,
          engine,
        });
        expect(out).toMatchObject({ files: 150, downloaded: 150 });
        for (const [key, data] of objects) {
          const got = await readFile(join(out.dir, key.slice('faulty/'.length)));
          expect(got.equals(data)).toBe(true);
        }
      }
      expect(proxy.stats.faults['500']).toBeGreaterThan(0);
      expect(proxy.stats.faults['503']).toBeGreaterThan(0);
      expect(proxy.stats.faults.reset).toBeGreaterThan(0);
      // Which requests the proxy cuts depends on request order under concurrency, so whether a cut lands
      // mid-body of an object large enough to be resumed varies by run; byte-exactness above is the invariant.
      expect(lines.some((l) => l.includes('retrying'))).toBe(true);
    } finally {
      await proxy.close();
    }
  });

  it('refuses a listing with a ../ key before writing anything, naming the key', async () => {
    await putMany([['hostile/ok.txt', 'ok']]);
    const proxy = await startHostileListingProxy({
      target: server.endpoint,
      bucket: BUCKET,
      inject: [
        { key: 'hostile/../../escape.txt', body: 'pwned' },
        { key: 'hostile/a\\..\\..\\win.txt', body: 'pwned' },
      ],
    });
    const workDir = join(work, 'hostile', 'wd');
    try {
      const err = await stageDataset(`s3://${BUCKET}/hostile/`, { workDir, env: { ...server.env, S3_ENDPOINT: proxy.endpoint }, logger: quietLogger() }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      const e = err as DataError;
      expect(e.exitCode).toBe(3);
      expect(e.problems).toHaveLength(2);
      expect(e.problems[0]).toBe(`s3://${BUCKET}/hostile/: refusing object key "hostile/../../escape.txt" (parent directory reference)`);
      expect(e.problems[1]).toContain('backslash');
      expect(proxy.injectedGets).toEqual([]);
      expect(existsSync(join(work, 'escape.txt'))).toBe(false);
      expect(existsSync(join(work, 'hostile', 'escape.txt'))).toBe(false);
      expect(existsSync(join(workDir, 'datasets'))).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it('reports missing data as DATA_UNAVAILABLE and bad URIs as config errors', async () => {
    const logger = quietLogger();
    const workDir = join(work, 'missing');
    await expect(stageDataset(`s3://${BUCKET}/no-such-prefix/`, { workDir, env: server.env, logger })).rejects.toThrow(
      new DataUnavailableError(`s3://${BUCKET}/no-such-prefix/: no objects under this prefix`),
    );
    const noBucket = await stageDataset('s3://no-such-bucket/x/', { workDir, env: server.env, logger }).catch((e: unknown) => e);
    expect(noBucket).toBeInstanceOf(DataUnavailableError);
    expect((noBucket as Error).message).toBe('s3://no-such-bucket/x/: bucket does not exist');
    const noArchive = await stageDataset(`s3://${BUCKET}/nope.zip`, { workDir, env: server.env, logger }).catch((e: unknown) => e);
    expect(noArchive).toBeInstanceOf(DataUnavailableError);
    await expect(stageDataset('s3://bucket-only/', { workDir, env: server.env, logger })).rejects.toBeInstanceOf(ConfigError);
    await expect(stageDataset('gs://b/p/', { workDir, env: server.env, logger })).rejects.toThrow('unknown scheme "gs:"');
    expect(existsSync(join(workDir, 'datasets'))).toBe(false);
  });

  it('honours AWS_ENDPOINT_URL_S3 as well as S3_ENDPOINT', async () => {
    await putMany([['awsenv/x.txt', 'x']]);
    const { S3_ENDPOINT: endpoint, ...rest } = server.env;
    const out = await stageDataset(`s3://${BUCKET}/awsenv/`, { workDir: join(work, 'awsenv'), env: { ...rest, AWS_ENDPOINT_URL_S3: endpoint }, logger: quietLogger() });
    expect(await readFile(join(out.dir, 'x.txt'), 'utf8')).toBe('x');
  });
});

describe('uploads are byte-exact on a MinIO-style server', () => {
  const payload = body(42, 300_000);
  const streamBody = () => Readable.from([payload.subarray(0, 100_000), payload.subarray(100_000)]);

  it('stores a stream body exactly with the client createS3Client builds', async () => {
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'exact/stream.bin', Body: streamBody(), ContentLength: payload.length }));
    const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'exact/stream.bin' }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(payload)).toBe(true);
  });

  it('would store it corrupted with the SDK defaults (why the options are set)', async () => {
    const plain = new S3Client({
      region: 'us-east-1',
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
    try {
      await plain.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'exact/default.bin', Body: streamBody(), ContentLength: payload.length }));
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'exact/default.bin' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(bytes.equals(payload)).toBe(false);
      expect(bytes.toString('latin1')).toContain('x-amz-checksum-crc32');
    } finally {
      plain.destroy();
    }
  });
});

describe('CheckpointStore', () => {
  const env = () => ({ ...server.env, S3_BUCKET: 'checkpoints-bucket' });

  it('round-trips a 50 MB file by multipart upload with the sha256 compared', async () => {
    const dir = join(work, 'ckpt');
    const src = join(dir, 'best.pt');
    await (await import('node:fs/promises')).mkdir(dir, { recursive: true });
    const data = Buffer.concat(Array.from({ length: 50 }, (_, i) => body(i, 1024 * 1024)));
    await writeFile(src, data);
    const sha = createHash('sha256').update(data).digest('hex');
    const store = createCheckpointStore({ jobId: '42', env: env(), logger: quietLogger(), partSize: 8 * 1024 * 1024 });
    expect(store.baseUri).toBe('s3://checkpoints-bucket/checkpoints/42/');
    const up = await store.upload(src, 'best.pt');
    expect(up).toEqual({ uri: 's3://checkpoints-bucket/checkpoints/42/best.pt', sha256: sha, bytes: data.length });
    expect(await store.exists('best.pt')).toBe(true);
    expect(await store.exists('last.pt')).toBe(false);
    const dest = join(dir, 'restored', 'best.pt');
    expect(await store.download('best.pt', dest)).toBe(true);
    expect(createHash('sha256').update(await readFile(dest)).digest('hex')).toBe(sha);
    expect(await store.download('last.pt', join(dir, 'restored', 'last.pt'))).toBe(false);
    expect(existsSync(join(dir, 'restored', 'last.pt'))).toBe(false);
    await store.putText('classes.json', '{"0":"cat"}');
    expect(await store.getText('classes.json')).toBe('{"0":"cat"}');
    expect(await store.getText('missing.json')).toBeNull();
  });

  it('fails with CHECKPOINT_UPLOAD_FAILED, never silently, when the upload cannot happen', async () => {
    const src = join(work, 'ckpt-fail.pt');
    await writeFile(src, 'weights');
    const store = createCheckpointStore({ jobId: '7', env: { ...server.env, S3_BUCKET: 'no-such-bucket' }, logger: quietLogger() });
    const err = await store.upload(src, 'best.pt').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointUploadError);
    expect((err as CheckpointUploadError).code).toBe('CHECKPOINT_UPLOAD_FAILED');
    expect((err as Error).message).toMatch(/^s3:\/\/no-such-bucket\/checkpoints\/7\/best\.pt: upload failed \(.*NoSuchBucket/);
    expect((err as Error).message).not.toContain('\n');
  });

  it('notices an upload the server stored differently (ETag against the local MD5)', async () => {
    // A proxy that flips one byte of every PUT body on its way to the server.
    const { createServer, request } = await import('node:http');
    const target = new URL(server.endpoint);
    const proxy = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const payload = Buffer.concat(chunks);
        if (req.method === 'PUT' && payload.length > 0) payload[0] = payload[0]! ^ 0xff;
        const up = request({ hostname: target.hostname, port: target.port, path: req.url, method: req.method, headers: { ...req.headers, host: target.host } }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.end(payload);
      });
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const port = (proxy.address() as { port: number }).port;
    try {
      const src = join(work, 'corrupt.pt');
      await writeFile(src, body(9, 100_000));
      const store = createCheckpointStore({ jobId: '9', env: { ...env(), S3_ENDPOINT: `http://127.0.0.1:${port}` }, logger: quietLogger() });
      const err = await store.upload(src, 'best.pt').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointUploadError);
      expect((err as Error).message).toMatch(/^s3:\/\/checkpoints-bucket\/checkpoints\/9\/best\.pt: upload did not verify \(ETag [0-9a-f]{32} != md5 [0-9a-f]{32}\)$/);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });

  it('writes to a local folder when S3_BUCKET is unset', async () => {
    const localDir = join(work, 'outputs', 'job-1');
    const src = join(work, 'local-best.pt');
    await writeFile(src, 'w');
    const store = createCheckpointStore({ jobId: 'job-1', env: {}, logger: quietLogger(), localDir });
    expect(store.baseUri).toBe(`file://${localDir}/`);
    const up = await store.upload(src, 'best.pt');
    expect(up.uri).toBe(`file://${localDir}/best.pt`);
    expect(await readFile(join(localDir, 'best.pt'), 'utf8')).toBe('w');
    // The saved file outlives the staged one, and a newer checkpoint replaces it without touching the older bytes.
    await rm(src);
    expect(await readFile(join(localDir, 'best.pt'), 'utf8')).toBe('w');
    await writeFile(src, 'w2');
    await store.upload(src, 'best.pt');
    expect(await readFile(join(localDir, 'best.pt'), 'utf8')).toBe('w2');
    await store.upload(src, 'best.pt'); // the same file again: its saved copy is already a link of it
    expect(await readFile(join(localDir, 'best.pt'), 'utf8')).toBe('w2');
    expect((await readdir(localDir)).sort()).toEqual(['best.pt']);
    expect(await store.exists('best.pt')).toBe(true);
    await store.putText('results.csv', 'a,b\n');
    expect(await store.getText('results.csv')).toBe('a,b\n');
    expect(() => store.uriFor('../x')).toThrow(ConfigError);
    expect(() => createCheckpointStore({ jobId: '../x', env: {}, logger: quietLogger() })).toThrow(ConfigError);
  });
});
