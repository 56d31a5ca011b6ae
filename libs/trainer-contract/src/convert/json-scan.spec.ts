import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { JsonFile } from './json-scan.js';
import { readImageSize } from './image-size.js';
import { jpegHeaderBytes, pngBytes } from './fixtures.js';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'json-scan-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** Every element of every tracked array, read back batch by batch, with small batches and chunks. */
async function readAll(text: string, batchBytes: number, chunkBytes: number): Promise<Record<string, unknown[]>> {
  const path = join(root, `f${n++}.json`);
  writeFileSync(path, text);
  const f = await JsonFile.open(path, 'annotations.json');
  try {
    const scan = await f.scan(['images', 'annotations', 'categories'], batchBytes, chunkBytes);
    const out: Record<string, unknown[]> = {};
    for (const [key, section] of scan.arrays) {
      out[key] = [];
      for (let b = 0; b < section.batches.length; b++) {
        const next = section.batches[b + 1]?.firstIndex ?? section.count;
        out[key]!.push(...(await f.parseBatch(section, section.batches[b]!, next)));
      }
      expect(out[key]).toHaveLength(section.count);
    }
    return out;
  } finally {
    await f.close();
  }
}

describe('streaming JSON scanner', () => {
  it('gives the same elements as JSON.parse for any JSON values, whatever the batch and chunk sizes', async () => {
    const value = fc.jsonValue({ maxDepth: 3 });
    await fc.assert(
      fc.asyncProperty(
        fc.record({ images: fc.array(value, { maxLength: 8 }), annotations: fc.array(value, { maxLength: 8 }), info: value }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 1, max: 64 }),
        fc.boolean(),
        async (doc, batch, chunk, pretty) => {
          const text = JSON.stringify({ info: doc.info, annotations: doc.annotations, images: doc.images }, null, pretty ? 2 : undefined);
          const got = await readAll(text, batch, chunk);
          const want = JSON.parse(text) as Record<string, unknown[]>;
          expect(got.images).toEqual(want.images);
          expect(got.annotations).toEqual(want.annotations);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('handles brackets, quotes and escapes inside strings, and a BOM', async () => {
    const doc = { images: [{ file_name: 'a]}"\\[{,.png', id: 1 }, { file_name: '\u00e9\u{1F600}', id: 2 }], categories: [] };
    const got = await readAll('\ufeff' + JSON.stringify(doc), 8, 3);
    expect(got.images).toEqual(doc.images);
  });

  it.each([
    ['{"images": [1, 2,]}', /trailing ','/],
    ['{"images": [,1]}', /unexpected ','/],
    ['{"images": [1] "x": 2}', /expected ',' or '}'/],
    ['{"images": [1]} extra', /after the end/],
    ['{"images": [1}', /does not close/],
    ['{"info": {"a": nope}, "images": []}', /invalid JSON in "info"/],
    ['[1, 2]', /expected a JSON object/],
  ])('rejects %s', async (text, message) => {
    await expect(readAll(text, 4, 4)).rejects.toThrow(message);
  });
});

describe('image header sizes', () => {
  const write = (name: string, bytes: Buffer) => {
    const p = join(root, name);
    writeFileSync(p, bytes);
    return p;
  };
  it('reads PNG, JPEG (past a long APP1), GIF, BMP and WebP sizes; undefined for anything else', async () => {
    expect(await readImageSize(write('a.png', pngBytes(33, 17)))).toEqual({ width: 33, height: 17 });
    expect(await readImageSize(write('a.jpg', jpegHeaderBytes(4000, 3000, 60000)))).toEqual({ width: 4000, height: 3000 });
    // EXIF orientations 5–8 (turned or transposed by 90°) swap the sides, as OpenCV decodes them and Ultralytics
    // 8.4's exif_size swaps; 1–4 do not.
    expect(await readImageSize(write('r6.jpg', jpegHeaderBytes(4000, 3000, 200, 6)))).toEqual({ width: 3000, height: 4000, exifRotated: true });
    expect(await readImageSize(write('r8.jpg', jpegHeaderBytes(4000, 3000, 200, 8, true)))).toEqual({ width: 3000, height: 4000, exifRotated: true });
    for (const o of [5, 7]) expect(await readImageSize(write(`r${o}.jpg`, jpegHeaderBytes(4000, 3000, 200, o)))).toEqual({ width: 3000, height: 4000, exifRotated: true });
    for (const o of [1, 2, 3, 4]) expect(await readImageSize(write(`r${o}.jpg`, jpegHeaderBytes(4000, 3000, 200, o)))).toEqual({ width: 4000, height: 3000 });
    const gif = Buffer.from('GIF89a\x20\x03\x58\x02\x00\x00\x00', 'latin1');
    expect(await readImageSize(write('a.gif', gif))).toEqual({ width: 800, height: 600 });
    const bmp = Buffer.alloc(54);
    bmp.write('BM', 0, 'latin1');
    bmp.writeInt32LE(640, 18);
    bmp.writeInt32LE(-480, 22);
    expect(await readImageSize(write('a.bmp', bmp))).toEqual({ width: 640, height: 480 });
    const webp = Buffer.alloc(30);
    webp.write('RIFF', 0, 'latin1');
    webp.write('WEBPVP8X', 8, 'latin1');
    webp.writeUIntLE(1919, 24, 3);
    webp.writeUIntLE(1079, 27, 3);
    expect(await readImageSize(write('a.webp', webp))).toEqual({ width: 1920, height: 1080 });
    expect(await readImageSize(write('a.txt', Buffer.from('hello world')))).toBeUndefined();
    expect(await readImageSize(write('t.jpg', jpegHeaderBytes(10, 10).subarray(0, 50)))).toBeUndefined();
    expect(await readImageSize(join(root, 'missing.png'))).toBeUndefined();
  });
});
