import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { deflateSync } from 'node:zlib';

/**
 * Small DICEFormat datasets for tests: annotations.json as given (or raw text, to test broken files) and
 * image files that are real PNGs of the declared size, so header reading and the framework both accept them.
 */
export interface DiceFixture {
  images?: unknown[];
  annotations?: unknown[];
  categories?: unknown[];
  /** Extra top-level keys, e.g. info/licenses. */
  extra?: Record<string, unknown>;
  /** Replace annotations.json with this text. */
  rawJson?: string;
  /** Image files to create, relative to images/, with their pixel size; default: every images[].file_name. */
  files?: Array<{ rel: string; width: number; height: number }>;
}

export function writeDiceDataset(dir: string, fx: DiceFixture): string {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const json = fx.rawJson ?? JSON.stringify({ ...fx.extra, images: fx.images ?? [], annotations: fx.annotations ?? [], categories: fx.categories ?? [] });
  writeFileSync(join(dir, 'annotations.json'), json);
  const files =
    fx.files ??
    (fx.images ?? []).flatMap((im) => {
      const i = im as { file_name?: unknown; width?: unknown; height?: unknown };
      if (typeof i.file_name !== 'string' || i.file_name.includes('..') || i.file_name.startsWith('/')) return [];
      return [{ rel: i.file_name, width: typeof i.width === 'number' && i.width > 0 ? i.width : 32, height: typeof i.height === 'number' && i.height > 0 ? i.height : 24 }];
    });
  for (const f of files) {
    const p = join(dir, 'images', f.rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, pngBytes(Math.max(1, Math.round(f.width)), Math.max(1, Math.round(f.height))));
  }
  return dir;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf: Buffer): number {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid grey PNG of the given size. */
export function pngBytes(width: number, height: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const raw = Buffer.alloc((width + 1) * height, 0x80);
  for (let y = 0; y < height; y++) raw[y * (width + 1)] = 0; // filter byte
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** A minimal baseline JPEG header (SOI, an APP1 block, SOF0) declaring the given size; enough for header reading. */
export function jpegHeaderBytes(width: number, height: number, app1Bytes = 100, orientation?: number, littleEndian = false): Buffer {
  const app1 = Buffer.alloc(4 + Math.max(app1Bytes, 32));
  app1.writeUInt16BE(0xffe1, 0);
  app1.writeUInt16BE(app1.length - 2, 2);
  if (orientation !== undefined) {
    // "Exif\0\0", a TIFF header, and IFD0 holding one entry: Orientation (0x0112), SHORT, 1 value.
    app1.write('Exif\0\0', 4, 'latin1');
    const t = 10;
    const u16 = (v: number, at: number) => (littleEndian ? app1.writeUInt16LE(v, t + at) : app1.writeUInt16BE(v, t + at));
    const u32 = (v: number, at: number) => (littleEndian ? app1.writeUInt32LE(v, t + at) : app1.writeUInt32BE(v, t + at));
    app1.write(littleEndian ? 'II' : 'MM', t, 'latin1');
    u16(42, 2);
    u32(8, 4);
    u16(1, 8);
    u16(0x0112, 10);
    u16(3, 12);
    u32(1, 14);
    u16(orientation, 18);
  }
  const sof = Buffer.from([0xff, 0xc0, 0x00, 0x11, 0x08, height >> 8, height & 0xff, width >> 8, width & 0xff, 0x03, 1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
  return Buffer.concat([Buffer.from([0xff, 0xd8]), app1, sof, Buffer.from([0xff, 0xd9])]);
}

/**
 * Headers of the other formats the converter accepts, each as small as `image-size` (and the frameworks'
 * decoders, for what they read of it) allow: enough to test size reading, not decodable pictures.
 */
export function tiffHeaderBytes(width: number, height: number, opts: { littleEndian?: boolean; ifdAfter?: number } = {}): Buffer {
  const le = opts.littleEndian ?? true;
  const gap = opts.ifdAfter ?? 0;
  const entries: Array<[number, number, number]> = [
    [256, 4, width], // ImageWidth, LONG
    [257, 3, height], // ImageLength, SHORT
    [258, 3, 8], // BitsPerSample
    [259, 3, 1], // Compression: none
  ];
  const ifdAt = 8 + gap;
  const b = Buffer.alloc(ifdAt + 2 + entries.length * 12 + 4);
  b.write(le ? 'II' : 'MM', 0, 'latin1');
  const u16 = (v: number, at: number) => (le ? b.writeUInt16LE(v, at) : b.writeUInt16BE(v, at));
  const u32 = (v: number, at: number) => (le ? b.writeUInt32LE(v, at) : b.writeUInt32BE(v, at));
  u16(42, 2);
  u32(ifdAt, 4);
  u16(entries.length, ifdAt);
  entries.forEach(([tag, type, value], k) => {
    const at = ifdAt + 2 + k * 12;
    u16(tag, at);
    u16(type, at + 2);
    u32(1, at + 4);
    if (type === 3) u16(value, at + 8);
    else u32(value, at + 8);
  });
  return b;
}

function box(type: string, ...payload: Buffer[]): Buffer {
  const body = Buffer.concat(payload);
  const head = Buffer.alloc(8);
  head.writeUInt32BE(8 + body.length, 0);
  head.write(type, 4, 'latin1');
  return Buffer.concat([head, body]);
}

const u32be = (v: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  return b;
};

/** HEIF / AVIF: ftyp, then meta → iprp → ipco holding `ispe` (the size) and, when given, `irot` (quarter turns). */
export function heifHeaderBytes(width: number, height: number, opts: { brand?: string; irot?: number } = {}): Buffer {
  const brand = opts.brand ?? 'heic';
  const ftyp = box('ftyp', Buffer.from(brand, 'latin1'), u32be(0), Buffer.from('mif1', 'latin1'));
  const ispe = box('ispe', u32be(0), u32be(width), u32be(height));
  const props = [ispe, ...(opts.irot !== undefined ? [box('irot', Buffer.from([opts.irot & 3]))] : [])];
  const meta = box('meta', u32be(0), box('hdlr', u32be(0), u32be(0), Buffer.from('pict', 'latin1'), Buffer.alloc(13)), box('iprp', box('ipco', ...props)));
  return Buffer.concat([ftyp, meta, box('mdat', Buffer.alloc(16))]);
}

/** JPEG 2000 (JP2): the signature box, ftyp `jp2 `, and jp2h → ihdr with the size. */
export function jp2HeaderBytes(width: number, height: number): Buffer {
  const signature = box('jP  ', Buffer.from([0x0d, 0x0a, 0x87, 0x0a]));
  const ftyp = box('ftyp', Buffer.from('jp2 ', 'latin1'), u32be(0), Buffer.from('jp2 ', 'latin1'));
  const ihdr = box('ihdr', u32be(height), u32be(width), Buffer.from([0, 3, 7, 7, 0, 0]));
  return Buffer.concat([signature, ftyp, box('jp2h', ihdr)]);
}

/** WebP, extended (VP8X) header. */
export function webpHeaderBytes(width: number, height: number): Buffer {
  const b = Buffer.alloc(30);
  b.write('RIFF', 0, 'latin1');
  b.writeUInt32LE(22, 4);
  b.write('WEBPVP8X', 8, 'latin1');
  b.writeUInt32LE(10, 16);
  b.writeUIntLE(width - 1, 24, 3);
  b.writeUIntLE(height - 1, 27, 3);
  return b;
}

/** BMP file and info headers (BITMAPINFOHEADER). */
export function bmpHeaderBytes(width: number, height: number): Buffer {
  const b = Buffer.alloc(54);
  b.write('BM', 0, 'latin1');
  b.writeUInt32LE(54, 2);
  b.writeUInt32LE(54, 10);
  b.writeUInt32LE(40, 14);
  b.writeInt32LE(width, 18);
  b.writeInt32LE(height, 22);
  b.writeUInt16LE(1, 26);
  b.writeUInt16LE(24, 28);
  return b;
}
