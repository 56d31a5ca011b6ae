import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DataError, TrainerError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { prepareDataset, type PreparedDataset } from './index.js';
import { writeDiceDataset, jpegHeaderBytes, pngBytes, type DiceFixture } from './fixtures.js';
import type { DatasetFormat, Task } from '../domain/index.js';
import { missingReal } from '../testing/python-envs.js';

const logger = createLogger({ level: 'silent' });
let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'formats-spec-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fresh(): { input: string; output: string } {
  const base = join(root, `case-${n++}`);
  return { input: join(base, 'in'), output: join(base, 'out') };
}

async function convert(fx: DiceFixture, task: Task, format: DatasetFormat, extra: { strict?: boolean; splitConfig?: object } = {}) {
  const { input, output } = fresh();
  writeDiceDataset(input, fx);
  const prepared = await prepareDataset({ inputDir: input, outputDir: output, task, format, logger, ...extra });
  return { input, output, prepared };
}

interface CocoFile {
  info: Record<string, unknown>;
  images: Array<{ id: number; file_name: string; width: number; height: number; dice_id: unknown }>;
  categories: Array<{ id: number; name: string; supercategory?: string; dice_id: number; keypoints?: string[]; skeleton?: number[][] }>;
  annotations: Array<{ id: number; image_id: number; category_id: number; bbox: number[]; area: number; iscrowd: number; segmentation?: number[][]; keypoints?: number[]; num_keypoints?: number; dice_id?: unknown }>;
}

const readCoco = (path: string): CocoFile => JSON.parse(readFileSync(path, 'utf8')) as CocoFile;

/** Every file under a folder, relative, for "nothing written elsewhere" checks. */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
      else out.push(`${rel}${e.name}`);
    }
  };
  walk(dir, '');
  return out.sort();
}

const cats = [{ id: 1, name: 'cat', supercategory: 'animal' }, { id: 7, name: 'dog' }];
const img = (id: number, file_name: string, width = 100, height = 50) => ({ id, file_name, width, height });

/** image file name → split, from whichever layout the dataset was written in. */
function splitsOf(p: PreparedDataset): Map<string, string> {
  const out = new Map<string, string>();
  const base = (f: string) => f.slice(f.lastIndexOf('/') + 1);
  for (const s of ['train', 'val', 'test'] as const) {
    if (p.format === 'coco') {
      const f = p.coco?.[s];
      if (f) for (const im of readCoco(f).images) out.set(base(im.file_name), out.has(base(im.file_name)) ? `${out.get(base(im.file_name))}+${s}` : s);
    } else if (p.format === 'imagefolder' || p.task === 'classify') {
      const dir = join(p.root, s);
      if (existsSync(dir)) for (const f of tree(dir)) out.set(base(f), out.has(base(f)) ? `${out.get(base(f))}+${s}` : s);
    } else {
      const list = join(p.root, `${s}.txt`);
      if (existsSync(list)) for (const l of readFileSync(list, 'utf8').trim().split('\n')) out.set(base(l), out.has(base(l)) ? `${out.get(base(l))}+${s}` : s);
    }
  }
  return out;
}

describe('coco', () => {
  it('writes one COCO file per split: absolute file names, sizes, classes 0..N-1, clipped boxes with their area', async () => {
    const images = [...Array.from({ length: 9 }, (_, i) => img(10 + i, `sub/im${i}.png`)), { id: 30, file_name: 'nosize.jpg' }];
    const annotations = [
      { id: 500, image_id: 10, category_id: 7, bbox: [90, 40, 20, 20] },
      { id: 501, image_id: 10, category_id: 1, bbox: [10, 5, 20, 10], iscrowd: 0 },
      { id: 502, image_id: 11, category_id: 1, bbox: [0, 0, 10, 10], iscrowd: 1, segmentation: { counts: 'x', size: [50, 100] } },
      { id: 503, image_id: 12, category_id: 1, bbox: [0, 0, 0, 5] },
      { id: 504, image_id: 13, category_id: 1, bbox: [10, 5, 20, 10] },
      { id: 505, image_id: 13, category_id: 1, bbox: [10, 5, 20, 10] },
      { id: 506, image_id: 30, category_id: 7, bbox: [0, 0, 320, 240] },
      { image_id: 14, category_id: 1, bbox: [1, 1, 2, 2] },
    ];
    const { input, output } = fresh();
    writeDiceDataset(input, { images, annotations, categories: cats, files: [...images.slice(0, 9).map((i) => ({ rel: i.file_name, width: 100, height: 50 }))] });
    writeFileSync(join(input, 'images', 'nosize.jpg'), jpegHeaderBytes(640, 480));
    const p = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', logger, splitConfig: { splits: { ...Object.fromEntries(images.slice(1, 9).map((i) => [String(i.id), 'train'])), 'sub/im0.png': 'val', nosize: 'test' } } });
    expect(p.format).toBe('coco');
    expect(p.source).toBe('diceformat');
    expect(p.root).toBe(output);
    expect(p.coco).toEqual({ train: join(output, 'train.json'), val: join(output, 'val.json'), test: join(output, 'test.json') });
    expect(p.dataYaml).toBeUndefined();
    expect(p.report.target).toBe('coco');
    expect(tree(output)).toEqual(['.dice2yolo', 'classes.json', 'report.json', 'test.json', 'train.json', 'val.json']);

    const val = readCoco(p.coco!.val);
    expect(val.categories).toEqual([
      { id: 0, name: 'cat', supercategory: 'animal', dice_id: 1 },
      { id: 1, name: 'dog', dice_id: 7 },
    ]);
    expect(JSON.parse(readFileSync(join(output, 'classes.json'), 'utf8'))).toEqual([{ index: 0, id: 1, name: 'cat' }, { index: 1, id: 7, name: 'dog' }]);
    expect(val.images).toEqual([{ id: 10, file_name: join(input, 'images', 'sub/im0.png'), width: 100, height: 50, dice_id: 10 }]);
    for (const im of val.images) expect(statSync(im.file_name).isFile()).toBe(true);
    // Clipped to the image and re-measured; the class is the index, iscrowd always 0.
    expect(val.annotations).toEqual([
      { id: 1, image_id: 10, category_id: 1, bbox: [90, 40, 10, 10], area: 100, iscrowd: 0, dice_id: 500 },
      { id: 2, image_id: 10, category_id: 0, bbox: [10, 5, 20, 10], area: 200, iscrowd: 0, dice_id: 501 },
    ]);
    const test = readCoco(p.coco!.test!);
    expect(test.images).toEqual([{ id: 30, file_name: join(input, 'images', 'nosize.jpg'), width: 640, height: 480, dice_id: 30 }]);
    expect(test.annotations.map((a) => a.bbox)).toEqual([[0, 0, 320, 240]]);
    const train = readCoco(p.coco!.train);
    expect(train.images).toHaveLength(8);
    // The duplicate, the crowd region and the zero-area box are gone; an annotation without id gets none of its own.
    expect(train.annotations.map((a) => a.dice_id ?? null)).toEqual([504, null]);
    expect(train.annotations.map((a) => a.id)).toEqual([3, 5]);
    expect(p.report.dropped.crowd!.count).toBe(1);
    expect(p.report.dropped.zero_area_box!.count).toBe(1);
    expect(p.report.dropped.duplicate_annotation!.examples).toEqual(['annotations[5] (id 505): same class and coordinates as an earlier annotation of images[3] (id 13)']);
    expect(p.report.repaired.clipped_box!.count).toBe(1);
    expect(p.report.repaired.size_from_header!.count).toBe(1);
    expect(p.report.splits).toEqual({
      train: { images: 8, annotations: 2, background: 6 },
      val: { images: 1, annotations: 2, background: 0 },
      test: { images: 1, annotations: 1, background: 0 },
    });
    expect(p.report.classes).toEqual([
      { index: 0, id: 1, name: 'cat', train: 2, val: 1, test: 0 },
      { index: 1, id: 7, name: 'dog', train: 0, val: 1, test: 1 },
    ]);
    expect(p.report.annotations).toEqual({ listed: 8, kept: 5 });
    expect(JSON.parse(readFileSync(join(output, 'report.json'), 'utf8')).target).toBe('coco');
  });

  it('keeps the yolo report: the same drops, repairs, counts per split and class for the same dataset', async () => {
    const images = Array.from({ length: 30 }, (_, i) => img(i + 1, `im${i}.png`, 100 + i, 80));
    const annotations = Array.from({ length: 200 }, (_, i) => ({
      id: 1000 + i,
      image_id: i % 37 === 5 ? 999 : 1 + ((i * 13) % 30),
      category_id: i % 29 === 3 ? 77 : i % 2 ? 7 : 1,
      bbox: i % 23 === 0 ? [90, 70, 40, 30] : i % 31 === 0 ? [5, 5, 0, 3] : [i % 40, (i * 3) % 50, 10 + (i % 9), 8],
      iscrowd: i % 41 === 7 ? 1 : 0,
      ...(i % 17 === 0 ? { segmentation: { counts: 'x', size: [80, 100] } } : {}),
    }));
    annotations.push({ ...annotations[10]!, id: 5000 });
    const fx = { images, annotations, categories: cats };
    const yolo = await convert(fx, 'detect', 'yolo');
    const coco = await convert(fx, 'detect', 'coco');
    const pick = (p: PreparedDataset) => ({
      images: p.report.images,
      annotations: p.report.annotations,
      splits: p.report.splits,
      classes: p.report.classes,
      dropped: Object.fromEntries(Object.entries(p.report.dropped).map(([k, g]) => [k, g.count])),
      repaired: Object.fromEntries(Object.entries(p.report.repaired).map(([k, g]) => [k, g.count])),
      notes: Object.fromEntries(Object.entries(p.report.notes).map(([k, g]) => [k, g.count])),
    });
    expect(pick(coco.prepared)).toEqual(pick(yolo.prepared));
    expect(coco.prepared.report.dropped.duplicate_annotation!.count).toBe(1);
    expect(splitsOf(coco.prepared)).toEqual(splitsOf(yolo.prepared));
  });

  it('segment: polygons clipped part by part, the box around them, area of the clipped polygons; RLE skipped', async () => {
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 1, 1], segmentation: [[10, 10, 20, 10, 20, 20, 10, 20]] },
      { id: 2, image_id: 1, category_id: 1, segmentation: [[0, 0, 10, 0, 10, 10], [90, 40, 120, 40, 120, 60, 90, 60], [200, 200, 210, 200, 210, 210]] },
      { id: 3, image_id: 2, category_id: 7, bbox: [10, 10, 20, 10] },
      { id: 4, image_id: 2, category_id: 7, bbox: [0, 0, 10, 10], segmentation: { counts: [1, 2], size: [50, 100] } },
    ];
    const { prepared } = await convert({ images, annotations, categories: cats }, 'segment', 'coco', { splitConfig: { splits: { 1: 'train', 2: 'val' } } });
    const train = readCoco(prepared.coco!.train);
    expect(train.annotations).toEqual([
      { id: 1, image_id: 1, category_id: 0, bbox: [10, 10, 10, 10], area: 100, iscrowd: 0, segmentation: [[10, 10, 20, 10, 20, 20, 10, 20]], dice_id: 1 },
      {
        id: 2,
        image_id: 1,
        category_id: 0,
        bbox: [0, 0, 100, 50],
        area: 50 + 100,
        iscrowd: 0,
        segmentation: [[0, 0, 10, 0, 10, 10], [90, 50, 90, 40, 100, 40, 100, 50]],
        dice_id: 2,
      },
    ]);
    const val = readCoco(prepared.coco!.val);
    expect(val.annotations).toEqual([{ id: 3, image_id: 2, category_id: 1, bbox: [10, 10, 20, 10], area: 200, iscrowd: 0, segmentation: [[10, 10, 30, 10, 30, 20, 10, 20]], dice_id: 3 }]);
    expect(prepared.report.dropped.rle_segmentation!.count).toBe(1);
    expect(prepared.report.repaired.polygon_from_box!.count).toBe(1);
    expect(prepared.report.repaired.clipped_polygon!.count).toBe(1);
    expect(prepared.report.repaired.merged_multipart_polygon).toBeUndefined();
  });

  it('segment: an object in two parts is not a duplicate of one outline with the same numbers', async () => {
    const a = [1, 1, 9, 1, 9, 9];
    const b = [20, 20, 30, 20, 30, 30, 20, 30];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, segmentation: [a, b] },
      { id: 2, image_id: 1, category_id: 1, segmentation: [[...a, ...b]] },
      { id: 3, image_id: 1, category_id: 1, segmentation: [a, b] },
    ];
    const { prepared } = await convert({ images: [img(1, 'a.png')], annotations, categories: cats }, 'segment', 'coco');
    expect(readCoco(prepared.coco!.train).annotations.map((x) => x.dice_id)).toEqual([1, 2]);
    expect(prepared.report.dropped.duplicate_annotation!.count).toBe(1);
  });

  it('pose: pixel keypoints clipped, padded to kpt_shape, num_keypoints counted; categories keep names and skeleton', async () => {
    const categories = [{ id: 1, name: 'person', keypoints: ['nose', 'left_eye', 'right_eye'], skeleton: [[2, 3]] }];
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 50, 25], keypoints: [10, 5, 2, 120, 10, 1, 30, 10, 0] },
      { id: 2, image_id: 2, category_id: 1, bbox: [0, 0, 50, 25], keypoints: [10, 5, 2] },
    ];
    const { prepared } = await convert({ images, annotations, categories }, 'pose', 'coco', { splitConfig: { splits: { 1: 'train', 2: 'val' } } });
    expect(prepared.kptShape).toEqual([3, 3]);
    const train = readCoco(prepared.coco!.train);
    expect(train.categories).toEqual([{ id: 0, name: 'person', dice_id: 1, keypoints: ['nose', 'left_eye', 'right_eye'], skeleton: [[2, 3]] }]);
    expect(train.annotations[0]).toMatchObject({ keypoints: [10, 5, 2, 100, 10, 1, 30, 10, 0], num_keypoints: 2 });
    expect(readCoco(prepared.coco!.val).annotations[0]).toMatchObject({ keypoints: [10, 5, 2, 0, 0, 0, 0, 0, 0], num_keypoints: 1 });
    expect(prepared.report.repaired.keypoints_clipped!.count).toBe(1);
    expect(prepared.report.repaired.keypoints_padded!.count).toBe(1);
  });

  it('numbers images 1..N, keeping each DICE id as dice_id, when the ids are not all integers', async () => {
    const images = [img(1, 'a.png'), { ...img(2, 'b.png'), id: 'b-2' }];
    const annotations = [{ id: 'x', image_id: 'b-2', category_id: 1, bbox: [1, 1, 5, 5] }];
    const { prepared } = await convert({ images, annotations, categories: cats }, 'detect', 'coco', { splitConfig: { splits: { 1: 'val', 'b-2': 'train' } } });
    const train = readCoco(prepared.coco!.train);
    expect(train.images.map((i) => [i.id, i.dice_id])).toEqual([[2, 'b-2']]);
    expect(train.annotations[0]).toMatchObject({ id: 1, image_id: 2, dice_id: 'x' });
  });

  it('a lone image is in train.json and val.json', async () => {
    const { prepared } = await convert({ images: [img(1, 'a.png')], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5] }], categories: cats }, 'detect', 'coco');
    expect(readCoco(prepared.coco!.train).annotations).toHaveLength(1);
    expect(readCoco(prepared.coco!.val).annotations).toHaveLength(1);
    expect(prepared.coco!.test).toBeUndefined();
  });

  const bad: Array<[string, DiceFixture, RegExp]> = [
    ['a file_name escaping the dataset', { images: [img(1, '../../outside.png')], categories: cats }, /^images\[0\] \(id 1\): file_name "\.\.\/\.\.\/outside\.png" escapes the dataset directory$/],
    ['a bad bbox late in the file', { images: [img(1, 'a.png'), img(2, 'b.png')], categories: cats, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 1, 2, 2] }, { id: 2, image_id: 2, category_id: 1, bbox: [1, 'x', 2, 2] }] }, /^annotations\[1\] \(id 2\): bbox must be 4 numbers/],
    ['keypoints of the wrong type', { images: [img(1, 'a.png')], categories: [{ id: 1, name: 'p', keypoints: ['a'] }], annotations: [{ id: 9, image_id: 1, category_id: 1, bbox: [1, 1, 2, 2], keypoints: 'x' }] }, /^annotations\[0\] \(id 9\): keypoints must be a list/],
    ['truncated JSON', { rawJson: '{"images": [{"id": 1, "file_name": "a.png"' }, /^annotations\.json: invalid JSON at byte \d+: unexpected end of file/],
    ['nothing left to train on', { images: [img(1, 'a.png')], categories: cats, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [500, 500, 5, 5] }] }, /^no usable annotation: all 1 annotations were dropped \(1 box_outside_image\)$/],
  ];
  it.each(bad)('%s: exit 3 naming the item, nothing but the marker left in the output, nothing written elsewhere', async (_name, fx, message) => {
    const { input, output } = fresh();
    writeDiceDataset(input, fx);
    const before = tree(join(input, '..'));
    const task: Task = _name.startsWith('keypoints') ? 'pose' : 'detect';
    const err = await prepareDataset({ inputDir: input, outputDir: output, task, format: 'coco', logger }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainerError);
    expect((err as TrainerError).exitCode).toBe(3);
    expect((err as TrainerError).problems).toHaveLength(1);
    expect((err as TrainerError).message).toMatch(message);
    expect(readdirSync(output)).toEqual(['.dice2yolo']);
    expect(tree(join(input, '..')).filter((f) => !f.startsWith('out/'))).toEqual(before);
  });

  it('strict: dangling references name every item', async () => {
    const images = [img(1, 'a.png'), img(2, 'gone.png')];
    const annotations = [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5] }, { id: 98765, image_id: 1, category_id: 3, bbox: [0, 0, 5, 5] }];
    const { input, output } = fresh();
    writeDiceDataset(input, { images, annotations, categories: cats, files: [{ rel: 'a.png', width: 100, height: 50 }] });
    const err = (await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', strict: true, logger }).catch((e: unknown) => e)) as DataError;
    expect(err.problems).toEqual(['images[1] (id 2): file images/gone.png not found']);
    writeDiceDataset(input, { images: [img(1, 'a.png')], annotations, categories: cats });
    const err2 = (await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', strict: true, logger }).catch((e: unknown) => e)) as DataError;
    expect(err2.problems).toEqual(['annotations[1] (id 98765): category_id 3 not in categories']);
    expect(readdirSync(output)).toEqual(['.dice2yolo']);
  });

  it('refuses coco for classify and obb, with a one-line ConfigError', async () => {
    for (const task of ['classify', 'obb'] as const) {
      const err = await convert({ images: [img(1, 'a.png')], categories: cats }, task, 'coco').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).message).toBe(`dataset format coco is not available for task ${task} (coco: detect, segment, pose)`);
    }
  });
});

describe('imagefolder', () => {
  const images = Array.from({ length: 12 }, (_, i) => ({ ...img(i + 1, `c${i % 2}/im${i}.png`), category_id: i % 2 ? 7 : 1 }));

  it('writes {train,val}/<class>/ trees for classify, the same as yolo classify', async () => {
    const a = await convert({ images, categories: cats }, 'classify', 'imagefolder');
    const b = await convert({ images, categories: cats }, 'classify', 'yolo');
    expect(a.prepared.format).toBe('imagefolder');
    expect(a.prepared.imageFolder).toEqual({ train: join(a.output, 'train'), val: join(a.output, 'val') });
    expect(a.prepared.report.target).toBe('imagefolder');
    expect(readdirSync(join(a.output, 'train')).sort()).toEqual(['cat', 'dog']);
    expect(tree(a.output).filter((f) => /^(train|val)\//.test(f))).toEqual(tree(b.output).filter((f) => /^(train|val)\//.test(f)));
  });

  it('is for classify only: a one-line ConfigError for any other task', async () => {
    for (const task of ['detect', 'segment', 'pose', 'obb'] as const) {
      const err = await convert({ images, categories: cats }, task, 'imagefolder').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as ConfigError).problems).toEqual([`dataset format imagefolder is for task classify only, not ${task}`]);
    }
  });

  it('uses an ImageFolder tree in place', async () => {
    const { input, output } = fresh();
    for (const s of ['train', 'val']) {
      for (const c of ['ant', 'bee']) {
        mkdirSync(join(input, s, c), { recursive: true });
        writeFileSync(join(input, s, c, 'x.jpg'), jpegHeaderBytes(8, 8));
      }
    }
    const p = await prepareDataset({ inputDir: input, outputDir: output, task: 'classify', format: 'imagefolder', logger });
    expect(p.source).toBe('imagefolder');
    expect(p.imageFolder).toEqual({ train: join(input, 'train'), val: join(input, 'val') });
    expect(p.classes.map((c) => c.name)).toEqual(['ant', 'bee']);
  });
});

describe('the same image lands in the same split in every format', () => {
  it('yolo and coco for detect, segment and pose; imagefolder as yolo classify (seeded hash, split_config)', async () => {
    const images = Array.from({ length: 40 }, (_, i) => ({ ...img(i + 1, `d${i % 3}/im${i}.png`), category_id: 1 + (i % 2) * 6 }));
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: im.category_id, bbox: [1, 1, 20, 10], segmentation: [[1, 1, 21, 1, 21, 11]], keypoints: [2, 2, 2] }));
    const categories = [{ id: 1, name: 'cat', keypoints: ['a'] }, { id: 7, name: 'dog', keypoints: ['a'] }];
    const configs: Array<{ seed?: number; val_ratio?: number; splits?: Record<string, string> }> = [{ seed: 11, val_ratio: 0.3 }, { splits: { 'd0/im0.png': 'test', im5: 'val', '7': 'test' } }];
    for (const splitConfig of configs) {
      const fx = { images, annotations, categories };
      const bySplit: Array<Map<string, string>> = [];
      for (const task of ['detect', 'segment', 'pose'] as const) {
        for (const format of ['yolo', 'coco'] as const) bySplit.push(splitsOf((await convert(fx, task, format, { splitConfig })).prepared));
      }
      for (const m of bySplit) expect(m).toEqual(bySplit[0]);
      expect(new Set(bySplit[0]!.values())).toEqual(new Set(splitConfig.splits ? ['train', 'val', 'test'] : ['train', 'val']));
      // classify: 20 images a class, so no class needs an image moved, and the folders follow the same hash.
      const folder = splitsOf((await convert(fx, 'classify', 'imagefolder', { splitConfig })).prepared);
      expect(folder).toEqual(bySplit[0]);
    }
  });
});

describe('datasets already in a native layout', () => {
  function cocoFile(images: unknown[], annotations: unknown[], categories: unknown[] = cats): string {
    return JSON.stringify({ images, annotations, categories });
  }

  it('takes train.json + val.json beside images/ as they come, validated and rewritten with absolute paths', async () => {
    const { input, output } = fresh();
    writeDiceDataset(join(input), { images: [img(1, 'a.png'), img(2, 'b.png'), img(3, 'c.png'), img(4, 'unused.png')], categories: cats });
    rmSync(join(input, 'annotations.json'));
    writeFileSync(join(input, 'train.json'), cocoFile([img(1, 'a.png'), img(2, 'b.png')], [{ id: 1, image_id: 1, category_id: 7, bbox: [90, 0, 20, 10] }, { id: 2, image_id: 5, category_id: 1, bbox: [0, 0, 1, 1] }]));
    writeFileSync(join(input, 'val.json'), cocoFile([img(1, 'c.png')], [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 4, 4] }]));
    const p = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', logger, splitConfig: { val_ratio: 0.5 } });
    expect(p.source).toBe('coco');
    expect(p.report.format).toBe('coco');
    const train = readCoco(p.coco!.train);
    expect(train.images.map((i) => i.file_name)).toEqual([join(input, 'images', 'a.png'), join(input, 'images', 'b.png')]);
    expect(train.annotations).toEqual([{ id: 1, image_id: 1, category_id: 1, bbox: [90, 0, 10, 10], area: 100, iscrowd: 0, dice_id: 1 }]);
    // Annotation ids stay unique across the split files.
    expect(readCoco(p.coco!.val).annotations.map((a) => [a.id, a.image_id])).toEqual([[2, 1]]);
    expect(p.report.dropped.unknown_image!.examples).toEqual(['train.json: annotations[1] (id 2): image_id 5 not in images']);
    expect(p.report.notes.images_not_in_json!.examples).toEqual(['images/unused.png']);
    expect(p.report.notes.split_config_ignored!.count).toBe(1);
    expect(p.report.splits.train.images).toBe(2);
    expect(p.report.splits.val.images).toBe(1);
  });

  it('takes COCO\'s own layout: annotations/instances_{train,val}2017.json with train2017/ and val2017/', async () => {
    const { input, output } = fresh();
    mkdirSync(join(input, 'annotations'), { recursive: true });
    for (const s of ['train2017', 'val2017']) {
      mkdirSync(join(input, s), { recursive: true });
      writeFileSync(join(input, s, `${s}-1.png`), pngBytes(100, 50));
      writeFileSync(join(input, 'annotations', `instances_${s}.json`), cocoFile([img(42, `${s}-1.png`)], [{ id: 1, image_id: 42, category_id: 1, bbox: [1, 1, 5, 5] }]));
    }
    const p = await prepareDataset({ inputDir: input, outputDir: output, task: 'segment', format: 'coco', logger });
    expect(readCoco(p.coco!.val).images[0]!.file_name).toBe(join(input, 'val2017', 'val2017-1.png'));
    expect(readCoco(p.coco!.train).annotations[0]!.segmentation).toEqual([[1, 1, 6, 1, 6, 6, 1, 6]]);
  });

  it('names the split file in its errors, and refuses split files whose categories differ', async () => {
    const { input, output } = fresh();
    writeDiceDataset(input, { images: [img(1, 'a.png'), img(2, 'b.png')] });
    rmSync(join(input, 'annotations.json'));
    writeFileSync(join(input, 'train.json'), cocoFile([img(1, 'a.png')], []));
    writeFileSync(join(input, 'val.json'), cocoFile([img(1, 'b.png')], [{ id: 3, image_id: 1, category_id: 1, bbox: 'no' }]));
    const err = (await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', logger }).catch((e: unknown) => e)) as DataError;
    expect(err.problems).toEqual(['val.json: annotations[0] (id 3): bbox must be 4 numbers [x, y, width, height], got "no"']);
    writeFileSync(join(input, 'val.json'), cocoFile([img(1, 'b.png')], [], [{ id: 1, name: 'cat' }]));
    const err2 = (await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', logger }).catch((e: unknown) => e)) as DataError;
    expect(err2.problems).toEqual([`val.json: categories differ from train.json's (1 categories: 1 "cat" vs 2 categories: 1 "cat", 7 "dog"): class indices would mean different things`]);
    writeFileSync(join(input, 'val.json'), '{"images": [');
    const err3 = (await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', logger }).catch((e: unknown) => e)) as DataError;
    expect(err3.problems[0]).toMatch(/^val\.json: invalid JSON at byte \d+/);
    expect(readdirSync(output)).toEqual(['.dice2yolo']);
  });

  it('refuses a layout the framework does not read, saying which it needs', async () => {
    const { input, output } = fresh();
    for (const s of ['train', 'val']) {
      mkdirSync(join(input, 'images', s), { recursive: true });
      mkdirSync(join(input, 'labels', s), { recursive: true });
      writeFileSync(join(input, 'images', s, 'a.jpg'), jpegHeaderBytes(10, 10));
      writeFileSync(join(input, 'labels', s, 'a.txt'), '0 0.5 0.5 0.1 0.1\n');
    }
    writeFileSync(join(input, 'data.yaml'), 'names: [person]\n');
    const err = (await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', format: 'coco', logger }).catch((e: unknown) => e)) as DataError;
    expect(err).toBeInstanceOf(DataError);
    expect(err.exitCode).toBe(3);
    expect(err.problems).toEqual([
      `${input}: a YOLO dataset (data.yaml + images/ + labels/), but this trainer reads coco: give annotations.json + images/ (DICEFormat), or train.json + val.json beside images/, or annotations/instances_{train,val}*.json (COCO)`,
    ]);
    expect(existsSync(output)).toBe(false);

    const c = fresh();
    writeDiceDataset(c.input, { images: [img(1, 'a.png')] });
    rmSync(join(c.input, 'annotations.json'));
    for (const s of ['train', 'val']) writeFileSync(join(c.input, `${s}.json`), cocoFile([img(1, 'a.png')], []));
    const err2 = (await prepareDataset({ inputDir: c.input, outputDir: c.output, task: 'detect', logger }).catch((e: unknown) => e)) as DataError;
    expect(err2.problems[0]).toMatch(/: a pre-split COCO dataset, but this trainer reads yolo: give annotations\.json \+ images\/ \(DICEFormat\) or data\.yaml \+ images\/ \+ labels\/ \(YOLO\)$/);
  });
});

/** A Python with pycocotools, where one is set up (TRAINERS_DEV_PYTHON or a dev venv); this check may skip. */
function pythonWith(module: string): string | undefined {
  const home = process.env.TRAINERS_VENV_HOME ?? join(homedir(), '.cache', 'trainers', 'venvs');
  const venvs = existsSync(home) ? readdirSync(home).filter((d) => existsSync(join(home, d, '.complete'))).map((d) => join(home, d, 'bin', 'python')) : [];
  for (const py of [process.env.TRAINERS_DEV_PYTHON, process.env.TRAINER_PYTHON, ...venvs, 'python3'].filter((p): p is string => !!p)) {
    try {
      execFileSync(py, ['-c', `import ${module}`], { stdio: 'ignore' });
      return py;
    } catch {
      /* next */
    }
  }
  return undefined;
}

describe('what pycocotools sees', () => {
  // pycocotools is in the dev venv; under CI=true its absence fails instead of skipping.
  const py = pythonWith('pycocotools') ?? void missingReal('pycocotools (the dev venv, tools/python/requirements.txt)');
  (py ? it : it.skip)('COCO(train.json) loads every split, and its indices agree with the files', async () => {
    const images = Array.from({ length: 8 }, (_, i) => img(i + 1, `im${i}.png`));
    const annotations = images.map((im, i) => ({ id: i + 1, image_id: im.id, category_id: i % 2 ? 7 : 1, bbox: [1, 1, 30, 20], segmentation: [[1, 1, 31, 1, 31, 21, 1, 21]] }));
    const { prepared } = await convert({ images, annotations, categories: cats }, 'segment', 'coco');
    const script = `
import sys, io, contextlib
from pycocotools.coco import COCO
n = 0
for path in sys.argv[1:]:
    with contextlib.redirect_stdout(io.StringIO()):
        c = COCO(path)
    assert sorted(c.getCatIds()) == [0, 1], c.getCatIds()
    for a in c.loadAnns(c.getAnnIds()):
        m = c.annToMask(a)
        assert m.sum() > 0 and abs(m.sum() - a['area']) <= 0.1 * a['area'] + 60, (m.sum(), a['area'])
        n += 1
print(n)
`;
    const out = execFileSync(py!, ['-c', script, prepared.coco!.train, prepared.coco!.val], { encoding: 'utf8' });
    expect(out.trim()).toBe('8');
  });
});
