import { open, type FileHandle } from 'node:fs/promises';
import { imageSize } from 'image-size';

type ISizeCalculationResult = ReturnType<typeof imageSize>;

export interface ImageSize {
  width: number;
  height: number;
  /** The stored sides were swapped because the framework decodes the image turned by 90°. */
  exifRotated?: boolean;
}

/** Enough for the header of every format below but a JPEG with large APP segments or a TIFF whose IFD comes last. */
const HEAD = 64 << 10;
/** Past this a file is not read whole to find its size; its header is reported unreadable instead. */
const WHOLE_FILE_MAX = 32 << 20;

/**
 * What `image-size` may report for a file the frameworks decode (cv2 in Ultralytics, PIL in timm and HF): a
 * `.jpg` that is really an SVG or an icon is as unreadable to them as a damaged one.
 */
const DECODABLE = new Set(['jpg', 'png', 'gif', 'bmp', 'webp', 'tiff', 'bigtiff', 'jp2', 'heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'avif']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'mif1', 'msf1', 'avif']);

/**
 * Width and height as the framework will decode the image, read from its header with `image-size` (JPEG and MPO,
 * PNG, GIF, BMP, WebP, TIFF, JPEG 2000, HEIC/HEIF/AVIF); undefined when the format is not one of those or the
 * header is damaged.
 *
 * - JPEG: EXIF orientations 5–8 turn the picture by 90° (6 and 8 rotate, 5 and 7 transpose). OpenCV decodes a JPEG
 *   upright, applying the orientation, and Ultralytics' `exif_size` swaps on the same four values, so the sides are
 *   swapped with `exifRotated` set.
 * - HEIC/AVIF: libheif (pi-heif, pillow-heif, Pillow's AVIF) applies the `irot` property when decoding, so a
 *   quarter turn swaps the sides too.
 * - TIFF: the first IFD's size, as OpenCV and PIL decode the first page.
 *
 * The file is read in one 64 KiB head; only when that does not hold the size (a JPEG whose SOF comes after long
 * APP segments, a HEIF whose `meta` box follows the data) is the whole file read, up to 32 MiB. A TIFF whose IFD
 * sits at the end has just that IFD read (see tiffIfdWindow).
 */
export async function readImageSize(path: string): Promise<ImageSize | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.allocUnsafe(HEAD);
    const { bytesRead } = await fh.read(head, 0, HEAD, 0);
    const b = head.subarray(0, bytesRead);
    let found = measure(b);
    if (found || bytesRead < HEAD) return found && upright(found, b);
    const tiff = await tiffIfdWindow(fh, b);
    if (tiff) {
      found = measure(tiff);
      if (found) return upright(found, tiff);
    }
    const { size } = await fh.stat();
    if (size > WHOLE_FILE_MAX) return undefined;
    const whole = new Uint8Array(size);
    const { bytesRead: n } = await fh.read(whole, 0, size, 0);
    const all = whole.subarray(0, n);
    found = measure(all);
    return found && upright(found, all);
  } catch {
    return undefined;
  } finally {
    await fh.close();
  }
}

function measure(input: Uint8Array): ISizeCalculationResult | undefined {
  if (input.length < 12) return undefined;
  let r: ISizeCalculationResult;
  try {
    r = imageSize(input);
  } catch {
    return undefined;
  }
  if (!r.type || !DECODABLE.has(r.type)) return undefined;
  const { width, height } = r;
  return Number.isInteger(width) && Number.isInteger(height) && width > 0 && height > 0 ? r : undefined;
}

function upright(r: ISizeCalculationResult, input: Uint8Array): ImageSize {
  const turned = r.type === 'jpg' ? r.orientation !== undefined && r.orientation >= 5 && r.orientation <= 8 : HEIF_BRANDS.has(r.type!) && quarterTurn(input);
  return turned ? { width: r.height, height: r.width, exifRotated: true } : { width: r.width, height: r.height };
}

/**
 * A classic TIFF's first IFD read where it lies (writers often put it after the pixel data) and handed to
 * `image-size` behind a copy of the 8-byte header whose IFD offset is patched to 8. Width and height are inline
 * values of their IFD entries, so nothing else in the file is needed. Undefined for anything else.
 */
async function tiffIfdWindow(fh: FileHandle, head: Uint8Array): Promise<Uint8Array | undefined> {
  const le = head[0] === 0x49 && head[1] === 0x49 && head[2] === 0x2a && head[3] === 0x00;
  const be = head[0] === 0x4d && head[1] === 0x4d && head[2] === 0x00 && head[3] === 0x2a;
  if (!le && !be) return undefined;
  const view = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const offset = view.getUint32(4, le);
  const entries = Buffer.alloc(2);
  if ((await fh.read(entries, 0, 2, offset)).bytesRead < 2) return undefined;
  const count = le ? entries.readUInt16LE(0) : entries.readUInt16BE(0);
  const out = new Uint8Array(8 + 2 + count * 12 + 4);
  out.set(head.subarray(0, 4), 0);
  new DataView(out.buffer).setUint32(4, 8, le);
  const { bytesRead } = await fh.read(out, 8, out.length - 8, offset);
  return bytesRead >= 2 + count * 12 ? out : undefined;
}

/** Whether a HEIF/AVIF `ipco` box holds an `irot` property turning the image by 90° or 270°. */
function quarterTurn(input: Uint8Array): boolean {
  const meta = findBox(input, 'meta', 0, input.length);
  // meta is a full box: 4 bytes of version and flags before its children.
  const iprp = meta && findBox(input, 'iprp', meta.start + 12, meta.end);
  const ipco = iprp && findBox(input, 'ipco', iprp.start + 8, iprp.end);
  if (!ipco) return false;
  for (let at = ipco.start + 8; at + 8 <= ipco.end; ) {
    const box = boxAt(input, at, ipco.end);
    if (!box) return false;
    if (box.type === 'irot' && box.start + 8 < box.end) return (input[box.start + 8]! & 3) % 2 === 1;
    at = box.end;
  }
  return false;
}

interface Box {
  type: string;
  start: number;
  end: number;
}

function boxAt(b: Uint8Array, at: number, limit: number): Box | undefined {
  if (at + 8 > limit) return undefined;
  const size = ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
  const type = String.fromCharCode(b[at + 4]!, b[at + 5]!, b[at + 6]!, b[at + 7]!);
  const end = size === 0 ? limit : at + size;
  return size !== 0 && size < 8 ? undefined : { type, start: at, end: Math.min(end, limit) };
}

function findBox(b: Uint8Array, type: string, from: number, limit: number): Box | undefined {
  for (let at = from; at + 8 <= limit; ) {
    const box = boxAt(b, at, limit);
    if (!box) return undefined;
    if (box.type === type) return box;
    at = box.end;
  }
  return undefined;
}
