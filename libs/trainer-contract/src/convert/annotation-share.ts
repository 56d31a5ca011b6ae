import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ArraySection } from './json-scan.js';
import type { ShareRequest, ShareResult } from './convert-worker.js';

export type { ShareRequest, ShareResult };

/**
 * The worker script: compiled beside this module in the library's dist/, or emitted beside an app's bundle
 * as its own entry point (the bundle's import.meta.url is the bundle). Running from TypeScript sources
 * there is none, and the converter stays on one thread.
 */
export function defaultWorkerScript(): URL | undefined {
  const url = new URL('./convert-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

/**
 * Cuts the batches into consecutive parts whose byte sizes follow `weights`; returns the k+1 boundaries.
 * The main thread takes the first part, so merging the parts in order keeps annotation order.
 */
export function splitBatches(section: ArraySection, weights: readonly number[]): number[] {
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
export class AnnotationShare {
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
