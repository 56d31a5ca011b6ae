import { describe, expect, it } from '@jest/globals';
import { mkdtemp, readFile, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inflateSync } from 'node:zlib';
import { writeShapesDataset } from './shapes-dataset.js';

describe('generated shapes dataset', () => {
  it('writes decodable PNGs whose pixels match the annotated boxes', async () => {
    const dir = process.env['SHAPES_KEEP'] ?? (await mkdtemp(join(tmpdir(), 'shapes-')));
    await writeShapesDataset(dir, { images: 6, size: 96, keypoints: true });
    expect((await readdir(join(dir, 'images'))).length).toBe(6);
    const coco = JSON.parse(await readFile(join(dir, 'annotations.json'), 'utf8')) as { annotations: Array<{ bbox: number[]; image_id: number }>; images: Array<{ id: number; file_name: string }> };
    const ann = coco.annotations[0]!;
    const png = await readFile(join(dir, 'images', coco.images[0]!.file_name));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(96);
    const idat = png.subarray(png.indexOf('IDAT') + 4, png.indexOf('IEND') - 8);
    const raw = inflateSync(idat);
    const [x, y, w, h] = ann.bbox as [number, number, number, number];
    const px = (xx: number, yy: number) => raw[yy * (96 * 3 + 1) + 1 + xx * 3];
    expect(px(Math.floor(x + w / 2), Math.floor(y + h / 2))).not.toBe(235);
    expect(px(0, 0) === 235 || x === 0).toBe(true);
  });
});
