import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

/** Minimal PNG encoder (RGB, no filtering): enough for generated fixtures, no image library needed. */
export function encodePng(width: number, height: number, rgb: Uint8Array): Buffer {
  const crcTable = new Int32Array(256).map((_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c;
  });
  const crc = (buf: Buffer) => {
    let c = -1;
    for (const b of buf) c = crcTable[(c ^ b) & 0xff]! ^ (c >>> 8);
    return (c ^ -1) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((width * 3 + 1) * height);
  for (let y = 0; y < height; y++) Buffer.from(rgb.buffer, rgb.byteOffset + y * width * 3, width * 3).copy(raw, y * (width * 3 + 1) + 1);
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}

export interface ShapesDatasetOptions {
  images?: number;
  size?: number;
  /** Adds COCO keypoints (4 per object: the box corners) for pose datasets. */
  keypoints?: boolean;
  seed?: number;
}

const CATEGORIES = [
  { id: 1, name: 'square', color: [220, 40, 40] },
  { id: 2, name: 'circle', color: [40, 180, 60] },
  { id: 3, name: 'triangle', color: [40, 80, 220] },
] as const;

/**
 * Writes a small DICEFormat dataset of coloured shapes (`images/*.png` + `annotations.json`) with
 * boxes, polygons, optional keypoints, and one image-level category per image for classification.
 * Deterministic for a given seed.
 */
export async function writeShapesDataset(dir: string, opts: ShapesDatasetOptions = {}): Promise<{ images: number; annotations: number }> {
  const { images: count = 24, size = 64, keypoints = false } = opts;
  let state = (opts.seed ?? 1) >>> 0 || 1;
  const rand = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 0x100000000;
  };
  await mkdir(join(dir, 'images'), { recursive: true });
  const images: unknown[] = [];
  const annotations: unknown[] = [];
  for (let i = 0; i < count; i++) {
    const rgb = new Uint8Array(size * size * 3).fill(235);
    const cat = CATEGORIES[i % CATEGORIES.length]!;
    const w = Math.round(size * (0.3 + rand() * 0.3));
    const h = cat.name === 'circle' ? w : Math.round(size * (0.3 + rand() * 0.3));
    const x0 = Math.floor(rand() * (size - w));
    const y0 = Math.floor(rand() * (size - h));
    for (let y = y0; y < y0 + h; y++) {
      for (let x = x0; x < x0 + w; x++) {
        const u = (x - x0 + 0.5) / w;
        const v = (y - y0 + 0.5) / h;
        const inside = cat.name === 'square' ? true : cat.name === 'circle' ? (u - 0.5) ** 2 + (v - 0.5) ** 2 <= 0.25 : v >= Math.abs(u - 0.5) * 2;
        if (inside) rgb.set(cat.color, (y * size + x) * 3);
      }
    }
    const fileName = `shape_${String(i).padStart(3, '0')}.png`;
    await writeFile(join(dir, 'images', fileName), encodePng(size, size, rgb));
    images.push({ id: i + 1, file_name: fileName, width: size, height: size, category_id: cat.id });
    const polygon =
      cat.name === 'triangle' ? [x0 + w / 2, y0, x0 + w, y0 + h, x0, y0 + h] : cat.name === 'square' ? [x0, y0, x0 + w, y0, x0 + w, y0 + h, x0, y0 + h] : circlePolygon(x0 + w / 2, y0 + h / 2, w / 2);
    const ann: Record<string, unknown> = { id: i + 1, image_id: i + 1, category_id: cat.id, bbox: [x0, y0, w, h], area: w * h, iscrowd: 0, segmentation: [polygon.map((n) => Math.round(n * 10) / 10)] };
    if (keypoints) ann['keypoints'] = [x0, y0, 2, x0 + w, y0, 2, x0 + w, y0 + h, 2, x0, y0 + h, 2];
    if (keypoints) ann['num_keypoints'] = 4;
    annotations.push(ann);
  }
  const categories = CATEGORIES.map(({ id, name }) => ({
    id,
    name,
    supercategory: 'shape',
    ...(keypoints ? { keypoints: ['top_left', 'top_right', 'bottom_right', 'bottom_left'], skeleton: [[1, 2], [2, 3], [3, 4], [4, 1]] } : {}),
  }));
  await writeFile(join(dir, 'annotations.json'), JSON.stringify({ info: { description: 'generated shapes' }, images, annotations, categories }));
  return { images: count, annotations: annotations.length };
}

function circlePolygon(cx: number, cy: number, r: number): number[] {
  const out: number[] = [];
  for (let k = 0; k < 12; k++) out.push(cx + r * Math.cos((k * Math.PI) / 6), cy + r * Math.sin((k * Math.PI) / 6));
  return out;
}
