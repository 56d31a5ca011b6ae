/**
 * JSON text written as bytes into one growing buffer, for the COCO files. Building each annotation as a JS string
 * made cons-string trees that lived until the next flush: on 200,000 polygons the garbage collector took more time
 * than the conversion. Numbers go in as digits; every number written also feeds two 32-bit hashes, which is how
 * exact duplicates are told apart without keeping the annotations.
 */
export class JsonBytes {
  buf: Buffer;
  pos = 0;
  h1 = 0;
  h2 = 0;
  /** Numbers hashed since resetHash(). */
  hashed = 0;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  constructor(size = 1 << 16) {
    this.buf = Buffer.allocUnsafe(size);
  }

  reserve(more: number): void {
    if (this.pos + more <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + more) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** ASCII text as it is (keys, brackets, commas). */
  raw(s: string): void {
    const n = s.length;
    this.reserve(n);
    // Buffer.write costs more than the copy for the few characters between numbers.
    if (n <= 24) {
      const b = this.buf;
      let p = this.pos;
      for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
      this.pos = p;
    } else this.pos += this.buf.write(s, this.pos, 'latin1');
  }

  /** JSON text that may hold any character (category names inside it), in UTF-8. */
  utf8(s: string): void {
    this.reserve(s.length * 3);
    this.pos += this.buf.write(s, this.pos, 'utf8');
  }

  /** A string value, quoted and escaped, in UTF-8. */
  str(s: string): void {
    this.utf8(JSON.stringify(s));
  }

  bytes(b: Uint8Array, start: number, end: number): void {
    this.reserve(end - start);
    this.buf.set(b.subarray(start, end), this.pos);
    this.pos += end - start;
  }

  /** An integer, unhashed (ids, counts). */
  int(v: number): void {
    this.reserve(24);
    if (v >= 0 && v < 1e15) this.digits(v);
    else this.pos += this.buf.write(String(v), this.pos, 'latin1');
  }

  /** A non-negative integer below 1e15 as decimal digits. */
  private digits(v: number): void {
    const b = this.buf;
    if (v < 10) {
      b[this.pos++] = 0x30 + v;
      return;
    }
    let n = 2;
    for (let t = 100; v >= t && n < 16; t *= 10) n++;
    let p = this.pos + n;
    this.pos = p;
    do {
      const q = Math.floor(v / 10);
      b[--p] = 0x30 + (v - q * 10);
      v = q;
    } while (v > 0);
  }

  resetHash(seed: number): void {
    this.h1 = 0x811c9dc5 ^ seed;
    this.h2 = Math.imul(seed ^ 0x5bd1e995, 0x9e3779b1);
    this.hashed = 0;
  }

  /**
   * A number as JSON text that parses back to exactly `v` (null when not finite), hashed. Values with at most six
   * decimals (pixel coordinates mostly have two) are written digit by digit; the rest by String(), the shortest
   * round trip.
   */
  num(v: number): void {
    this.hash(v);
    this.reserve(26);
    const b = this.buf;
    if (!Number.isFinite(v)) {
      this.pos += b.write('null', this.pos, 'latin1');
      return;
    }
    let a = v < 0 ? -v : v;
    if (a < 1e9) {
      const scaled = Math.round(a * 1e6);
      // Exactly that decimal: its digits parse back to v (the division is correctly rounded, as parsing is).
      if (scaled / 1e6 === a) {
        if (v < 0 && scaled !== 0) b[this.pos++] = 0x2d;
        const int = Math.floor(scaled / 1e6);
        let frac = scaled - int * 1e6;
        this.digits(int);
        if (frac > 0) {
          b[this.pos++] = 0x2e;
          let div = 100000;
          while (frac > 0) {
            const d = Math.floor(frac / div);
            b[this.pos++] = 0x30 + d;
            frac -= d * div;
            div /= 10;
          }
        }
        return;
      }
    }
    a = v;
    this.pos += b.write(String(a), this.pos, 'latin1');
  }

  /** Hashes a number without writing it: the structure around the numbers (how long each polygon is). */
  mark(v: number): void {
    this.hash(v);
  }

  private hash(v: number): void {
    // -0 and 0 are the same coordinate.
    this.f64[0] = v === 0 ? 0 : v;
    const lo = this.u32[0]!;
    const hi = this.u32[1]!;
    this.h1 = Math.imul(Math.imul(this.h1 ^ lo, 0x01000193) ^ hi, 0x01000193);
    let h2 = Math.imul(this.h2 ^ lo, 0xcc9e2d51);
    h2 = (h2 << 15) | (h2 >>> 17);
    h2 = Math.imul(h2 ^ hi, 0x1b873593);
    this.h2 = (h2 << 13) | (h2 >>> 19);
    this.hashed++;
  }
}
