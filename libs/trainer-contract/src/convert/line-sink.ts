import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { LineArena, groupByImage, type ImageLines } from './arena.js';

export type EmitImage = (image: number, lines: ImageLines | undefined) => Promise<void> | void;

/**
 * Label lines grouped by image. Small datasets keep them in one in-memory arena; big ones append binary
 * records to bucket files by image range and read back one bucket at a time, so memory stays bounded by a
 * bucket whatever the order of the annotations in the JSON.
 */
export interface LineSink {
  readonly arena: LineArena;
  /** Called after each committed line; a spilling sink moves full arenas to disk here. */
  maybeFlush(): void;
  /** Calls `emit` for every image in index order. */
  drain(emit: EmitImage): Promise<void>;
}

export class MemorySink implements LineSink {
  readonly arena: LineArena;
  /**
   * Sized up front from the annotations' share of the JSON: growing by doubling copied 128 MB for a 61 MB
   * polygon file. Label text runs up to about 1.2× its JSON; pages never written are never resident.
   */
  constructor(
    private readonly count: number,
    jsonBytes = 0,
    annotations = 0,
  ) {
    this.arena = new LineArena(Math.max(1 << 20, Math.ceil(jsonBytes * 1.25)), Math.max(1 << 14, annotations));
  }
  maybeFlush(): void {}
  async drain(emit: EmitImage): Promise<void> {
    await groupByImage(this.arena, 0, this.count, emit);
  }
}

const HEADER = 12;

export class SpillSink implements LineSink {
  readonly arena = new LineArena(8 << 20);
  private readonly perBucket: number;
  private readonly buckets: number;
  private readonly fds: (number | undefined)[];
  /** Folders of later parts' bucket files (a worker's, say), read after ours in this order. */
  private readonly parts: string[] = [];

  constructor(
    private readonly count: number,
    private readonly requestedBuckets: number,
    readonly dir: string,
    private readonly flushBytes = 8 << 20,
  ) {
    const n = Math.max(1, Math.min(requestedBuckets, count));
    this.perBucket = Math.max(1, Math.ceil(count / n));
    this.buckets = Math.max(1, Math.ceil(count / this.perBucket));
    this.fds = new Array(this.buckets);
    mkdirSync(dir, { recursive: true });
  }

  maybeFlush(): void {
    if (this.arena.pos >= this.flushBytes) this.flush();
  }

  /** The layout a sink for part `w` must have for its buckets to line up with ours (see addPart). */
  partLayout(w: number): { count: number; buckets: number; dir: string } {
    return { count: this.count, buckets: this.requestedBuckets, dir: join(this.dir, `part-${w}`) };
  }

  /** A sink for part `w`, spilling beside ours. */
  part(w: number): SpillSink {
    const l = this.partLayout(w);
    return new SpillSink(l.count, l.buckets, l.dir, this.flushBytes);
  }

  /** Writes out what is left and closes the bucket files, leaving them for another sink's addPart. */
  closeFiles(): void {
    this.flush();
    for (let b = 0; b < this.buckets; b++) {
      const fd = this.fds[b];
      if (fd !== undefined) closeSync(fd);
      this.fds[b] = undefined;
    }
  }

  /** Adds a later part's bucket files: its lines come after ours (and earlier parts') for every image. */
  addPart(dir: string): void {
    this.parts.push(dir);
  }

  /** Moves the arena's records to their buckets: [image, class, length] as int32 then the line's bytes. */
  private flush(): void {
    const a = this.arena;
    if (a.n === 0) return;
    const sizes = new Float64Array(this.buckets);
    for (let r = 0; r < a.n; r++) sizes[(a.img[r]! / this.perBucket) | 0]! += HEADER + a.len[r]!;
    const bufs: (Buffer | undefined)[] = new Array(this.buckets);
    const fill = new Float64Array(this.buckets);
    for (let b = 0; b < this.buckets; b++) if (sizes[b]) bufs[b] = Buffer.allocUnsafe(sizes[b]!);
    for (let r = 0; r < a.n; r++) {
      const b = (a.img[r]! / this.perBucket) | 0;
      const buf = bufs[b]!;
      let p = fill[b]!;
      buf.writeInt32LE(a.img[r]!, p);
      buf.writeInt32LE(a.cls[r]!, p + 4);
      buf.writeInt32LE(a.len[r]!, p + 8);
      p += HEADER;
      const s = a.start[r]!;
      buf.set(a.bytes.subarray(s, s + a.len[r]!), p);
      fill[b] = p + a.len[r]!;
    }
    for (let b = 0; b < this.buckets; b++) {
      const buf = bufs[b];
      if (!buf) continue;
      let fd = this.fds[b];
      if (fd === undefined) fd = this.fds[b] = openSync(join(this.dir, `bucket-${b}`), 'a');
      writeSync(fd, buf);
    }
    a.reset();
  }

  async drain(emit: EmitImage): Promise<void> {
    try {
      this.flush();
      for (let b = 0; b < this.buckets; b++) {
        const from = b * this.perBucket;
        const to = Math.min(this.count, from + this.perBucket);
        const view = new LineArena(0, 1024);
        const fd = this.fds[b];
        if (fd !== undefined) {
          closeSync(fd);
          this.fds[b] = undefined;
        }
        const chunks: Buffer[] = [];
        for (const dir of [this.dir, ...this.parts]) {
          const path = join(dir, `bucket-${b}`);
          if (!existsSync(path)) continue;
          chunks.push(readFileSync(path));
          rmSync(path);
        }
        const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
        view.bytes = data;
        for (let p = 0; p < data.length; ) {
          const len = data.readInt32LE(p + 8);
          view.push(data.readInt32LE(p), data.readInt32LE(p + 4), p + HEADER, len);
          p += HEADER + len;
        }
        await groupByImage(view, from, to, emit);
      }
    } finally {
      for (const fd of this.fds) if (fd !== undefined) closeSync(fd);
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}
