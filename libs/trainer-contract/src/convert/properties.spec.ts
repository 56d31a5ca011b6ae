import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import fc from 'fast-check';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TrainerError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { prepareDataset, type PreparedDataset } from './index.js';
import { writeDiceDataset } from './fixtures.js';
import { JsonBytes } from './json-bytes.js';
import type { DatasetFormat, Task } from '../domain/index.js';

const logger = createLogger({ level: 'silent' });
let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'convert-props-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Img { id: number; file_name: string; width: number; height: number }
interface Ann { id: number; image_id: number; category_id: number; bbox: number[]; iscrowd: number; segmentation?: number[][] }

const size = fc.oneof(fc.integer({ min: 1, max: 4000 }), fc.double({ min: 1, max: 4000, noNaN: true }));

const dataset = fc
  .record({
    catIds: fc.uniqueArray(fc.integer({ min: 0, max: 500 }), { minLength: 1, maxLength: 4 }),
    sizes: fc.array(fc.tuple(size, size), { minLength: 1, maxLength: 8 }),
    raw: fc.array(
      fc.record({
        img: fc.nat(),
        cat: fc.nat(),
        // box corners as fractions of the image, allowed past the borders
        fx: fc.double({ min: -0.5, max: 1.3, noNaN: true }),
        fy: fc.double({ min: -0.5, max: 1.3, noNaN: true }),
        fw: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 1.2, noNaN: true })),
        fh: fc.double({ min: 0, max: 1.2, noNaN: true }),
        crowd: fc.boolean(),
        dup: fc.boolean(),
      }),
      { maxLength: 40 },
    ),
    valRatio: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
    seed: fc.integer({ min: -1000, max: 1000 }),
  })
  .map(({ catIds, sizes, raw, valRatio, seed }) => {
    const images: Img[] = sizes.map(([width, height], i) => ({ id: 1000 + i, file_name: `d${i % 2}/im${i}.png`, width, height }));
    const annotations: Ann[] = [];
    for (const r of raw) {
      const im = images[r.img % images.length]!;
      const a: Ann = {
        id: annotations.length + 1,
        image_id: im.id,
        category_id: catIds[r.cat % catIds.length]!,
        bbox: [r.fx * im.width, r.fy * im.height, r.fw * im.width, r.fh * im.height],
        iscrowd: r.crowd && r.dup ? 1 : 0,
      };
      annotations.push(a);
      if (r.dup && !r.crowd) annotations.push({ ...a, id: annotations.length + 1 });
    }
    const categories = catIds.map((id) => ({ id, name: `c${id}` }));
    return { images, annotations, categories, splitConfig: { val_ratio: valRatio, seed } };
  });

async function run(ds: { images: Img[]; annotations: unknown[]; categories: unknown[]; splitConfig: object }, task: Task = 'detect', format: DatasetFormat = 'yolo') {
  const base = join(root, `p${n++}`);
  writeDiceDataset(join(base, 'in'), { ...ds, files: ds.images.map((i) => ({ rel: i.file_name, width: 1, height: 1 })) });
  return prepareDataset({ inputDir: join(base, 'in'), outputDir: join(base, 'out'), task, format, logger, splitConfig: ds.splitConfig });
}

interface CocoOut {
  images: Array<{ id: number; file_name: string }>;
  annotations: Array<{ image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: number }>;
}

/** image file name (relative to images/) → its COCO annotations, and → its split, across the split files. */
function readCoco(p: PreparedDataset): { anns: Map<string, CocoOut['annotations']>; split: Map<string, string> } {
  const anns = new Map<string, CocoOut['annotations']>();
  const split = new Map<string, string>();
  for (const s of ['train', 'val', 'test'] as const) {
    const f = p.coco?.[s];
    if (!f) continue;
    const data = JSON.parse(readFileSync(f, 'utf8')) as CocoOut;
    const rel = new Map(data.images.map((im) => [im.id, im.file_name.slice(im.file_name.lastIndexOf('/images/') + 8)]));
    for (const r of rel.values()) {
      split.set(r, split.has(r) ? `${split.get(r)}+${s}` : s);
      if (!anns.has(r)) anns.set(r, []);
    }
    // A lone image is in train and val: its annotations are read once.
    if (s === 'val' && p.report.notes.single_image_both_splits) continue;
    for (const a of data.annotations) anns.get(rel.get(a.image_id)!)!.push(a);
  }
  return { anns, split };
}

/** image file name → split, from the yolo split lists. */
function yoloSplits(p: PreparedDataset): Map<string, string> {
  const out = new Map<string, string>();
  for (const s of ['train', 'val', 'test']) {
    const f = join(p.root, `${s}.txt`);
    if (!existsSync(f)) continue;
    for (const l of readFileSync(f, 'utf8').trim().split('\n')) {
      const r = l.slice(l.lastIndexOf('/images/') + 8);
      out.set(r, out.has(r) ? `${out.get(r)}+${s}` : s);
    }
  }
  return out;
}

/** image file name → label lines, across splits, read where Ultralytics reads them. */
function readLabels(p: PreparedDataset): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of ['train', 'val', 'test']) {
    const list = join(p.root, `${s}.txt`);
    if (!existsSync(list)) continue;
    for (const img of readFileSync(list, 'utf8').trim().split('\n')) {
      const i = img.lastIndexOf('/images/');
      const label = img.slice(0, i) + '/labels/' + img.slice(i + 8).replace(/\.[^.]+$/, '.txt');
      out.set(img.slice(i + 8), readFileSync(label, 'utf8').split('\n').filter(Boolean));
    }
  }
  return out;
}

/** What a correct converter keeps: clipped, non-empty, non-crowd boxes, exact duplicates once. */
function expected(ds: { images: Img[]; annotations: Ann[]; categories: Array<{ id: number }> }): Map<string, Array<{ cls: number; box: number[] }>> {
  const order = ds.categories.map((c) => c.id).sort((a, b) => a - b);
  const out = new Map<string, Array<{ cls: number; box: number[] }>>();
  for (const im of ds.images) out.set(im.file_name, []);
  for (const a of ds.annotations) {
    const im = ds.images.find((i) => i.id === a.image_id)!;
    const [x, y, w, h] = a.bbox as [number, number, number, number];
    if (a.iscrowd || !(w > 0 && h > 0)) continue;
    const x1 = Math.min(Math.max(x, 0), im.width);
    const y1 = Math.min(Math.max(y, 0), im.height);
    const x2 = Math.min(Math.max(x + w, 0), im.width);
    const y2 = Math.min(Math.max(y + h, 0), im.height);
    if (!(x2 > x1 && y2 > y1)) continue;
    if ((x2 - x1) / im.width < 1e-9 || (y2 - y1) / im.height < 1e-9) continue; // prints as zero: dropped
    const list = out.get(im.file_name)!;
    const cls = order.indexOf(a.category_id);
    if (list.some((e) => e.cls === cls && e.box.every((v, k) => v === [x1, y1, x2, y2][k]))) continue;
    list.push({ cls, box: [x1, y1, x2, y2] });
  }
  return out;
}

describe('conversion properties (fast-check)', () => {
  it('values in [0, 1]; one line per kept annotation; pixel boxes recovered within 1e-6', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (ds) => {
        const want = expected(ds);
        const kept = [...want.values()].reduce((s, l) => s + l.length, 0);
        if (kept === 0) {
          await expect(run(ds)).rejects.toThrow(/no usable annotation/);
          return;
        }
        const p = await run(ds);
        const got = readLabels(p);
        expect(p.report.annotations.kept).toBe(kept);
        let lines = 0;
        for (const im of ds.images) {
          const rows = got.get(im.file_name) ?? [];
          const exp = want.get(im.file_name)!;
          expect(rows).toHaveLength(exp.length);
          rows.forEach((row, k) => {
            lines++;
            const [cls, ...vals] = row.split(' ').map(Number) as [number, ...number[]];
            for (const v of vals) expect(v >= 0 && v <= 1).toBe(true);
            const [cx, cy, w, h] = vals as [number, number, number, number];
            const back = [(cx - w / 2) * im.width, (cy - h / 2) * im.height, (cx + w / 2) * im.width, (cy + h / 2) * im.height];
            expect(cls).toBe(exp[k]!.cls);
            back.forEach((v, j) => {
              const ref = exp[k]!.box[j]!;
              expect(Math.abs(v - ref)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(ref)));
            });
          });
        }
        expect(lines).toBe(kept);
      }),
      { numRuns: 60 },
    );
  });

  it('coco: the pixel boxes are the clipped input exactly, in the same split as yolo puts the image', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (ds) => {
        const want = expected(ds);
        const kept = [...want.values()].reduce((s, l) => s + l.length, 0);
        if (kept === 0) {
          await expect(run(ds, 'detect', 'coco')).rejects.toThrow(/no usable annotation/);
          return;
        }
        const p = await run(ds, 'detect', 'coco');
        const { anns, split } = readCoco(p);
        expect(p.report.annotations.kept).toBe(kept);
        for (const im of ds.images) {
          const got = anns.get(im.file_name)!;
          const exp = want.get(im.file_name)!;
          expect(got.map((a) => [a.category_id, ...a.bbox])).toEqual(exp.map((e) => [e.cls, e.box[0], e.box[1], e.box[2]! - e.box[0]!, e.box[3]! - e.box[1]!]));
          for (const a of got) {
            expect(a.area).toBe(a.bbox[2]! * a.bbox[3]!);
            expect(a.iscrowd).toBe(0);
          }
        }
        const yolo = await run(ds, 'detect', 'yolo');
        expect(split).toEqual(yoloSplits(yolo));
        expect(p.report.splits).toEqual(yolo.report.splits);
        expect(p.report.classes).toEqual(yolo.report.classes);
      }),
      { numRuns: 40 },
    );
  });

  it('COCO numbers: the text written for any double parses back to exactly it (null when not finite)', () => {
    const out = new JsonBytes(16);
    const text = (v: number) => {
      out.pos = 0;
      out.num(v);
      return out.buf.toString('latin1', 0, out.pos);
    };
    const cents = fc.integer({ min: -10_000_000, max: 10_000_000 }).map((c) => c / 100);
    fc.assert(
      fc.property(fc.oneof(fc.double(), cents, fc.integer(), fc.double({ min: 0, max: 5000, noNaN: true })), (v) => {
        const t = text(v);
        if (!Number.isFinite(v)) expect(t).toBe('null');
        // -0 is written as 0: the same coordinate.
        else expect(JSON.parse(t)).toBe(v === 0 ? 0 : v);
      }),
      { numRuns: 20000 },
    );
    expect(['0.1', '123.45', '1e-7', '1000000000', '-2.5', '0', '5e+300'].map((t) => text(Number(t)))).toEqual(['0.1', '123.45', '1e-7', '1000000000', '-2.5', '0', '5e+300']);
    out.pos = 0;
    for (const v of [0, 9, 10, 99, 100, 123456789012345, -3]) {
      out.int(v);
      out.raw(' ');
    }
    expect(out.buf.toString('latin1', 0, out.pos)).toBe('0 9 10 99 100 123456789012345 -3 ');
  });

  it('splits are deterministic, val is never empty, and every image is in exactly one split', async () => {
    await fc.assert(
      fc.asyncProperty(dataset, async (ds) => {
        // One annotation per image so that no dataset is rejected for having nothing to train on.
        const withLabels = {
          ...ds,
          annotations: ds.images.map((im, i) => ({ id: i + 1, image_id: im.id, category_id: ds.categories[0]!.id, bbox: [0, 0, im.width / 2, im.height / 2] })),
        };
        const a = await run(withLabels);
        const b = await run(withLabels);
        const lists = (p: PreparedDataset) =>
          Object.fromEntries(['train', 'val', 'test'].map((s) => {
            const f = join(p.root, `${s}.txt`);
            return [s, existsSync(f) ? readFileSync(f, 'utf8').trim().split('\n').map((l) => l.slice(l.lastIndexOf('/images/') + 8)).sort() : []];
          }));
        expect(lists(a)).toEqual(lists(b));
        expect(a.report.splits.val.images).toBeGreaterThan(0);
        expect(a.report.splits.train.images).toBeGreaterThan(0);
        const all = [...lists(a).train!, ...lists(a).val!];
        if (ds.images.length > 1) expect(all.sort()).toEqual(ds.images.map((i) => i.file_name).sort());
      }),
      { numRuns: 30 },
    );
  });

  it('segment and pose output stays within [0, 1] for polygons and keypoints anywhere', async () => {
    const poly = fc.array(fc.double({ min: -2000, max: 6000, noNaN: true }), { minLength: 6, maxLength: 24 });
    const arb = fc.record({
      w: fc.integer({ min: 1, max: 3000 }),
      h: fc.integer({ min: 1, max: 3000 }),
      anns: fc.array(fc.record({ parts: fc.array(poly, { minLength: 1, maxLength: 3 }), kp: fc.array(fc.double({ min: -100, max: 5000, noNaN: true }), { minLength: 6, maxLength: 6 }) }), { minLength: 1, maxLength: 10 }),
    });
    await fc.assert(
      fc.asyncProperty(arb, async ({ w, h, anns }) => {
        const images = [{ id: 1, file_name: 'a.png', width: w, height: h }, { id: 2, file_name: 'b.png', width: w, height: h }];
        const annotations = anns.map((a, i) => ({
          id: i + 1,
          image_id: 1 + (i % 2),
          category_id: 1,
          bbox: [w / 4, h / 4, w / 2, h / 2],
          segmentation: a.parts.map((p) => p.slice(0, p.length - (p.length % 2))),
          keypoints: [a.kp[0], a.kp[1], 2, a.kp[3], a.kp[4], 1],
        }));
        const categories = [{ id: 1, name: 'x', keypoints: ['left_a', 'right_a'] }];
        for (const task of ['segment', 'pose'] as const) {
          const p = await run({ images, annotations, categories, splitConfig: {} }, task).catch((e: Error) => e);
          if (p instanceof Error) {
            expect(p.message).toMatch(/no usable annotation/);
            continue;
          }
          for (const rows of readLabels(p).values()) {
            for (const row of rows) {
              const vals = row.split(' ').slice(1).map(Number);
              // pose: x y v triplets after the box, v being COCO's 0/1/2 visibility
              const coords = task === 'pose' ? vals.filter((_, k) => k < 4 || (k - 4) % 3 !== 2) : vals;
              for (const v of coords) expect(v >= 0 && v <= 1).toBe(true);
              if (task === 'segment') expect(vals.length % 2 === 0 && vals.length >= 6).toBe(true);
              else expect(vals).toHaveLength(4 + 2 * 3);
            }
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it('never crashes on hostile values: any JSON in any field converts or is one exit-3 line per problem', async () => {
    const base = {
      images: [
        { id: 1, file_name: 'a.png', width: 64, height: 48 },
        { id: 2, file_name: 'b.png', width: 64, height: 48, category_id: 1 },
      ] as Record<string, unknown>[],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 10, 20], iscrowd: 0, segmentation: [[1, 2, 11, 2, 11, 22]], keypoints: [3, 4, 2, 5, 6, 1], num_keypoints: 2 },
        { id: 2, image_id: 2, category_id: 2, bbox: [5, 5, 30, 30], iscrowd: 0, area: 900 },
      ] as Record<string, unknown>[],
      categories: [
        { id: 1, name: 'cat', keypoints: ['left_eye', 'right_eye'], skeleton: [[1, 2]] },
        { id: 2, name: 'dog' },
      ] as Record<string, unknown>[],
    };
    const hostile = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.constantFrom(-1, 0, 1e308, -1e308, 5e-324, '', '../x', '/etc/passwd', [], {}, [[]], [[1, 2, 3]], { counts: [1], size: [2, 2] }, null),
    );
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Task>('detect', 'segment', 'pose', 'obb', 'classify'),
        fc.constantFrom<DatasetFormat>('yolo', 'coco'),
        fc.constantFrom('images', 'annotations', 'categories'),
        fc.integer({ min: -1, max: 1 }),
        fc.constantFrom('id', 'file_name', 'width', 'height', 'category_id', 'image_id', 'bbox', 'segmentation', 'iscrowd', 'keypoints', 'name', 'skeleton', 'flip_idx', 'area'),
        hostile,
        async (task, wanted, array, index, key, value) => {
          // coco where the task has it; imagefolder for classify; obb stays yolo.
          const format: DatasetFormat = wanted === 'coco' ? (task === 'classify' ? 'imagefolder' : task === 'obb' ? 'yolo' : 'coco') : 'yolo';
          const ds = structuredClone(base) as Record<string, unknown>;
          // index -1: the whole array is replaced; else one field of one element.
          if (index < 0) ds[array] = value;
          else (ds[array] as Record<string, unknown>[])[index]![key] = value;
          const dir = join(root, `h${n++}`);
          writeDiceDataset(join(dir, 'in'), { ...ds, files: [{ rel: 'a.png', width: 64, height: 48 }, { rel: 'b.png', width: 64, height: 48 }] });
          const outcome = await prepareDataset({ inputDir: join(dir, 'in'), outputDir: join(dir, 'out'), task, format, logger }).then(
            (p) => p,
            (e: unknown) => e,
          );
          if (outcome instanceof Error) {
            // A TrainerError (exit 3), never a TypeError or RangeError from deep inside the converter.
            expect(outcome).toBeInstanceOf(TrainerError);
            expect((outcome as TrainerError).exitCode).toBe(3);
            for (const line of (outcome as TrainerError).problems) expect(line).not.toMatch(/\n/);
            if (existsSync(join(dir, 'out'))) expect(readdirSync(join(dir, 'out'))).toEqual(['.dice2yolo']);
          } else if (format === 'coco') {
            // Valid JSON, every box inside its image (a degenerate polygon keeps its zero-width box, as in yolo).
            for (const f of Object.values((outcome as PreparedDataset).coco!)) {
              const data = JSON.parse(readFileSync(f, 'utf8')) as { images: Array<{ id: number; width: number; height: number }>; annotations: Array<{ image_id: number; bbox: number[] }> };
              const size = new Map(data.images.map((im) => [im.id, im]));
              for (const a of data.annotations) {
                const im = size.get(a.image_id)!;
                const [x, y, w, h] = a.bbox as [number, number, number, number];
                expect(x >= 0 && y >= 0 && w >= 0 && h >= 0 && x + w <= im.width * (1 + 1e-12) && y + h <= im.height * (1 + 1e-12)).toBe(true);
              }
            }
          } else {
            for (const lines of readLabels(outcome as PreparedDataset).values()) {
              for (const row of lines) for (const v of row.split(' ').slice(1).map(Number)) expect(v >= 0 && v <= 2).toBe(true);
            }
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
