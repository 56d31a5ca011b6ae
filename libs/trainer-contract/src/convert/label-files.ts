import { closeSync, constants, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { Worker } from 'node:worker_threads';

/**
 * The label files of a conversion, one per planned image, in plan order.
 *
 * Creating a file is what costs on ext4 (a directory entry and an inode: 23 µs each on a quiet disk here,
 * over 300 µs when the shared disk is busy), while writing into a file that exists costs about 10 µs. The
 * paths are known before a single annotation is read, so a helper thread works in two phases:
 *
 * 1. While the main thread parses annotations, it creates the files empty, from the last one backwards.
 * 2. While the main thread groups the lines by image, it writes the files whose bytes are ready.
 *
 * The main thread copies each file's bytes into shared memory and publishes it; both threads claim files to
 * write from one counter, and the main thread joins in once it has published everything (or the buffer is
 * full). Creation is claimed per file with a compare-and-swap, so when phase 1 is slow the two threads meet in
 * the middle and nothing is created twice.
 */

/** Per-file creation states, in a shared Int32Array. */
const FREE = 0;
const HELPER_CREATING = 1;
/** 2: claimed by a writer (spelled out in writeEntry). */
const CREATED = 3;

/** Slots of the shared control array. */
const STOP = 0;
const PUBLISHED = 1;
const NEXT = 2;
const DONE = 3;
const FINISHED = 4;
const FAILED = 5;
/** Set by the helper however it ends, so the main thread never waits on it after that. */
const GONE = 6;
/** 1 + the file the helper is writing in phase 2, so one it could not finish is retried. */
const CURRENT = 7;

interface Io {
  closeSync: typeof closeSync;
  mkdirSync: typeof mkdirSync;
  openSync: typeof openSync;
  writeSync: typeof writeSync;
  dirname: typeof dirname;
  O_WRONLY: number;
}

/**
 * Writes entry k's bytes: into the empty file made in phase 1, else creating it. Both threads run this very
 * function (the helper gets its source text), so it may use nothing but its parameters and globals.
 */
function writeEntry(k: number, path: string, bytes: Uint8Array, state: Int32Array | undefined, ctl: Int32Array | undefined, made: Set<string>, io: Io): void {
  // 0 FREE, 1 HELPER_CREATING, 2 claimed by a writer, 3 CREATED; ctl[6] is GONE: spelled out for the reason above.
  let was = state ? Atomics.compareExchange(state, k, 0, 2) : 0;
  while (was === 1) {
    Atomics.wait(state!, k, 1, 20);
    // A helper that died mid-creation leaves the file to us.
    if (ctl && Atomics.load(ctl, 6) !== 0) Atomics.compareExchange(state!, k, 1, 0);
    was = Atomics.compareExchange(state!, k, 0, 2);
  }
  let fd = -1;
  if (was === 3) {
    if (bytes.length === 0) return;
    try {
      fd = io.openSync(path, io.O_WRONLY);
    } catch {
      // Gone since (someone cleaned up under us): created below after all.
    }
  }
  if (fd < 0) {
    const dir = io.dirname(path);
    if (!made.has(dir)) {
      io.mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    fd = io.openSync(path, 'w');
  }
  try {
    for (let off = 0; off < bytes.length; ) off += io.writeSync(fd, bytes, off, bytes.length - off);
  } finally {
    io.closeSync(fd);
  }
}

// CommonJS source, evaluated by the Worker: no separate file to resolve once the library is bundled.
const HELPER = `
const { workerData } = require('node:worker_threads');
const fs = require('node:fs');
const { dirname } = require('node:path');
const { paths, state, ctl, off, len, content } = workerData;
const FREE = ${FREE}, HELPER_CREATING = ${HELPER_CREATING}, CREATED = ${CREATED};
const STOP = ${STOP}, PUBLISHED = ${PUBLISHED}, NEXT = ${NEXT}, DONE = ${DONE}, FINISHED = ${FINISHED}, FAILED = ${FAILED}, GONE = ${GONE}, CURRENT = ${CURRENT};
const io = { closeSync: fs.closeSync, mkdirSync: fs.mkdirSync, openSync: fs.openSync, writeSync: fs.writeSync, dirname, O_WRONLY: fs.constants.O_WRONLY };
const writeEntry = ${writeEntry.toString()};
const made = new Set();
try {
  // Phase 1: empty files, last first, until the main thread has claimed the next one.
  for (let k = paths.length - 1; k >= 0; k--) {
    if (Atomics.load(ctl, STOP) !== 0) break;
    if (Atomics.compareExchange(state, k, FREE, HELPER_CREATING) !== FREE) break;
    try {
      const dir = dirname(paths[k]);
      if (!made.has(dir)) { fs.mkdirSync(dir, { recursive: true }); made.add(dir); }
      fs.closeSync(fs.openSync(paths[k], 'w'));
      Atomics.store(state, k, CREATED);
    } catch {
      // The main thread creates this file itself and reports whatever the error is.
      Atomics.store(state, k, FREE);
      Atomics.notify(state, k);
      break;
    }
    Atomics.notify(state, k);
  }
  // Phase 2: write published files, claimed one at a time.
  while (Atomics.load(ctl, STOP) === 0) {
    const n = Atomics.load(ctl, NEXT);
    const p = Atomics.load(ctl, PUBLISHED);
    if (n < p) {
      if (Atomics.compareExchange(ctl, NEXT, n, n + 1) !== n) continue;
      Atomics.store(ctl, CURRENT, n + 1);
      writeEntry(n, paths[n], content.subarray(off[n], off[n] + len[n]), state, ctl, made, io);
      Atomics.store(ctl, CURRENT, 0);
      Atomics.add(ctl, DONE, 1);
      Atomics.notify(ctl, DONE);
      continue;
    }
    if (Atomics.load(ctl, FINISHED) !== 0 && n >= paths.length) break;
    Atomics.wait(ctl, PUBLISHED, p, 20);
  }
} finally {
  // However this ends (a write error included), a file claimed and not written goes back to the main thread,
  // which retries it and reports the real error.
  const current = Atomics.exchange(ctl, CURRENT, 0);
  if (current !== 0) {
    Atomics.store(ctl, FAILED, current);
    Atomics.add(ctl, DONE, 1);
  }
  Atomics.store(ctl, GONE, 1);
  Atomics.notify(ctl, DONE);
  Atomics.notify(state, 0);
}
`;

const IO: Io = { closeSync, mkdirSync, openSync, writeSync, dirname, O_WRONLY: constants.O_WRONLY };

export class LabelFiles {
  private readonly state?: Int32Array;
  private readonly ctl?: Int32Array;
  private readonly off?: Float64Array;
  private readonly len?: Int32Array;
  private readonly content?: Uint8Array;
  private readonly helper?: Worker;
  private readonly helperDone?: Promise<void>;
  private readonly made = new Set<string>();
  private wpos = 0;
  /** Main-thread time spent on label files, for the report. */
  writeMs = 0;

  /** `bufferBytes`: shared room for bytes waiting to be written (the caller's estimate of the total, capped). */
  constructor(
    private readonly paths: readonly string[],
    withHelper: boolean,
    bufferBytes = 32 << 20,
  ) {
    if (!withHelper || paths.length === 0) return;
    const shared = <T>(make: (b: SharedArrayBuffer) => T, bytes: number): T => make(new SharedArrayBuffer(bytes));
    this.state = shared((b) => new Int32Array(b), paths.length * 4);
    this.ctl = shared((b) => new Int32Array(b), 8 * 4);
    this.off = shared((b) => new Float64Array(b), paths.length * 8);
    this.len = shared((b) => new Int32Array(b), paths.length * 4);
    this.content = shared((b) => new Uint8Array(b), Math.max(1 << 16, bufferBytes));
    const helper = new Worker(HELPER, {
      eval: true,
      workerData: { paths, state: this.state, ctl: this.ctl, off: this.off, len: this.len, content: this.content },
    });
    this.helper = helper;
    // The helper's own failures only mean the main thread writes more files itself.
    this.helperDone = new Promise<void>((resolve) => {
      helper.once('exit', () => resolve());
      helper.once('error', () => undefined);
    });
  }

  /** Hands over file k's bytes (k in plan order, each once); they may be written later, by either thread. */
  write(k: number, bytes: Uint8Array): void {
    const t0 = performance.now();
    try {
      const ctl = this.ctl;
      if (!ctl) {
        writeEntry(k, this.paths[k]!, bytes, undefined, undefined, this.made, IO);
        return;
      }
      const content = this.content!;
      if (this.wpos + bytes.length > content.length) {
        this.helpUntilWritten();
        this.wpos = 0;
        if (bytes.length > content.length) {
          // Bigger than the whole buffer: written here, with the counters moved past it first so the helper,
          // which only claims below PUBLISHED, never sees it.
          Atomics.store(ctl, NEXT, k + 1);
          writeEntry(k, this.paths[k]!, bytes, this.state, ctl, this.made, IO);
          Atomics.add(ctl, DONE, 1);
          Atomics.store(ctl, PUBLISHED, k + 1);
          return;
        }
      }
      content.set(bytes, this.wpos);
      this.off![k] = this.wpos;
      this.len![k] = bytes.length;
      this.wpos += bytes.length;
      Atomics.store(ctl, PUBLISHED, k + 1);
      Atomics.notify(ctl, PUBLISHED);
    } finally {
      this.writeMs += performance.now() - t0;
    }
  }

  /** Writes what is still pending, together with the helper, and stops it. Throws the first write error. */
  async finish(): Promise<void> {
    const t0 = performance.now();
    try {
      if (this.ctl) {
        Atomics.store(this.ctl, FINISHED, 1);
        Atomics.notify(this.ctl, PUBLISHED);
        this.helpUntilWritten();
      }
    } finally {
      this.writeMs += performance.now() - t0;
      await this.close();
    }
  }

  /** Claims and writes published files until every one of them is written, then retries a helper failure. */
  private helpUntilWritten(): void {
    const ctl = this.ctl!;
    const published = Atomics.load(ctl, PUBLISHED);
    for (;;) {
      const n = Atomics.load(ctl, NEXT);
      if (n >= published) break;
      if (Atomics.compareExchange(ctl, NEXT, n, n + 1) !== n) continue;
      this.writeShared(n);
      Atomics.add(ctl, DONE, 1);
    }
    // The helper counts a file it could not finish as done too (and flags it), so this wait always ends.
    for (let d = Atomics.load(ctl, DONE); d < published; d = Atomics.load(ctl, DONE)) Atomics.wait(ctl, DONE, d, 20);
    const failed = Atomics.exchange(ctl, FAILED, 0);
    if (failed > 0) this.writeShared(failed - 1);
  }

  private writeShared(k: number): void {
    const off = this.off![k]!;
    writeEntry(k, this.paths[k]!, this.content!.subarray(off, off + this.len![k]!), this.state, this.ctl, this.made, IO);
  }

  /** Stops the helper and waits for it: it must not touch files after the conversion ends or fails. */
  async close(): Promise<void> {
    if (!this.helper) return;
    Atomics.store(this.ctl!, STOP, 1);
    Atomics.notify(this.ctl!, PUBLISHED);
    await this.helperDone;
  }

  /** How many files the helper created in phase 1 (for tests). */
  helperCreated(): number {
    if (!this.state) return 0;
    let n = 0;
    for (let k = 0; k < this.state.length; k++) if (Atomics.load(this.state, k) === CREATED) n++;
    return n;
  }
}
