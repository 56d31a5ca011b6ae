/**
 * Label lines as ASCII bytes in one growing buffer, with their image, class, offset and length in typed
 * arrays. Compared with a JS string per line (a tree of cons-strings per polygon, promoted to the old
 * generation) this keeps memory near the output size and the GC out of the hot loop; numbers are written as
 * digits directly, which is 2–3× faster than String(number).
 */
/** ASCII digits of 00..99, two bytes each. */
const PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  PAIRS[i * 2] = 0x30 + ((i / 10) | 0);
  PAIRS[i * 2 + 1] = 0x30 + (i % 10);
}

/** Writes ` <v>` at p (v clipped to [0, 1], 10 decimals, trailing zeros trimmed) and returns the new end. */
function putNum(b: Uint8Array, p: number, v: number): number {
  b[p++] = 0x20;
  if (!(v > 0)) {
    b[p] = 0x30;
    return p + 1;
  }
  const n = Math.round(v * 1e10);
  if (n >= 1e10) {
    b[p] = 0x31;
    return p + 1;
  }
  if (n === 0) {
    b[p] = 0x30;
    return p + 1;
  }
  b[p] = 0x30;
  b[p + 1] = 0x2e;
  // Ten fractional digits, two at a time from a table: n < 1e10 splits into five base-100 digits.
  let hi = Math.floor(n / 1e5);
  let lo = n - hi * 1e5;
  let q = (lo / 100) | 0;
  let r = (lo - q * 100) * 2;
  b[p + 10] = PAIRS[r]!;
  b[p + 11] = PAIRS[r + 1]!;
  lo = q;
  q = (lo / 100) | 0;
  r = (lo - q * 100) * 2;
  b[p + 8] = PAIRS[r]!;
  b[p + 9] = PAIRS[r + 1]!;
  b[p + 7] = 0x30 + q;
  q = (hi / 100) | 0;
  r = (hi - q * 100) * 2;
  b[p + 5] = PAIRS[r]!;
  b[p + 6] = PAIRS[r + 1]!;
  hi = q;
  q = (hi / 100) | 0;
  r = (hi - q * 100) * 2;
  b[p + 3] = PAIRS[r]!;
  b[p + 4] = PAIRS[r + 1]!;
  b[p + 2] = 0x30 + q;
  let end = p + 12;
  while (b[end - 1] === 0x30) end--;
  return end;
}

export class LineArena {
  bytes: Buffer;
  pos = 0;
  n = 0;
  img: Int32Array;
  cls: Int32Array;
  start: Float64Array;
  len: Int32Array;
  private lineStart = 0;

  constructor(bytes = 1 << 20, records = 1 << 14) {
    this.bytes = Buffer.allocUnsafe(bytes);
    this.img = new Int32Array(records);
    this.cls = new Int32Array(records);
    this.start = new Float64Array(records);
    this.len = new Int32Array(records);
  }

  /** Room for `more` bytes: every write below assumes the caller reserved enough (14 per number). */
  reserve(more: number): void {
    if (this.pos + more <= this.bytes.length) return;
    let size = Math.max(1 << 16, this.bytes.length * 2);
    while (size < this.pos + more) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.bytes.copy(next, 0, 0, this.pos);
    this.bytes = next;
  }

  begin(cls: number): void {
    this.lineStart = this.pos;
    this.reserve(16);
    this.int(cls);
  }

  /** A normalised value, clipped to [0, 1] and rounded to 10 decimals, trailing zeros trimmed, after a space. */
  num(v: number): void {
    this.pos = putNum(this.bytes, this.pos, v);
  }

  /** Flat pixel pairs [x, y, …] divided by W and H, as num() each; the caller reserved 28 bytes per pair. */
  pairs(flat: readonly number[], W: number, H: number): void {
    const b = this.bytes;
    let p = this.pos;
    for (let i = 0; i < flat.length; i += 2) {
      p = putNum(b, p, flat[i]! / W);
      p = putNum(b, p, flat[i + 1]! / H);
    }
    this.pos = p;
  }

  /** A small non-negative integer (class index, keypoint visibility); no leading space. */
  int(v: number): void {
    const b = this.bytes;
    if (v < 10) {
      b[this.pos++] = 0x30 + v;
      return;
    }
    const s = String(v);
    for (let i = 0; i < s.length; i++) b[this.pos++] = s.charCodeAt(i);
  }

  space(): void {
    this.bytes[this.pos++] = 0x20;
  }

  rollback(): void {
    this.pos = this.lineStart;
  }

  /** Ends the line begun by begin() and records it for `image`. */
  commit(image: number, cls: number): void {
    this.reserve(1);
    this.bytes[this.pos++] = 0x0a;
    this.push(image, cls, this.lineStart, this.pos - this.lineStart);
  }

  push(image: number, cls: number, start: number, len: number): void {
    if (this.n === this.img.length) this.grow();
    const r = this.n++;
    this.img[r] = image;
    this.cls[r] = cls;
    this.start[r] = start;
    this.len[r] = len;
  }

  /** Appends another arena's lines after ours (a worker's share of the annotations). */
  append(o: { bytes: Uint8Array; pos: number; n: number; img: Int32Array; cls: Int32Array; start: Float64Array; len: Int32Array }): void {
    this.reserve(o.pos);
    this.bytes.set(o.bytes.subarray(0, o.pos), this.pos);
    while (this.img.length < this.n + o.n) this.grow();
    const at = this.n;
    this.img.set(o.img.subarray(0, o.n), at);
    this.cls.set(o.cls.subarray(0, o.n), at);
    this.len.set(o.len.subarray(0, o.n), at);
    const base = this.pos;
    for (let r = 0; r < o.n; r++) this.start[at + r] = base + o.start[r]!;
    this.n += o.n;
    this.pos += o.pos;
  }

  private grow(): void {
    const size = this.img.length * 2;
    const img = new Int32Array(size);
    img.set(this.img);
    const cls = new Int32Array(size);
    cls.set(this.cls);
    const start = new Float64Array(size);
    start.set(this.start);
    const len = new Int32Array(size);
    len.set(this.len);
    this.img = img;
    this.cls = cls;
    this.start = start;
    this.len = len;
  }

  reset(): void {
    this.pos = 0;
    this.n = 0;
  }
}

export interface ImageLines {
  /** The label file's bytes: every kept line, newline-terminated. */
  bytes: Uint8Array;
  /** Class index of each kept line. */
  classes: number[];
  /** Lines identical to an earlier one of the same image, removed. */
  duplicates: number;
}

/**
 * Groups the records of images [from, to) by image, in annotation order (a counting sort), removes exact
 * duplicate lines, and calls `emit` per image that has any.
 */
export async function groupByImage(
  arena: LineArena,
  from: number,
  to: number,
  emit: (image: number, lines: ImageLines | undefined) => Promise<void> | void,
): Promise<void> {
  const span = to - from;
  const counts = new Int32Array(span + 1);
  for (let r = 0; r < arena.n; r++) counts[arena.img[r]! - from + 1]!++;
  for (let i = 0; i < span; i++) counts[i + 1]! += counts[i]!;
  const order = new Int32Array(arena.n);
  const fill = counts.slice(0, span);
  for (let r = 0; r < arena.n; r++) order[fill[arena.img[r]! - from]!++] = r;
  let scratch = Buffer.allocUnsafe(1 << 16);
  const bytes = arena.bytes;
  const hashes = new Map<number, number[]>();
  for (let i = 0; i < span; i++) {
    const a = counts[i]!;
    const b = counts[i + 1]!;
    if (a === b) {
      await emit(from + i, undefined);
      continue;
    }
    const keep: number[] = [];
    let duplicates = 0;
    // Few lines: compare directly; many: bucket by a hash of the bytes first.
    const byHash = b - a > 32 ? hashes : undefined;
    byHash?.clear();
    for (let k = a; k < b; k++) {
      const r = order[k]!;
      const s = arena.start[r]!;
      const l = arena.len[r]!;
      let candidates: number[] = keep;
      let h = 0;
      if (byHash) {
        h = hashBytes(bytes, s, l);
        candidates = byHash.get(h) ?? [];
      }
      let dup = false;
      for (const q of candidates) {
        if (sameBytes(bytes, arena.start[q]!, arena.len[q]!, s, l)) {
          dup = true;
          break;
        }
      }
      if (dup) {
        duplicates++;
        continue;
      }
      keep.push(r);
      if (byHash) {
        if (candidates.length) candidates.push(r);
        else byHash.set(h, [r]);
      }
    }
    // Lines written one after another (annotations grouped by image) are passed on without a copy.
    let contiguous = true;
    let total = 0;
    for (let k = 0; k < keep.length; k++) {
      total += arena.len[keep[k]!]!;
      if (k && arena.start[keep[k]!] !== arena.start[keep[k - 1]!]! + arena.len[keep[k - 1]!]!) contiguous = false;
    }
    let out: Uint8Array;
    if (contiguous) {
      const s = arena.start[keep[0]!]!;
      out = bytes.subarray(s, s + total);
    } else {
      if (scratch.length < total) scratch = Buffer.allocUnsafe(Math.max(total, scratch.length * 2));
      let p = 0;
      for (const r of keep) {
        const s = arena.start[r]!;
        const l = arena.len[r]!;
        bytes.copy(scratch, p, s, s + l);
        p += l;
      }
      out = scratch.subarray(0, total);
    }
    await emit(from + i, { bytes: out, classes: keep.map((r) => arena.cls[r]!), duplicates });
  }
}

function sameBytes(b: Uint8Array, s1: number, l1: number, s2: number, l2: number): boolean {
  if (l1 !== l2) return false;
  for (let k = 0; k < l1; k++) if (b[s1 + k] !== b[s2 + k]) return false;
  return true;
}

/** Length and the first 64 bytes: enough to tell lines apart; equal hashes are compared in full anyway. */
function hashBytes(b: Uint8Array, s: number, l: number): number {
  let h = 0x811c9dc5 ^ l;
  const end = s + (l < 64 ? l : 64);
  for (let k = s; k < end; k++) h = Math.imul(h ^ b[k]!, 0x01000193);
  return h;
}
