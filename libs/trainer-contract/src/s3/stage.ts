import { createHash } from 'node:crypto';
import { readdir, readFile, rename, rm, stat, writeFile, mkdir } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { DataError, DataUnavailableError } from '../errors/index.js';
import type { Logger } from '../log/index.js';
import { DEFAULT_ARCHIVE_LIMITS, extractArchive, type ArchiveLimits } from './archive.js';
import { downloadObjects, type PlannedObject } from './download.js';
import { createS3Client, s3RequestTimeoutMs } from './env.js';
import { withDeadline } from './idle.js';
import { quoteName, unsafePathReason } from './keys.js';
import { mapS3Error } from './errors.js';
import { listObjects } from './list.js';
import { Manifest } from './manifest.js';
import { createHttpReader, createSdkReader, s3Uri, type ObjectReader, type ReaderEngine } from './object-reader.js';
import { Progress, type ProgressListener } from './progress.js';
import { withRetry } from './retry.js';
import { parseDatasetUri, type ArchiveType } from './uri.js';

export interface StageOptions {
  /** Scratch space (WORK_DIR); downloads and unpacked archives go under it. */
  workDir: string;
  env?: NodeJS.ProcessEnv;
  logger: Logger;
  /** Parallel object downloads (default 32, or S3_DOWNLOAD_CONCURRENCY). */
  concurrency?: number;
  signal?: AbortSignal;
  maxArchiveBytes?: number;
  maxArchiveFiles?: number;
  /** How often progress is logged (default 2000 ms; 0 for only start and end). */
  progressIntervalMs?: number;
  /** `http` (signed GETs, default) or `sdk` (GetObject); also S3_DOWNLOAD_ENGINE. */
  engine?: ReaderEngine;
  /** Called after each object (a cheap call: a listener that reports rate-limits itself). */
  onProgress?: ProgressListener;
}

export interface StageResult {
  /** The local dataset directory. */
  dir: string;
  files: number;
  bytes: number;
  /** Objects fetched by this run (an archive counts as one). */
  downloaded: number;
  /** Objects already present from an earlier run with the same size and ETag. */
  skipped: number;
  /** Local files of an earlier run whose objects are gone from the prefix, removed by this run. */
  removed?: number;
}

const MAX_PROBLEMS = 10;

/** A readable, collision-free folder name for a source: `bucket-prefix-1a2b3c4d`. */
function slugOf(uri: string, hint: string): string {
  const readable = hint.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '').slice(-60) || 'dataset';
  return `${readable}-${createHash('sha256').update(uri).digest('hex').slice(0, 8)}`;
}

function defaultConcurrency(opts: StageOptions): number {
  const fromEnv = Number((opts.env ?? process.env).S3_DOWNLOAD_CONCURRENCY);
  const n = opts.concurrency ?? (Number.isFinite(fromEnv) && fromEnv > 0 ? fromEnv : 32);
  return Math.max(1, Math.min(256, Math.floor(n)));
}

async function createReader(opts: StageOptions, bucket: string, concurrency: number): Promise<{ reader: ObjectReader; client: ReturnType<typeof createS3Client> }> {
  const env = opts.env ?? process.env;
  const client = createS3Client(env);
  const engine = opts.engine ?? (env.S3_DOWNLOAD_ENGINE === 'sdk' ? 'sdk' : 'http');
  const readerOpts = {
    client,
    bucket,
    env,
    concurrency,
    onRetry: (key: string, err: unknown, attempt: number) =>
      opts.logger.warn({ key, attempt, err: (err as Error)?.message }, `retrying ${s3Uri(bucket, key)}`),
  };
  const reader = engine === 'sdk' ? createSdkReader(readerOpts) : await createHttpReader(readerOpts);
  return { reader, client };
}

/**
 * Resolves a dataset URI (CONTRACT §1) to a local directory: an S3 prefix is mirrored under
 * `workDir/datasets/`, an archive (S3 or local) is unpacked there, a local directory is used in place and
 * read-only. Reruns with the same workDir fetch only what changed.
 */
export async function stageDataset(uri: string, opts: StageOptions): Promise<StageResult> {
  const source = parseDatasetUri(uri);
  const workDir = resolve(opts.workDir);
  const limits: ArchiveLimits = {
    maxBytes: opts.maxArchiveBytes ?? DEFAULT_ARCHIVE_LIMITS.maxBytes,
    maxFiles: opts.maxArchiveFiles ?? DEFAULT_ARCHIVE_LIMITS.maxFiles,
  };
  const stagingDir = join(workDir, '.staging');

  if (source.kind === 'local') {
    let info;
    try {
      info = await stat(source.path);
    } catch {
      throw new DataUnavailableError(`${uri}: no such file or directory`);
    }
    if (info.isDirectory()) {
      const { files, bytes } = await countTree(source.path);
      if (files === 0) throw new DataUnavailableError(`${uri}: directory is empty`);
      opts.logger.info({ dir: source.path, files, bytes }, 'using local dataset directory in place');
      return { dir: source.path, files, bytes, downloaded: 0, skipped: 0 };
    }
    if (!source.archive) throw new DataError(`${uri}: not a directory, nor a .zip, .tar or .tar.gz archive`);
    const slug = slugOf(source.path, basename(source.path));
    const version = `${info.size}:${info.mtimeMs}`;
    const out = await unpackOnce(source.path, source.archive, version, slug, uri, workDir, limits, opts.logger);
    return { ...out, downloaded: 0, skipped: 0 };
  }

  const concurrency = defaultConcurrency(opts);
  const { reader, client } = await createReader(opts, source.bucket, concurrency);
  const timeoutMs = s3RequestTimeoutMs(opts.env ?? process.env);
  try {
    if (source.kind === 's3-archive') {
      const head = await withRetry(() => withDeadline(timeoutMs, uri, (abortSignal) => client.send(new HeadObjectCommand({ Bucket: source.bucket, Key: source.key }), { abortSignal }), opts.signal), {
        signal: opts.signal,
        attempts: 5,
      }).catch((err: unknown) => {
        throw mapS3Error(err, uri);
      });
      const size = head.ContentLength ?? 0;
      const etag = head.ETag?.replace(/"/g, '');
      const slug = slugOf(uri, `${source.bucket}-${basename(source.key)}`);
      const archivesDir = join(stagingDir, 'archives');
      const manifest = await Manifest.open(join(stagingDir, `${slug}.manifest.jsonl`));
      const name = `${slug}.${source.archive}`;
      const progress = new Progress(opts.logger, `downloading ${uri}`, 1, size, opts.progressIntervalMs, opts.onProgress);
      let fetched;
      try {
        fetched = await downloadObjects({
          objects: [{ key: source.key, size, etag, rel: name }],
          reader,
          destDir: archivesDir,
          tmpDir: join(stagingDir, `tmp-${slug}`),
          manifest,
          concurrency: 1,
          progress,
          signal: opts.signal,
        });
      } finally {
        progress.stop();
        await manifest.close();
      }
      const out = await unpackOnce(join(archivesDir, name), source.archive, `${size}:${etag}`, slug, uri, workDir, limits, opts.logger);
      return { ...out, downloaded: fetched.downloaded, skipped: fetched.skipped };
    }

    // An S3 prefix.
    const objects = await listObjects(client, source.bucket, source.prefix, { signal: opts.signal, timeoutMs });
    const planned: PlannedObject[] = [];
    const problems: string[] = [];
    const dirs: string[] = [];
    for (const obj of objects) {
      const rel = obj.key.slice(source.prefix.length);
      if (rel === '') continue;
      const reason = unsafePathReason(rel);
      if (reason) {
        problems.push(`${uri}: refusing object key ${quoteName(obj.key)} (${reason})`);
        continue;
      }
      // Zero-byte "folder" markers that consoles create.
      if (rel.endsWith('/')) {
        dirs.push(rel);
        continue;
      }
      planned.push({ ...obj, rel });
    }
    if (problems.length) {
      const shown = problems.slice(0, MAX_PROBLEMS);
      if (problems.length > MAX_PROBLEMS) shown.push(`${uri}: … and ${problems.length - MAX_PROBLEMS} more unsafe keys`);
      throw new DataError(shown);
    }
    if (planned.length === 0) throw new DataUnavailableError(`${uri}: no objects under this prefix`);

    const slug = slugOf(uri, `${source.bucket}-${source.prefix}`);
    const destDir = join(workDir, 'datasets', slug);
    await mkdir(stagingDir, { recursive: true });
    for (const d of dirs) await mkdir(join(destDir, d), { recursive: true });
    const totalBytes = planned.reduce((n, o) => n + o.size, 0);
    const manifest = await Manifest.open(join(stagingDir, `${slug}.manifest.jsonl`));
    const progress = new Progress(opts.logger, `downloading ${uri}`, planned.length, totalBytes, opts.progressIntervalMs, opts.onProgress);
    opts.onProgress?.({ files: 0, totalFiles: planned.length, bytes: 0, totalBytes });
    opts.logger.info({ objects: planned.length, bytes: totalBytes, concurrency }, `staging ${uri}`);
    let result;
    try {
      result = await downloadObjects({
        objects: planned,
        reader,
        destDir,
        tmpDir: join(stagingDir, `tmp-${slug}`),
        manifest,
        concurrency,
        progress,
        signal: opts.signal,
      });
    } finally {
      const { seconds } = progress.stop();
      await manifest.close(new Set(planned.map((p) => p.rel)));
      if (result) {
        progress.log();
        opts.logger.info({ ...result, seconds: Number(seconds.toFixed(2)) }, `staged ${uri}`);
      }
    }
    // An object deleted from the prefix since an earlier run must not linger: in a YOLO-native dataset a stale
    // image or label file would be trained on.
    const removed = await removeStale(destDir, new Set(planned.map((p) => p.rel)));
    if (removed) opts.logger.info({ removed }, `removed ${removed} local files whose objects are gone from ${uri}`);
    return { dir: destDir, files: planned.length, bytes: totalBytes, downloaded: result.downloaded, skipped: result.skipped, removed };
  } finally {
    reader.close();
    client.destroy();
  }
}

interface UnpackMarker {
  version: string;
  files: number;
  bytes: number;
  root: string;
}

/**
 * Unpacks into a temp folder then renames it into place, so a half-unpacked dataset is never taken for a whole
 * one; a marker remembers which archive version it came from, so a rerun skips the work.
 */
async function unpackOnce(
  file: string,
  type: ArchiveType,
  version: string,
  slug: string,
  uri: string,
  workDir: string,
  limits: ArchiveLimits,
  logger: Logger,
): Promise<{ dir: string; files: number; bytes: number }> {
  const destDir = join(workDir, 'datasets', slug);
  const markerPath = join(workDir, '.staging', `${slug}.unpacked.json`);
  try {
    const marker = JSON.parse(await readFile(markerPath, 'utf8')) as UnpackMarker;
    if (marker.version === version && (await stat(join(destDir, marker.root))).isDirectory()) {
      logger.info({ dir: destDir }, `${uri}: already unpacked`);
      return { dir: join(destDir, marker.root), files: marker.files, bytes: marker.bytes };
    }
  } catch {
    // No marker, or a stale one: unpack.
  }
  const tmp = join(workDir, '.staging', `unpack-${slug}`);
  await rm(tmp, { recursive: true, force: true });
  logger.info({ archive: type }, `unpacking ${uri}`);
  let counts;
  try {
    counts = await extractArchive(file, type, tmp, limits, uri);
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  if (counts.files === 0) {
    await rm(tmp, { recursive: true, force: true });
    throw new DataError(`${uri}: archive holds no files`);
  }
  await rm(destDir, { recursive: true, force: true });
  await mkdir(join(workDir, 'datasets'), { recursive: true });
  await rename(tmp, destDir);
  // Archives made with `zip -r data.zip data/` wrap everything in one folder; the dataset is that folder.
  const root = await singleTopFolder(destDir);
  const marker: UnpackMarker = { version, files: counts.files, bytes: counts.bytes, root };
  await writeFile(markerPath, JSON.stringify(marker));
  logger.info({ files: counts.files, bytes: counts.bytes }, `unpacked ${uri}`);
  return { dir: join(destDir, root), files: counts.files, bytes: counts.bytes };
}

async function singleTopFolder(dir: string): Promise<string> {
  const entries = (await readdir(dir, { withFileTypes: true })).filter((e) => e.name !== '__MACOSX');
  return entries.length === 1 && entries[0]!.isDirectory() ? entries[0]!.name : '';
}

async function countTree(dir: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  for (const e of entries) {
    if (!e.isFile()) continue;
    files++;
    bytes += (await stat(join(e.parentPath, e.name))).size;
  }
  return { files, bytes };
}

/** Deletes the files under `dir` (ours alone: WORK_DIR/datasets/<slug>) whose relative path is not in `keep`. */
async function removeStale(dir: string, keep: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  const visit = async (abs: string, prefix: string): Promise<void> => {
    for (const e of await readdir(abs, { withFileTypes: true })) {
      const rel = prefix + e.name;
      if (e.isDirectory()) await visit(join(abs, e.name), rel + '/');
      else if (!keep.has(rel)) {
        await rm(join(abs, e.name), { force: true });
        removed++;
      }
    }
  };
  await visit(dir, '');
  return removed;
}
