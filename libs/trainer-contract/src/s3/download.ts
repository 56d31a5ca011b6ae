import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { setMaxListeners } from 'node:events';
import { dirname, join } from 'node:path';
import { InterruptedError } from '../errors/index.js';
import { mapS3Error } from './errors.js';
import type { Manifest } from './manifest.js';
import type { ObjectReader, ObjectRef } from './object-reader.js';
import type { Progress } from './progress.js';

export interface PlannedObject extends ObjectRef {
  /** Where it lands, relative to the destination folder; already checked safe. */
  rel: string;
}

export interface DownloadResult {
  downloaded: number;
  skipped: number;
  bytes: number;
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Fetches `objects` into `destDir` with `concurrency` workers. Each object streams into a temp file under
 * `tmpDir` (same filesystem) and is renamed into place when complete and the right size, so a killed run never
 * leaves a half file under its real name. Objects the manifest says are present with the same size and ETag,
 * and whose file still has that size, are skipped.
 */
export async function downloadObjects(opts: {
  objects: PlannedObject[];
  reader: ObjectReader;
  destDir: string;
  tmpDir: string;
  manifest: Manifest;
  concurrency: number;
  progress?: Progress;
  signal?: AbortSignal;
}): Promise<DownloadResult> {
  const { objects, reader, destDir, tmpDir, manifest } = opts;
  await rm(tmpDir, { recursive: true, force: true });
  await mkdir(tmpDir, { recursive: true });
  const made = new Set<string>([destDir]);
  await mkdir(destDir, { recursive: true });
  const abort = new AbortController();
  const signal = opts.signal ? AbortSignal.any([opts.signal, abort.signal]) : abort.signal;
  // Every in-flight request listens on it.
  setMaxListeners(opts.concurrency + 16, signal);
  let next = 0;
  let downloaded = 0;
  let skipped = 0;
  let bytes = 0;
  let failure: unknown;
  let failedIndex = -1;

  async function one(index: number): Promise<void> {
    const obj = objects[index]!;
    const dest = join(destDir, obj.rel);
    const known = manifest.entries.get(obj.rel);
    if (known && known.size === obj.size && known.etag === obj.etag && (await sizeOf(dest)) === obj.size) {
      skipped++;
      opts.progress?.add(1, obj.size);
      return;
    }
    const dir = dirname(dest);
    if (!made.has(dir)) {
      await mkdir(dir, { recursive: true });
      made.add(dir);
    }
    const tmp = join(tmpDir, String(index));
    const { etag } = await reader.fetchToFile(obj, tmp, signal);
    await rename(tmp, dest);
    manifest.record(obj.rel, { size: obj.size, etag: obj.etag ?? etag });
    downloaded++;
    bytes += obj.size;
    opts.progress?.add(1, obj.size);
  }

  async function worker(): Promise<void> {
    while (failure === undefined && !signal.aborted) {
      const index = next++;
      if (index >= objects.length) return;
      try {
        await one(index);
      } catch (err) {
        if (failure === undefined) {
          failure = err;
          failedIndex = index;
        }
        abort.abort();
      }
    }
  }

  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.concurrency, objects.length)) }, worker));
  await rm(tmpDir, { recursive: true, force: true });
  if (failure !== undefined) {
    const obj = objects[failedIndex];
    throw mapS3Error(failure, obj ? `download of ${obj.rel}` : 'download');
  }
  if (opts.signal?.aborted) throw new InterruptedError();
  return { downloaded, skipped, bytes };
}
