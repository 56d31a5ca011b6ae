import { closeSync, constants, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The label files of a conversion, one per planned image, written in plan order by the main thread.
 *
 * Creating a file is what costs on ext4 (a directory entry and an inode: 23 µs each on a quiet disk here,
 * over 300 µs when the shared disk is busy), while writing into a file that exists costs about 10 µs. The
 * paths are known before a single annotation is read, so a helper thread creates the files empty while the
 * main thread parses, on the other core. The helper works from the last file backwards and the main thread
 * writes from the first forwards; each file is claimed with one compare-and-swap, so when the helper is slow
 * they meet in the middle and the rest is created from two threads, and no file is ever created twice.
 */

/** Per-file claim states, in a shared Int32Array. */
const FREE = 0;
const HELPER_CREATING = 1;
const MAIN = 2;
const CREATED = 3;

// CommonJS source, evaluated by the Worker: no separate file to resolve once the library is bundled.
const HELPER = `
const { workerData } = require('node:worker_threads');
const { closeSync, mkdirSync, openSync } = require('node:fs');
const { dirname } = require('node:path');
const { paths, state, stop } = workerData;
const made = new Set();
for (let k = paths.length - 1; k >= 0; k--) {
  if (Atomics.load(stop, 0) !== 0) break;
  if (Atomics.compareExchange(state, k, ${FREE}, ${HELPER_CREATING}) !== ${FREE}) break;
  try {
    const dir = dirname(paths[k]);
    if (!made.has(dir)) { mkdirSync(dir, { recursive: true }); made.add(dir); }
    closeSync(openSync(paths[k], 'w'));
    Atomics.store(state, k, ${CREATED});
    Atomics.notify(state, k);
  } catch {
    // The main thread creates this file itself and reports whatever the error is.
    Atomics.store(state, k, ${FREE});
    Atomics.notify(state, k);
    break;
  }
}
`;

export class LabelFiles {
  private readonly state?: Int32Array;
  private readonly stop?: Int32Array;
  private readonly helper?: Worker;
  private readonly helperDone?: Promise<void>;
  private readonly made = new Set<string>();
  /** Main-thread time spent on label files, for the report. */
  writeMs = 0;

  constructor(
    private readonly paths: readonly string[],
    withHelper: boolean,
  ) {
    if (!withHelper || paths.length === 0) return;
    this.state = new Int32Array(new SharedArrayBuffer(paths.length * 4));
    this.stop = new Int32Array(new SharedArrayBuffer(4));
    const helper = new Worker(HELPER, { eval: true, workerData: { paths, state: this.state, stop: this.stop } });
    this.helper = helper;
    // The helper's own failures only mean the main thread creates more files itself.
    this.helperDone = new Promise<void>((resolve) => {
      helper.once('exit', () => resolve());
      helper.once('error', () => undefined);
    });
  }

  /** Writes file k (in plan order): into the helper's empty file when it made one, else creating it here. */
  write(k: number, bytes: Uint8Array): void {
    const t0 = performance.now();
    try {
      const state = this.state;
      let was = FREE;
      if (state) {
        was = Atomics.compareExchange(state, k, FREE, MAIN);
        while (was === HELPER_CREATING) {
          Atomics.wait(state, k, HELPER_CREATING);
          was = Atomics.compareExchange(state, k, FREE, MAIN);
        }
      }
      if (was === CREATED) {
        if (bytes.length === 0) return;
        let fd: number;
        try {
          fd = openSync(this.paths[k]!, constants.O_WRONLY);
        } catch {
          // Gone since (someone cleaned up under us): create it after all.
          this.create(k, bytes);
          return;
        }
        writeAll(fd, bytes);
        return;
      }
      this.create(k, bytes);
    } finally {
      this.writeMs += performance.now() - t0;
    }
  }

  private create(k: number, bytes: Uint8Array): void {
    const path = this.paths[k]!;
    const dir = dirname(path);
    if (!this.made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.made.add(dir);
    }
    writeAll(openSync(path, 'w'), bytes);
  }

  /** Stops the helper and waits for it: it must not create files after the conversion ends or fails. */
  async close(): Promise<void> {
    if (!this.helper) return;
    Atomics.store(this.stop!, 0, 1);
    await this.helperDone;
  }

  /** How many files the helper created, for the report. */
  helperCreated(): number {
    if (!this.state) return 0;
    let n = 0;
    for (let k = 0; k < this.state.length; k++) if (this.state[k] === CREATED) n++;
    return n;
  }
}

function writeAll(fd: number, bytes: Uint8Array): void {
  try {
    for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
  } finally {
    closeSync(fd);
  }
}
