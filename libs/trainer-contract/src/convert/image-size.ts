import { open } from 'node:fs/promises';

/**
 * Width and height from an image's header, without decoding it: PNG, JPEG (walking the segments to the
 * first SOF marker, however long the EXIF block), GIF, BMP and WebP. Undefined when the format is unknown
 * or the header is damaged.
 */
export async function readImageSize(path: string): Promise<{ width: number; height: number } | undefined> {
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

async function jpegSize(fh: import('node:fs/promises').FileHandle): Promise<{ width: number; height: number } | undefined> {
  const size = (await fh.stat()).size;
  const seg = Buffer.alloc(9);
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
      return positive(seg.readUInt16BE(7), seg.readUInt16BE(5));
    }
    if (marker === 0xd9 || marker === 0xda) return undefined; // image data before any SOF
    pos += 2 + len;
  }
  return undefined;
}

function positive(width: number, height: number): { width: number; height: number } | undefined {
  return width > 0 && height > 0 ? { width, height } : undefined;
}
