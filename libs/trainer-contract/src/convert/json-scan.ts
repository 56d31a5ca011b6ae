import { readSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { DataError } from '../errors/index.js';

/**
 * Streaming access to a COCO-style JSON file without ever holding it as one string (V8 caps a string at
 * about 512 MB, and real exports exceed that). One byte-level pass finds where the top-level arrays live
 * and cuts them into batches of whole elements at their separating commas; each batch is then read back
 * and handed to the native JSON.parse as `[ … ]`, so parsing speed stays native while memory stays bounded
 * by the batch size.
 */

export interface Batch {
  /** Byte offsets of the batch's element text (commas between elements included, the array's brackets not). */
  start: number;
  end: number;
  /** Index of the batch's first element in its array, for messages such as `annotations[1234]`. */
  firstIndex: number;
}

export interface ArraySection {
  key: string;
  count: number;
  batches: Batch[];
}

export interface ScalarSection {
  key: string;
  start: number;
  end: number;
}

export interface ScanResult {
  size: number;
  arrays: Map<string, ArraySection>;
  /** Top-level values that are not tracked arrays (info, licenses, …), kept only to validate them. */
  others: ScalarSection[];
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;

const enum Phase {
  Start,
  KeyOrEnd,
  Key,
  Colon,
  Value,
  InScalar,
  InScalarString,
  After,
  Done,
}

/** 1: quote, 2: opening bracket, 3: closing bracket, 0: anything else (inside elements). */
const STRUCT = new Uint8Array(256);
STRUCT[QUOTE] = 1;
STRUCT[LBRACE] = 2;
STRUCT[LBRACKET] = 2;
STRUCT[RBRACE] = 3;
STRUCT[RBRACKET] = 3;
/** Bytes that end a run of plain string content. */
const STRING_STOP = new Uint8Array(256);
STRING_STOP[QUOTE] = 1;
STRING_STOP[BACKSLASH] = 1;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function describeByte(c: number): string {
  return c >= 0x20 && c < 0x7f ? `'${String.fromCharCode(c)}'` : `byte 0x${c.toString(16).padStart(2, '0')}`;
}

/** Incremental structural scanner: feed it chunks in order, then call finish(). */
class JsonStructureScanner {
  private phase = Phase.Start;
  private depth = 0;
  private inString = false;
  private escape = false;
  private capturingKey = false;
  private keyBytes: number[] = [];
  private key = '';
  private valueStart = 0;
  private opener = 0;
  private tracking: ArraySection | undefined;
  private expectElem = true;
  private batchStart = 0;
  private batchFirst = 0;
  private readonly arrays = new Map<string, ArraySection>();
  private readonly others: ScalarSection[] = [];
  private offset = 0;

  constructor(
    private readonly fileLabel: string,
    private readonly tracked: ReadonlySet<string>,
    private readonly batchBytes: number,
  ) {}

  feed(buf: Uint8Array): void {
    const n = buf.length;
    const base = this.offset;
    let depth = this.depth;
    let inString = this.inString;
    let i = 0;
    while (i < n) {
      if (inString) {
        if (this.escape) {
          this.escape = false;
          if (this.capturingKey) this.keyBytes.push(buf[i]!);
          i++;
          continue;
        }
        if (this.capturingKey) {
          const c = buf[i]!;
          if (c === QUOTE) {
            inString = this.inString = false;
            this.capturingKey = false;
            this.endKey(base + i);
          } else {
            if (c === BACKSLASH) this.escape = true;
            this.keyBytes.push(c);
          }
          i++;
          continue;
        }
        // Hot loop: most string bytes are neither a quote nor a backslash.
        while (i < n && STRING_STOP[buf[i]!] === 0) i++;
        if (i === n) break;
        if (buf[i] === BACKSLASH) {
          this.escape = true;
        } else {
          inString = false;
          if (this.phase === Phase.InScalarString && depth === 1) {
            this.others.push({ key: this.key, start: this.valueStart, end: base + i + 1 });
            this.phase = Phase.After;
          }
        }
        i++;
        continue;
      }
      if (depth >= 3) {
        // Inside an element: only quotes and brackets matter; numbers, commas and spaces are skipped in bulk.
        let k = STRUCT[buf[i]!]!;
        while (k === 0) {
          if (++i === n) break;
          k = STRUCT[buf[i]!]!;
        }
        if (i === n) break;
        if (k === 1) inString = true;
        else if (k === 2) depth++;
        else depth--;
        i++;
        continue;
      }
      const c = buf[i]!;
      if (depth === 2) {
        switch (c) {
          case QUOTE:
            inString = true;
            if (this.tracking && this.expectElem) this.startElem();
            break;
          case LBRACE:
          case LBRACKET:
            if (this.tracking && this.expectElem) this.startElem();
            depth++;
            break;
          case RBRACE:
          case RBRACKET:
            depth = 1;
            this.depth = 1;
            this.endValue(c, base + i);
            break;
          case COMMA:
            if (this.tracking) this.comma(base + i);
            break;
          default:
            if (this.tracking && this.expectElem && !isWs(c)) this.startElem();
        }
        i++;
        continue;
      }
      this.depth = depth;
      this.inString = inString;
      this.top(c, base + i);
      depth = this.depth;
      inString = this.inString;
      i++;
    }
    this.depth = depth;
    this.inString = inString;
    this.offset += n;
  }

  finish(): ScanResult {
    if (this.phase === Phase.InScalar && this.depth === 1) {
      this.fail(this.offset, 'unexpected end of file (truncated JSON?)');
    }
    if (this.phase !== Phase.Done) {
      const what = this.phase === Phase.Start ? 'the file is empty' : 'unexpected end of file (truncated JSON?)';
      this.fail(this.offset, what);
    }
    return { size: this.offset, arrays: this.arrays, others: this.others };
  }

  private fail(pos: number, why: string): never {
    throw new DataError(`${this.fileLabel}: invalid JSON at byte ${pos}: ${why}`);
  }

  private startElem(): void {
    this.expectElem = false;
    this.tracking!.count++;
  }

  private comma(pos: number): void {
    const section = this.tracking!;
    if (this.expectElem) this.fail(pos, `unexpected ',' in "${section.key}"`);
    this.expectElem = true;
    if (pos - this.batchStart >= this.batchBytes) {
      section.batches.push({ start: this.batchStart, end: pos, firstIndex: this.batchFirst });
      this.batchStart = pos + 1;
      this.batchFirst = section.count;
    }
  }

  private endValue(closer: number, pos: number): void {
    const matches = (this.opener === LBRACKET && closer === RBRACKET) || (this.opener === LBRACE && closer === RBRACE);
    if (!matches) this.fail(pos, `${describeByte(closer)} does not close the value of "${this.key}"`);
    const section = this.tracking;
    if (section) {
      if (this.expectElem && section.count > 0) this.fail(pos, `trailing ',' in "${section.key}"`);
      if (section.count > this.batchFirst) {
        section.batches.push({ start: this.batchStart, end: pos, firstIndex: this.batchFirst });
      }
      this.tracking = undefined;
    } else {
      this.others.push({ key: this.key, start: this.valueStart, end: pos + 1 });
    }
    this.phase = Phase.After;
  }

  private endKey(pos: number): void {
    try {
      this.key = JSON.parse(`"${Buffer.from(this.keyBytes).toString('utf8')}"`) as string;
    } catch {
      this.fail(pos, 'invalid string escape in a key');
    }
    this.keyBytes = [];
    this.phase = Phase.Colon;
  }

  /** Everything at depth 0 and 1: the top-level object's punctuation, keys and scalar values. */
  private top(c: number, pos: number): void {
    switch (this.phase) {
      case Phase.Start:
        if (isWs(c) || (pos === 0 && c === 0xef)) return;
        if (pos <= 2 && (c === 0xbb || c === 0xbf)) return; // UTF-8 byte order mark
        if (c !== LBRACE) this.fail(pos, `expected a JSON object, found ${describeByte(c)}`);
        this.depth = 1;
        this.phase = Phase.KeyOrEnd;
        return;
      case Phase.KeyOrEnd:
      case Phase.Key:
        if (isWs(c)) return;
        if (c === QUOTE) {
          this.inString = true;
          this.capturingKey = true;
          return;
        }
        if (c === RBRACE && this.phase === Phase.KeyOrEnd) {
          this.depth = 0;
          this.phase = Phase.Done;
          return;
        }
        return this.fail(pos, `expected a key, found ${describeByte(c)}`);
      case Phase.Colon:
        if (isWs(c)) return;
        if (c !== COLON) this.fail(pos, `expected ':' after "${this.key}", found ${describeByte(c)}`);
        this.phase = Phase.Value;
        return;
      case Phase.Value: {
        if (isWs(c)) return;
        const wantsArray = this.tracked.has(this.key);
        if (wantsArray && c !== LBRACKET) {
          throw new DataError(`${this.fileLabel}: "${this.key}" must be an array`);
        }
        this.valueStart = pos;
        if (c === LBRACKET || c === LBRACE) {
          this.opener = c;
          this.depth = 2;
          this.phase = Phase.InScalar; // placeholder until the value closes; endValue moves on to After
          if (wantsArray) {
            const section: ArraySection = { key: this.key, count: 0, batches: [] };
            this.arrays.set(this.key, section); // a repeated key wins, as with JSON.parse
            this.tracking = section;
            this.expectElem = true;
            this.batchStart = pos + 1;
            this.batchFirst = 0;
          }
          return;
        }
        if (c === QUOTE) {
          this.inString = true;
          this.phase = Phase.InScalarString;
          return;
        }
        if (c === COMMA || c === RBRACE || c === COLON || c === RBRACKET) {
          this.fail(pos, `expected a value for "${this.key}", found ${describeByte(c)}`);
        }
        this.phase = Phase.InScalar;
        return;
      }
      case Phase.InScalar:
        if (isWs(c) || c === COMMA || c === RBRACE) {
          this.others.push({ key: this.key, start: this.valueStart, end: pos });
          this.phase = Phase.After;
          if (!isWs(c)) this.top(c, pos);
        }
        return;
      case Phase.After:
        if (isWs(c)) return;
        if (c === COMMA) {
          this.phase = Phase.Key;
          return;
        }
        if (c === RBRACE) {
          this.depth = 0;
          this.phase = Phase.Done;
          return;
        }
        return this.fail(pos, `expected ',' or '}' after the value of "${this.key}", found ${describeByte(c)}`);
      case Phase.Done:
        if (isWs(c)) return;
        return this.fail(pos, `unexpected ${describeByte(c)} after the end of the top-level object`);
      default:
        return;
    }
  }
}

/** Reads byte ranges of one file; positional reads, so batches can be revisited in any order. */
export class JsonFile {
  private constructor(
    readonly path: string,
    readonly label: string,
    private readonly fh: FileHandle,
    readonly size: number,
  ) {}

  static async open(path: string, label: string): Promise<JsonFile> {
    const fh = await open(path, 'r');
    const st = await fh.stat();
    return new JsonFile(path, label, fh, st.size);
  }

  async close(): Promise<void> {
    await this.fh.close();
  }

  async scan(tracked: readonly string[], batchBytes: number, chunkBytes = 8 << 20): Promise<ScanResult> {
    const scanner = new JsonStructureScanner(this.label, new Set(tracked), batchBytes);
    const buf = Buffer.allocUnsafe(Math.min(chunkBytes, Math.max(1, this.size)));
    let pos = 0;
    while (pos < this.size) {
      // Synchronous reads: each is a few ms from the page cache, and awaiting the thread pool left the one
      // busy core idle between chunks.
      const bytesRead = readSync(this.fh.fd, buf, 0, Math.min(buf.length, this.size - pos), pos);
      if (bytesRead === 0) break;
      scanner.feed(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    const result = scanner.finish();
    await this.validateOthers(result.others);
    return result;
  }

  async text(start: number, end: number): Promise<string> {
    return this.read(start, end).toString('utf8');
  }

  private read(start: number, end: number): Buffer {
    const buf = Buffer.allocUnsafe(end - start);
    let done = 0;
    while (done < buf.length) {
      const bytesRead = readSync(this.fh.fd, buf, done, buf.length - done, start + done);
      if (bytesRead === 0) break;
      done += bytesRead;
    }
    return done === buf.length ? buf : buf.subarray(0, done);
  }

  /** Parses one batch into its elements; a syntax error names the array, the element range and the byte. */
  async parseBatch(section: ArraySection, batch: Batch, nextIndex: number): Promise<unknown[]> {
    // The byte before a batch is its array's '[' or a separating ',', the byte after it ',' or ']': read
    // them too and make them brackets, so the batch parses as one array without a string concatenation.
    const buf = this.read(batch.start - 1, batch.end + 1);
    buf[0] = 0x5b;
    buf[buf.length - 1] = 0x5d;
    try {
      return JSON.parse(buf.toString('utf8')) as unknown[];
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      const m = /position (\d+)/.exec(msg);
      const at = m ? ` near byte ${batch.start - 1 + Number(m[1])}` : '';
      const range = `${section.key}[${batch.firstIndex}..${Math.max(batch.firstIndex, nextIndex - 1)}]`;
      throw new DataError(`${this.label}: invalid JSON in ${range}${at}: ${oneLine(msg)}`);
    }
  }

  private async validateOthers(others: ScalarSection[]): Promise<void> {
    for (const o of others) {
      if (o.end - o.start > 16 << 20) continue; // too big to check cheaply; nothing of ours lives there
      const text = await this.text(o.start, o.end);
      try {
        JSON.parse(text);
      } catch (err) {
        const msg = err instanceof Error ? err.message : String(err);
        throw new DataError(`${this.label}: invalid JSON in "${o.key}" at byte ${o.start}: ${oneLine(msg)}`);
      }
    }
  }
}

function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}
