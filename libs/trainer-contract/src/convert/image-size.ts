import { open } from 'node:fs/promises';

/**
 * Width and height from an image's header, without decoding it: PNG, JPEG (walking the segments to the
 * first SOF marker, however long the EXIF block), GIF, BMP and WebP. Undefined when the format is unknown
 * or the header is damaged.
 *
 * A JPEG whose EXIF orientation is 6 or 8 (turned 90°) gets width and height swapped, with `exifRotated` set:
 * the framework decodes it upright (OpenCV applies the orientation) and Ultralytics' own `exif_size` swaps on
 * exactly these two values.
 */
export async function readImageSize(path: string): Promise<{ width: number; height: number; exifRotated?: boolean } | undefined> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await fh.read(head, 0, 64, 0);
    const b = head.subarray(0, bytesRead);
    if (b.length >= 24 && b.readUInt32BE(0) === 0x89504e47 && b.toString('latin1', 12, 16) === 'IHDR') {
      return positive(b.readUInt32BE(16), b.readUInt32BE(20));
    }
    if (b.length >= 10 && (b.toString('latin1', 0, 6) === 'GIF87a' || b.toString('latin1', 0, 6) === 'GIF89a')) {
      return positive(b.readUInt16LE(6), b.readUInt16LE(8));
    }
    if (b.length >= 26 && b[0] === 0x42 && b[1] === 0x4d) {
      return positive(Math.abs(b.readInt32LE(18)), Math.abs(b.readInt32LE(22)));
    }
    if (b.length >= 30 && b.toString('latin1', 0, 4) === 'RIFF' && b.toString('latin1', 8, 12) === 'WEBP') {
      const kind = b.toString('latin1', 12, 16);
      if (kind === 'VP8 ') return positive(b.readUInt16LE(26) & 0x3fff, b.readUInt16LE(28) & 0x3fff);
      if (kind === 'VP8L') {
        const bits = b.readUInt32LE(21);
        return positive((bits & 0x3fff) + 1, ((bits >> 14) & 0x3fff) + 1);
      }
      if (kind === 'VP8X') return positive(b.readUIntLE(24, 3) + 1, b.readUIntLE(27, 3) + 1);
      return undefined;
    }
    if (b.length >= 4 && b[0] === 0xff && b[1] === 0xd8) {
      return await jpegSize(fh);
    }
    return undefined;
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

async function jpegSize(fh: import('node:fs/promises').FileHandle): Promise<{ width: number; height: number; exifRotated?: boolean } | undefined> {
  const size = (await fh.stat()).size;
  const seg = Buffer.alloc(9);
  let orientation = 0;
  let pos = 2;
  for (let guard = 0; guard < 10000 && pos + 4 <= size; guard++) {
    const { bytesRead } = await fh.read(seg, 0, 9, pos);
    if (bytesRead < 4 || seg[0] !== 0xff) return undefined;
    const marker = seg[1]!;
    if (marker === 0xff) {
      pos += 1; // fill byte
      continue;
    }
    if (marker === 0xd8 || (marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      pos += 2;
      continue;
    }
    const len = seg.readUInt16BE(2);
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      if (bytesRead < 9) return undefined;
      const [w, h] = [seg.readUInt16BE(7), seg.readUInt16BE(5)];
      return orientation === 6 || orientation === 8 ? withRotation(positive(h, w)) : positive(w, h);
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // image data before any SOF
    if (marker === 0xe1 && orientation === 0 && len > 8) {
      const app1 = Buffer.alloc(len - 2);
      const { bytesRead: n } = await fh.read(app1, 0, app1.length, pos + 4);
      orientation = exifOrientation(app1.subarray(0, n));
    }
    pos += 2 + len;
  }
  return undefined;
}

function withRotation(size: { width: number; height: number } | undefined): { width: number; height: number; exifRotated: true } | undefined {
  return size ? { ...size, exifRotated: true } : undefined;
}

/** The Orientation tag (0x0112) of IFD0 in an APP1 `Exif` payload; 0 when absent or unreadable. */
function exifOrientation(app1: Buffer): number {
  if (app1.length < 14 || app1.toString('latin1', 0, 6) !== 'Exif\0\0') return 0;
  const tiff = app1.subarray(6);
  const order = tiff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return 0;
  const le = order === 'II';
  const u16 = (o: number) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o: number) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  if (u16(2) !== 42) return 0;
  const ifd = u32(4);
  if (ifd + 2 > tiff.length) return 0;
  const entries = u16(ifd);
  for (let e = 0; e < entries; e++) {
    const at = ifd + 2 + e * 12;
    if (at + 12 > tiff.length) return 0;
    // Orientation is a SHORT (type 3) with one value, stored in the first two bytes of the value field.
    if (u16(at) === 0x0112) return u16(at + 2) === 3 ? u16(at + 8) : 0;
  }
  return 0;
}

function positive(width: number, height: number): { width: number; height: number } | undefined {
  return width > 0 && height > 0 ? { width, height } : undefined;
}
