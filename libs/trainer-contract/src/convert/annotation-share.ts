import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DataError } from '../errors/index.js';
import type { AnnotationContext } from './annotation.js';
import { convertBatches, type LookupTables } from './annotation-pass.js';
import type { ShareRequest, ShareResult } from './convert-worker.js';
import { MAX_PROBLEMS } from './dice-load.js';
import type { ArraySection, JsonFile } from './json-scan.js';
import { SpillSink, type LineSink } from './line-sink.js';
import type { ConvertTuning } from './types.js';

/**
 * The worker script: compiled beside this module in the library's dist/, or emitted beside an app's bundle
 * as its own entry point (the bundle's import.meta.url is the bundle). Running from TypeScript sources
 * there is none, and the converter stays on one thread.
 */
function defaultWorkerScript(): URL | undefined {
  const url = new URL('./convert-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

/**
 * Cuts the batches into consecutive parts whose byte sizes follow `weights`; returns the k+1 boundaries.
 * The main thread takes the first part, so merging the parts in order keeps annotation order.
 */
function splitBatches(section: ArraySection, weights: readonly number[]): number[] {
  const total = section.batches.reduce((s, b) => s + (b.end - b.start), 0);
  const sum = weights.reduce((a, b) => a + b, 0);
  const bounds = [0];
  let acc = 0;
  let b = 0;
  let goal = 0;
  for (let part = 0; part < weights.length - 1; part++) {
    goal += (weights[part]! / sum) * total;
    while (b < section.batches.length && acc < goal) {
      acc += section.batches[b]!.end - section.batches[b]!.start;
      b++;
    }
    bounds.push(b);
  }
  bounds.push(section.batches.length);
  return bounds;
}

/** One worker converting batches [fromBatch, toBatch) while the main thread converts others. */
class AnnotationShare {
  private readonly worker: Worker;
  private readonly done: Promise<ShareResult>;

  constructor(script: URL | string, request: ShareRequest) {
    this.worker = new Worker(script, { workerData: { kind: 'dice2yolo-annotation-share', request } });
    this.done = new Promise<ShareResult>((resolve) => {
      this.worker.once('message', (r: ShareResult) => resolve(r));
      // A worker that cannot start or dies is not a data problem: the caller converts its share itself.
      this.worker.once('error', (err) => resolve({ ok: false, dataError: false, problems: [], message: err.message }));
      this.worker.once('exit', (code) => resolve({ ok: false, dataError: false, problems: [], message: `worker exited with code ${code}` }));
    });
  }

  /** The worker's answer; it ends by itself once it has sent it, so nothing waits for its exit. */
  result(): Promise<ShareResult> {
    return this.done;
  }

  async cancel(): Promise<void> {
    await this.worker.terminate();
  }
}

/**
 * Below this many bytes of annotations a worker costs more than it saves: measured on 2 cores, its start-up
 * and JIT warm-up ate the whole gain on a 27 MB file, and it saved 14% on a 61 MB one.
 */
const WORKER_THRESHOLD = 32 << 20;
/** Workers at most: beyond a few, merging and start-up eat the gain. */
const MAX_WORKERS = 4;
/** The main thread's part relative to a worker's: workers start later and share cores with the label-file helper. */
const MAIN_WEIGHT = 1.2;

/**
 * Every annotation of `section` into label lines in `sink`, in annotation order. With enough of them, workers
 * convert later ranges of batches while this thread converts the first; their lines (or, streamed, their bucket
 * files), report groups and problems are merged in range order, so the result is what one thread would produce,
 * and the first bad annotation is the one named. A worker that fails for another reason has its range converted
 * here instead.
 */
export async function convertAnnotations(a: {
  file: JsonFile;
  section: ArraySection;
  lookups: LookupTables;
  ctx: AnnotationContext & { strict: boolean };
  sink: LineSink;
  problems: string[];
  tuning: ConvertTuning;
}): Promise<{ listed: number; threads: number }> {
  const { file, section, lookups, ctx, sink, problems, tuning } = a;
  // Streamed datasets: each part spills into bucket files of its own, read back after the earlier parts'.
  const spill = sink instanceof SpillSink ? sink : undefined;
  const nBatches = section.batches.length;
  const bytes = section.batches.reduce((s, b) => s + (b.end - b.start), 0);
  const script = tuning.workerScript === undefined ? defaultWorkerScript() : tuning.workerScript || undefined;
  const workers = Math.min(tuning.workers ?? Math.min(MAX_WORKERS, availableParallelism() - 1), nBatches - 1);
  let bounds = [0, nBatches];
  const shares: Array<AnnotationShare | undefined> = [];
  if (script && workers >= 1 && bytes >= (tuning.workerThresholdBytes ?? WORKER_THRESHOLD)) {
    bounds = splitBatches(section, [MAIN_WEIGHT, ...Array<number>(workers).fill(1)]);
    for (let w = 1; w < bounds.length - 1; w++) {
      const [fromBatch, toBatch] = [bounds[w]!, bounds[w + 1]!];
      if (toBatch <= fromBatch) continue;
      const part = section.batches.slice(fromBatch, toBatch).reduce((s, b) => s + (b.end - b.start), 0);
      shares[w] = new AnnotationShare(script, {
        path: file.path,
        label: file.label,
        section,
        fromBatch,
        toBatch,
        tables: lookups,
        task: ctx.task,
        kpts: ctx.kpts,
        strict: ctx.strict,
        bytesHint: spill ? 0 : Math.ceil(part * 1.25) + (1 << 16),
        recordsHint: spill ? 0 : Math.ceil((section.count * part) / Math.max(1, bytes)) + 1024,
        spill: spill?.partLayout(w),
      });
    }
  }
  let listed = 0;
  let threads = 1;
  try {
    for (let w = 0; w < bounds.length - 1; w++) {
      const r = shares[w] ? await shares[w]!.result() : undefined;
      shares[w] = undefined;
      if (r?.ok) {
        threads++;
        listed += r.listed;
        if (r.spillDir) spill!.addPart(r.spillDir);
        else if (r.lines) sink.arena.append(r.lines);
        ctx.report.merge(r.report);
        for (const p of r.problems) if (problems.length <= MAX_PROBLEMS) problems.push(p);
      } else if (r?.dataError) {
        throw new DataError(r.problems.length ? r.problems : r.message);
      } else if (spill && w > 0) {
        // A worker's range done here after all: into a part of its own, so the order of parts holds.
        const part = spill.part(w);
        listed += await convertBatches(file, section, bounds[w]!, bounds[w + 1]!, lookups, ctx, part.arena, () => part.maybeFlush(), problems);
        part.closeFiles();
        spill.addPart(part.dir);
      } else {
        // This thread's own range, or (in memory) a worker's that could not be done there.
        listed += await convertBatches(file, section, bounds[w]!, bounds[w + 1]!, lookups, ctx, sink.arena, () => sink.maybeFlush(), problems);
      }
    }
  } catch (err) {
    await Promise.all(shares.filter((sh) => sh !== undefined).map((sh) => sh.cancel()));
    throw err;
  }
  return { listed, threads };
}
