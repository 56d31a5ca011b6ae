import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError, DataUnavailableError, ConfigError, TrainerError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { prepareDataset, summarizeReport, inferTaskFromModelName, splitConfigSchema, type PreparedDataset } from './index.js';
import { writeDiceDataset, jpegHeaderBytes, type DiceFixture } from './fixtures.js';
import type { Task } from '../domain/index.js';
import type { ConvertTuning } from './types.js';

const logger = createLogger({ level: 'silent' });
let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'convert-spec-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function fresh(): { input: string; output: string } {
  const base = join(root, `case-${n++}`);
  return { input: join(base, 'in'), output: join(base, 'out') };
}

async function convert(fx: DiceFixture, task: Task = 'detect', extra: { strict?: boolean; tuning?: ConvertTuning; splitConfig?: object } = {}) {
  const { input, output } = fresh();
  writeDiceDataset(input, fx);
  const prepared = await prepareDataset({ inputDir: input, outputDir: output, task, logger, ...extra });
  return { input, output, prepared };
}

/** Every label line of every listed image, found the way Ultralytics finds it (last /images/ → /labels/). */
function labelsOf(prepared: PreparedDataset, split: 'train' | 'val' | 'test' = 'train'): Map<string, string[]> {
  const list = join(prepared.root, `${split}.txt`);
  const out = new Map<string, string[]>();
  if (!existsSync(list)) return out;
  for (const img of readFileSync(list, 'utf8').trim().split('\n')) {
    const i = img.lastIndexOf('/images/');
    const label = img.slice(0, i) + '/labels/' + img.slice(i + 8).replace(/\.[^.]+$/, '.txt');
    expect(existsSync(img)).toBe(true);
    out.set(img, readFileSync(label, 'utf8').split('\n').filter(Boolean));
  }
  return out;
}

function allLabels(prepared: PreparedDataset): string[] {
  return (['train', 'val', 'test'] as const).flatMap((s) => [...labelsOf(prepared, s).values()].flat());
}

const cats = [{ id: 1, name: 'cat' }, { id: 2, name: 'dog' }];
const img = (id: number, file_name: string, width = 100, height = 50) => ({ id, file_name, width, height });

describe('detect', () => {
  it('writes data.yaml with absolute paths, split lists, labels beside linked image folders and classes.json', async () => {
    const images = Array.from({ length: 10 }, (_, i) => img(i + 1, `im${i}.png`));
    const annotations = images.map((im, i) => ({ id: 100 + i, image_id: im.id, category_id: 1 + (i % 2), bbox: [10, 5, 20, 10] }));
    const { output, prepared } = await convert({ images, annotations, categories: cats });
    const yaml = readFileSync(prepared.dataYaml!, 'utf8');
    expect(yaml).toContain(`path: "${output}"`);
    expect(yaml).toContain(`train: "${join(output, 'train.txt')}"`);
    expect(yaml).toContain(`val: "${join(output, 'val.txt')}"`);
    expect(yaml).toMatch(/names:\n {2}0: "cat"\n {2}1: "dog"/);
    expect(JSON.parse(readFileSync(join(output, 'classes.json'), 'utf8'))).toEqual([
      { index: 0, id: 1, name: 'cat' },
      { index: 1, id: 2, name: 'dog' },
    ]);
    expect(lstatSync(join(output, 'train', '000', 'images')).isSymbolicLink()).toBe(true);
    const lines = allLabels(prepared);
    expect(lines).toHaveLength(10);
    // box 10,5,20,10 in 100x50 → cx 0.2, cy 0.2, w 0.2, h 0.2
    expect(new Set(lines.map((l) => l.slice(2)))).toEqual(new Set(['0.2 0.2 0.2 0.2']));
    expect(prepared.report.splits.val.images).toBeGreaterThan(0);
    expect(prepared.report.splits.train.images + prepared.report.splits.val.images).toBe(10);
    expect(prepared.report.annotations).toEqual({ listed: 10, kept: 10 });
    expect(summarizeReport(prepared.report)).toMatch(/10\/10 images/);
  });

  it('maps non-COCO category ids (0, gaps, above 91) to 0..N-1 by sorted id', async () => {
    const categories = [{ id: 150, name: 'c150' }, { id: 0, name: 'zero' }, { id: 12, name: 'twelve' }];
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 0, bbox: [0, 0, 10, 10] },
      { id: 2, image_id: 1, category_id: 12, bbox: [0, 0, 20, 10] },
      { id: 3, image_id: 2, category_id: 150, bbox: [0, 0, 30, 10] },
    ];
    const { prepared } = await convert({ images, annotations, categories });
    expect(prepared.classes).toEqual([
      { index: 0, id: 0, name: 'zero' },
      { index: 1, id: 12, name: 'twelve' },
      { index: 2, id: 150, name: 'c150' },
    ]);
    expect(allLabels(prepared).sort()).toEqual(['0 0.05 0.1 0.1 0.2', '1 0.1 0.1 0.2 0.2', '2 0.15 0.1 0.3 0.2']);
  });

  it('clips boxes crossing the border, drops zero-area boxes, and reports both with examples', async () => {
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 7, image_id: 1, category_id: 1, bbox: [90, 40, 20, 20] },
      { id: 8, image_id: 1, category_id: 1, bbox: [-10, -10, 20, 20] },
      { id: 9, image_id: 2, category_id: 1, bbox: [10, 10, 0, 5] },
      { id: 10, image_id: 2, category_id: 1, bbox: [500, 500, 5, 5] },
      { id: 11, image_id: 2, category_id: 2, bbox: [1, 1, 2, 2] },
    ];
    const { prepared } = await convert({ images, annotations, categories: cats });
    const lines = allLabels(prepared);
    expect(lines.sort()).toEqual(['0 0.05 0.1 0.1 0.2', '0 0.95 0.9 0.1 0.2', '1 0.02 0.04 0.02 0.04']);
    for (const l of lines) for (const v of l.split(' ').slice(1).map(Number)) expect(v >= 0 && v <= 1).toBe(true);
    expect(prepared.report.repaired.clipped_box!.count).toBe(2);
    expect(prepared.report.repaired.clipped_box!.examples[0]).toMatch(/^annotations\[0\] \(id 7\)/);
    expect(prepared.report.dropped.zero_area_box!.count).toBe(1);
    expect(prepared.report.dropped.box_outside_image!.count).toBe(1);
  });

  it('skips crowd annotations; an image with only crowd gets an empty label file', async () => {
    const images = [img(1, 'a.png'), img(2, 'b.png'), img(3, 'c.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], iscrowd: 1, segmentation: { counts: 'abc', size: [50, 100] } },
      { id: 2, image_id: 2, category_id: 1, bbox: [0, 0, 10, 10], iscrowd: 0 },
    ];
    const { prepared } = await convert({ images, annotations, categories: cats });
    const all = new Map([...labelsOf(prepared, 'train'), ...labelsOf(prepared, 'val')]);
    const byName = new Map([...all].map(([k, v]) => [k.slice(k.lastIndexOf('/') + 1), v]));
    expect(byName.get('a.png')).toEqual([]);
    expect(byName.get('b.png')).toHaveLength(1);
    expect(byName.get('c.png')).toEqual([]);
    expect(prepared.report.dropped.crowd!.count).toBe(1);
    expect(prepared.report.notes.images_without_annotations!.count).toBe(2);
  });

  it('drops annotations of unknown images and categories by default, and fails naming them when strict', async () => {
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] },
      { id: 98765, image_id: 1, category_id: 77, bbox: [0, 0, 10, 10] },
      { id: 5, image_id: 404, category_id: 1, bbox: [0, 0, 10, 10] },
    ];
    const { prepared } = await convert({ images, annotations, categories: cats });
    expect(prepared.report.dropped.unknown_category).toEqual({ count: 1, examples: ['annotations[1] (id 98765): category_id 77 not in categories'] });
    expect(prepared.report.dropped.unknown_image!.examples[0]).toBe('annotations[2] (id 5): image_id 404 not in images');
    const err = await convert({ images, annotations, categories: cats }, 'detect', { strict: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).problems).toEqual([
      'annotations[1] (id 98765): category_id 77 not in categories',
      'annotations[2] (id 5): image_id 404 not in images',
    ]);
    expect((err as DataError).exitCode).toBe(3);
  });

  it('handles file names with sub-folders and puts labels where Ultralytics looks', async () => {
    const images = [img(1, 'train/sub/a.png'), img(2, 'x/b.png'), img(3, 'c.png')];
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [0, 0, 10, 10] }));
    const { output, prepared } = await convert({ images, annotations, categories: cats });
    const labelled = [...labelsOf(prepared, 'train'), ...labelsOf(prepared, 'val')];
    expect(labelled).toHaveLength(3);
    const anySplit = (rel: string) => ['train', 'val'].some((s) => existsSync(join(output, s, '000', 'labels', rel)));
    expect(anySplit('train/sub/a.txt')).toBe(true);
    expect(anySplit('x/b.txt')).toBe(true);
  });

  it('gives a.jpg and a.png a label file each, where Ultralytics would read one for both', async () => {
    const images = [img(1, 'a.png'), img(2, 'a.jpg'), img(3, 'b.png')];
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [0, 0, 10 * im.id, 10] }));
    const { prepared } = await convert({ images, annotations, categories: cats }, 'detect', { splitConfig: { splits: { 1: 'train', 2: 'train', 3: 'val' } } });
    const train = labelsOf(prepared, 'train');
    expect([...train.values()].sort()).toEqual([['0 0.05 0.1 0.1 0.2'], ['0 0.1 0.1 0.2 0.2']]);
    expect(prepared.report.repaired.label_name_clash!.examples).toEqual(['images[1] (id 2): a.jpg']);
  });

  it('keeps one entry of duplicate image ids and merges duplicate file names into one label file', async () => {
    const images = [img(1, 'a.png'), img(1, 'a.png'), img(2, 'b.png'), img(3, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10] },
      { id: 2, image_id: 2, category_id: 1, bbox: [0, 0, 10, 10] },
      { id: 3, image_id: 3, category_id: 2, bbox: [0, 0, 10, 10] },
      { id: 4, image_id: 3, category_id: 2, bbox: [0, 0, 10, 10] },
    ];
    const { prepared } = await convert({ images, annotations, categories: cats });
    expect(prepared.report.dropped.duplicate_image_entry!.count).toBe(1);
    expect(prepared.report.repaired.duplicate_file_name!.count).toBe(1);
    expect(prepared.report.dropped.duplicate_annotation!.count).toBe(1);
    const all = new Map([...labelsOf(prepared, 'train'), ...labelsOf(prepared, 'val')]);
    expect(all.size).toBe(2);
    const b = [...all].find(([k]) => k.endsWith('/b.png'))![1];
    expect(b.sort()).toEqual(['0 0.05 0.1 0.1 0.2', '1 0.05 0.1 0.1 0.2']);
  });

  it('reports missing image files and images not in the JSON, and reads missing sizes from PNG and JPEG headers', async () => {
    const { input, output } = fresh();
    writeDiceDataset(input, {
      images: [{ id: 1, file_name: 'a.png' }, { id: 2, file_name: 'b.jpg', width: null }, img(3, 'gone.png'), img(4, 'c.png')],
      annotations: [
        { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 32, 12] },
        { id: 2, image_id: 2, category_id: 1, bbox: [0, 0, 320, 120] },
        { id: 3, image_id: 3, category_id: 1, bbox: [0, 0, 3, 3] },
      ],
      categories: cats,
      files: [{ rel: 'a.png', width: 64, height: 24 }, { rel: 'c.png', width: 100, height: 50 }, { rel: 'extra.png', width: 4, height: 4 }],
    });
    writeFileSync(join(input, 'images', 'b.jpg'), jpegHeaderBytes(640, 480, 3000));
    const prepared = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger });
    expect(prepared.report.dropped.missing_image_file!.examples).toEqual(['images[2] (id 3): file images/gone.png not found']);
    expect(prepared.report.notes.images_not_in_json!.examples).toEqual(['images/extra.png']);
    expect(prepared.report.repaired.size_from_header!.count).toBe(2);
    expect(allLabels(prepared).sort()).toEqual(['0 0.25 0.125 0.5 0.25', '0 0.25 0.25 0.5 0.5']);
    const strict = await prepareDataset({ inputDir: input, outputDir: output + '2', task: 'detect', logger, strict: true }).catch((e: unknown) => e);
    expect((strict as DataError).problems).toEqual(['images[2] (id 3): file images/gone.png not found']);
  });

  it('reads a turned JPEG\'s size the way the framework decodes it: EXIF orientation 6 swaps the sides', async () => {
    const { input, output } = fresh();
    writeDiceDataset(input, {
      images: [{ id: 1, file_name: 'upright.jpg' }, { id: 2, file_name: 'turned.jpg' }],
      annotations: [1, 2].map((id) => ({ id, image_id: id, category_id: 1, bbox: [0, 0, 240, 320] })),
      categories: cats,
    });
    // Both store 640x480 pixels; the second is shown (and decoded by OpenCV) as 480x640.
    writeFileSync(join(input, 'images', 'upright.jpg'), jpegHeaderBytes(640, 480));
    writeFileSync(join(input, 'images', 'turned.jpg'), jpegHeaderBytes(640, 480, 300, 6));
    const prepared = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger, splitConfig: { splits: { 1: 'train', 2: 'val' } } });
    expect([...labelsOf(prepared, 'train').values()]).toEqual([['0 0.1875 0.3333333333 0.375 0.6666666667']]);
    expect([...labelsOf(prepared, 'val').values()]).toEqual([['0 0.25 0.25 0.5 0.5']]);
    expect(prepared.report.repaired.size_from_header!.examples).toContain('images[1] (id 2): 480x640 (EXIF orientation: turned 90°, sides swapped)');
  });

  it('relinks images whose path holds an images/ folder so labels never land in the source tree', async () => {
    const images = [img(1, 'images/nested/images/a.png'), img(2, 'b.png')];
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [0, 0, 10, 10] }));
    const { input, prepared } = await convert({ images, annotations, categories: cats });
    expect(allLabels(prepared)).toHaveLength(2);
    expect(prepared.report.repaired.image_path_relinked!.count).toBe(1);
    const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : [e.name]));
    expect(walk(join(input, 'images')).filter((f) => f.endsWith('.txt'))).toEqual([]);
  });

  it('honours split_config.splits by id, file name and stem, and keeps val non-empty', async () => {
    const images = Array.from({ length: 6 }, (_, i) => img(i + 1, `im${i}.png`));
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [0, 0, 10, 10] }));
    const splitConfig = { splits: { '1': 'val', 'im1.png': 'test', im2: 'val', nothing: 'train' }, val_ratio: 0.01, seed: 3 };
    const { output, prepared } = await convert({ images, annotations, categories: cats }, 'detect', { splitConfig });
    const list = (s: string) => readFileSync(join(output, `${s}.txt`), 'utf8').trim().split('\n').map((p) => p.slice(p.lastIndexOf('/') + 1)).sort();
    expect(list('val')).toEqual(['im0.png', 'im2.png']);
    expect(list('test')).toEqual(['im1.png']);
    expect(list('train')).toEqual(['im3.png', 'im4.png', 'im5.png']);
    expect(readFileSync(prepared.dataYaml!, 'utf8')).toContain('test: ');
    expect(prepared.report.notes.unmatched_split_key!.examples).toEqual(['nothing']);
    const tiny = await convert({ images: images.slice(0, 3), annotations: annotations.slice(0, 3), categories: cats }, 'detect', { splitConfig: { val_ratio: 0.001 } });
    expect(tiny.prepared.report.splits.val.images).toBe(1);
    expect(tiny.prepared.report.notes.val_forced!.count).toBe(1);
  });

  it('links images one by one when asked not to link the folder, never writing into the source', async () => {
    const images = Array.from({ length: 4 }, (_, i) => img(i + 1, `s/im${i}.png`));
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [0, 0, 10, 10] }));
    const { input, output, prepared } = await convert({ images, annotations, categories: cats }, 'detect', { tuning: { linkImageFolder: false } });
    expect(allLabels(prepared)).toHaveLength(4);
    expect(lstatSync(join(output, 'train', '000', 'images')).isDirectory()).toBe(true);
    expect(readdirSync(join(input, 'images', 's')).sort()).toEqual(['im0.png', 'im1.png', 'im2.png', 'im3.png']);
    expect(prepared.report.imageLayout).toMatch(/per-image hardlink links/);
  });

  it('a single image serves as train and val', async () => {
    const { prepared } = await convert({ images: [img(1, 'a.png')], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5] }], categories: cats });
    expect(labelsOf(prepared, 'train').size).toBe(1);
    expect(labelsOf(prepared, 'val').size).toBe(1);
  });

  it('streams in small batches and spills to disk with the same output as the in-memory path', async () => {
    const images = Array.from({ length: 40 }, (_, i) => img(i + 1, `d${i % 3}/im${i}.png`, 200 + i, 100));
    const annotations = Array.from({ length: 300 }, (_, i) => ({ id: i, image_id: 1 + ((i * 7) % 40), category_id: 1 + (i % 2), bbox: [i % 50, (i * 3) % 60, 20 + (i % 7), 15], info: 'x'.repeat(i % 5) }));
    const fx = { images, annotations, categories: cats, extra: { info: { description: 'd', year: 2024 }, licenses: [{ id: 1 }] } };
    const a = await convert(fx);
    const b = await convert(fx, 'detect', { tuning: { batchBytes: 64, spillThresholdBytes: 0, spillBucketBytes: 1000 } });
    expect(b.prepared.report.streamed).toBe(true);
    const tree = (out: string) => {
      const res: Record<string, string> = {};
      for (const s of ['train', 'val']) {
        const walk = (d: string, rel: string) => {
          for (const e of readdirSync(d, { withFileTypes: true })) {
            if (e.isDirectory()) walk(join(d, e.name), `${rel}${e.name}/`);
            else if (e.isFile()) res[`${s}/${rel}${e.name}`] = readFileSync(join(d, e.name), 'utf8');
          }
        };
        walk(join(out, s), '');
      }
      return res;
    };
    expect(tree(b.output)).toEqual(tree(a.output));
    expect(Object.keys(tree(a.output))).toHaveLength(40);
    expect(existsSync(join(b.output, '.spill'))).toBe(false);
    // Streamed with workers, each spilling its part: the same files; and the same when a worker cannot start.
    const workerScript = new URL('../../dist/convert/convert-worker.js', import.meta.url);
    const streamed = { batchBytes: 64, spillThresholdBytes: 0, spillBucketBytes: 1000, workerThresholdBytes: 0, workers: 2 };
    const c = await convert(fx, 'detect', { tuning: { ...streamed, workerScript } });
    expect(c.prepared.report).toMatchObject({ streamed: true, annotationThreads: 3 });
    expect(tree(c.output)).toEqual(tree(a.output));
    expect(existsSync(join(c.output, '.spill'))).toBe(false);
    const d = await convert(fx, 'detect', { tuning: { ...streamed, workerScript: join(root, 'missing-worker.js') } });
    expect(d.prepared.report).toMatchObject({ streamed: true, annotationThreads: 1 });
    expect(tree(d.output)).toEqual(tree(a.output));
    expect(JSON.stringify(c.prepared.report.dropped)).toBe(JSON.stringify(a.prepared.report.dropped));
  });

  it('creates label files from a helper thread with the same bytes as the main thread alone', async () => {
    const images = Array.from({ length: 300 }, (_, i) => img(i + 1, `d${i % 4}/im${i}.png`, 200 + i, 100));
    // Every tenth image has no annotation: its label file is the helper's empty file, never reopened.
    const annotations = Array.from({ length: 900 }, (_, i) => ({ id: i, image_id: 1 + ((i * 7) % 300), category_id: 1 + (i % 2), bbox: [i % 50, (i * 3) % 60, 20 + (i % 7), 15] }))
      .filter((a) => a.image_id % 10 !== 0);
    const fx = { images, annotations, categories: cats };
    const alone = await convert(fx, 'detect', { tuning: { helperThreshold: Infinity } });
    const helped = await convert(fx, 'detect', { tuning: { helperThreshold: 0, shardSize: 50 } });
    const labels = (out: string) => {
      const res = new Map<string, string>();
      for (const s of ['train', 'val']) {
        for (const line of readFileSync(join(out, `${s}.txt`), 'utf8').trim().split('\n')) {
          const i = line.lastIndexOf('/images/');
          const rel = line.slice(i + 8).replace(/\.png$/, '.txt');
          res.set(`${s}:${rel}`, readFileSync(line.slice(0, i) + '/labels/' + rel, 'utf8'));
        }
      }
      return res;
    };
    const a = labels(alone.output);
    expect(a.size).toBe(300);
    expect([...a.values()].filter((t) => t === '')).toHaveLength(30);
    expect(labels(helped.output)).toEqual(a);
  });

  describe('with workers converting parts of the annotations', () => {
    // Tests run after the build (nx `test` depends on `build`); from sources there is no worker script.
    const workerScript = new URL('../../dist/convert/convert-worker.js', import.meta.url);
    const parallel = { workerScript, workerThresholdBytes: 0, workers: 2, batchBytes: 512 };
    const images = Array.from({ length: 60 }, (_, i) => img(i + 1, `im${i}.png`, 100 + i, 80));
    // Drops and repairs of every kind spread over every part, so the merged report must keep their order.
    const annotations = Array.from({ length: 400 }, (_, i) => ({
      id: 1000 + i,
      image_id: i % 97 === 5 ? 999 : 1 + ((i * 13) % 60),
      category_id: i % 89 === 3 ? 77 : 1 + (i % 2),
      bbox: i % 23 === 0 ? [90, 70, 40, 30] : [i % 40, (i * 3) % 50, 10 + (i % 9), 8],
      iscrowd: i % 41 === 7 ? 1 : 0,
    }));
    const fx = { images, annotations, categories: cats };

    it('writes the same labels and the same report as one thread', async () => {
      const one = await convert(fx, 'detect', { tuning: { workerScript: false, batchBytes: 512 } });
      const many = await convert(fx, 'detect', { tuning: parallel });
      expect(allLabels(many.prepared)).toEqual(allLabels(one.prepared));
      expect(many.prepared.report.annotationThreads).toBe(3);
      expect(one.prepared.report.annotationThreads).toBe(1);
      const { durationMs: _a, input: _b, output: _c, writeMs: _d, annotationThreads: _i, ...rest } = many.prepared.report;
      const { durationMs: _e, input: _f, output: _g, writeMs: _h, annotationThreads: _j, ...restOne } = one.prepared.report;
      expect(rest).toEqual(restOne);
      expect(Object.keys(rest.dropped)).toEqual(Object.keys(restOne.dropped));
      expect(Object.keys(rest.dropped)).toEqual(['unknown_category', 'unknown_image', 'crowd']);
      expect(JSON.stringify(rest.dropped)).toBe(JSON.stringify(restOne.dropped));
      expect(rest.repaired.clipped_box!.count).toBeGreaterThan(10);
    });

    it('names the first bad annotation, even when a worker found it', async () => {
      const bad = { ...fx, annotations: fx.annotations.map((a, i) => (i === 350 ? { ...a, bbox: 'x' } : a)) };
      const err = await convert(bad, 'detect', { tuning: parallel }).catch((e: unknown) => e);
      expect((err as TrainerError).message).toBe('annotations[350] (id 1350): bbox must be 4 numbers [x, y, width, height], got "x"');
      const strict = await convert(fx, 'detect', { strict: true, tuning: parallel }).catch((e: unknown) => e);
      const strictOne = await convert(fx, 'detect', { strict: true, tuning: { workerScript: false, batchBytes: 512 } }).catch((e: unknown) => e);
      expect((strict as TrainerError).problems).toEqual((strictOne as TrainerError).problems);
      expect((strict as TrainerError).problems[0]).toMatch(/^annotations\[3\] \(id 1003\): category_id 77 not in categories/);
    });

    it('converts a worker\'s part on the main thread when the worker cannot start', async () => {
      const one = await convert(fx, 'detect', { tuning: { workerScript: false } });
      const broken = await convert(fx, 'detect', { tuning: { ...parallel, workerScript: join(root, 'no-such-worker.js') } });
      expect(allLabels(broken.prepared)).toEqual(allLabels(one.prepared));
      expect(broken.prepared.report.annotationThreads).toBe(1);
    });
  });

  it('leaves no half-written split folders when the annotations turn out to be bad', async () => {
    const images = Array.from({ length: 20 }, (_, i) => img(i + 1, `im${i}.png`));
    const annotations = [{ id: 1, image_id: 1, category_id: 1, bbox: [1, 2, 3, 4] }, { id: 2, image_id: 2, category_id: 1, bbox: 'oops' }];
    const { input, output } = fresh();
    writeDiceDataset(input, { images, annotations, categories: cats });
    const err = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger, tuning: { helperThreshold: 0 } }).catch((e: unknown) => e);
    expect((err as TrainerError).message).toMatch(/^annotations\[1\] \(id 2\): bbox must be 4 numbers/);
    expect(readdirSync(output)).toEqual(['.dice2yolo']);
  });
});

describe('segment', () => {
  it('normalises and clips polygons, merges multi-part objects, uses the box when segmentation is missing, skips RLE', async () => {
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 10, 10], segmentation: [[10, 10, 20, 10, 20, 20, 10, 20]] },
      { id: 2, image_id: 1, category_id: 1, bbox: [0, 0, 60, 40], segmentation: [[0, 0, 10, 0, 10, 10], [40, 30, 50, 30, 50, 40]] },
      { id: 3, image_id: 1, category_id: 2, bbox: [10, 10, 20, 10] },
      { id: 4, image_id: 2, category_id: 2, bbox: [0, 0, 10, 10], segmentation: { counts: [1, 2, 3], size: [50, 100] } },
      { id: 5, image_id: 2, category_id: 2, bbox: [90, 0, 20, 10], segmentation: [[90, 0, 110, 0, 110, 10, 90, 10]] },
    ];
    const { prepared } = await convert({ images, annotations, categories: cats }, 'segment');
    const lines = allLabels(prepared);
    expect(lines).toContain('0 0.1 0.2 0.2 0.2 0.2 0.4 0.1 0.4');
    expect(lines).toContain('1 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.4');
    // two triangles joined at their closest corners: each loop closed (4 points) → 8 points
    const merged = lines.find((l) => l.split(' ').length > 12)!;
    expect(merged).toBe('0 0.1 0.2 0 0 0.1 0 0.1 0.2 0.4 0.6 0.5 0.6 0.5 0.8 0.4 0.6');
    expect(lines).toContain('1 0.9 0 1 0 1 0.2 0.9 0.2');
    for (const l of lines) for (const v of l.split(' ').slice(1).map(Number)) expect(v >= 0 && v <= 1).toBe(true);
    expect(prepared.report.repaired.merged_multipart_polygon!.count).toBe(1);
    expect(prepared.report.repaired.polygon_from_box!.count).toBe(1);
    expect(prepared.report.repaired.clipped_polygon!.count).toBe(1);
    expect(prepared.report.dropped.rle_segmentation!.count).toBe(1);
    // detect keeps the box of a non-crowd RLE annotation and says so
    const det = await convert({ images, annotations, categories: cats }, 'detect');
    expect(det.prepared.report.notes.rle_box_kept!.count).toBe(1);
    expect(allLabels(det.prepared)).toHaveLength(5);
  });
});

describe('pose', () => {
  it('writes kpt_shape and flip_idx from left/right keypoint names, pads and clips keypoints', async () => {
    const categories = [{ id: 1, name: 'person', keypoints: ['nose', 'left_eye', 'right_eye', 'Left Hand', 'Right Hand'], skeleton: [[1, 2]] }];
    const images = [img(1, 'a.png'), img(2, 'b.png')];
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 50, 25], keypoints: [10, 5, 2, 20, 10, 1, 30, 10, 2, 120, 10, 2, 0, 0, 0] },
      { id: 2, image_id: 2, category_id: 1, bbox: [0, 0, 50, 25], keypoints: [10, 5, 2] },
    ];
    const { prepared } = await convert({ images, annotations, categories }, 'pose');
    const yaml = readFileSync(prepared.dataYaml!, 'utf8');
    expect(yaml).toContain('kpt_shape: [5, 3]');
    expect(yaml).toContain('flip_idx: [0, 2, 1, 4, 3]');
    expect(prepared.kptShape).toEqual([5, 3]);
    expect(prepared.report.flipIdx!.source).toMatch(/left\/right/);
    const lines = allLabels(prepared).sort();
    expect(lines[1]).toBe('0 0.25 0.25 0.5 0.5 0.1 0.1 2 0.2 0.2 1 0.3 0.2 2 1 0.2 2 0 0 0');
    expect(lines[0]).toBe('0 0.25 0.25 0.5 0.5 0.1 0.1 2 0 0 0 0 0 0 0 0 0 0 0 0');
    expect(prepared.report.repaired.keypoints_padded!.count).toBe(1);
    expect(prepared.report.repaired.keypoints_clipped!.count).toBe(1);
  });

  it('omits flip_idx when the names give no pairs', async () => {
    const categories = [{ id: 1, name: 'thing', keypoints: ['a', 'b'] }];
    const { prepared } = await convert({ images: [img(1, 'a.png')], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5], keypoints: [1, 1, 2, 2, 2, 2] }], categories }, 'pose');
    expect(readFileSync(prepared.dataYaml!, 'utf8')).not.toContain('flip_idx');
    expect(prepared.report.flipIdx!.value).toBeNull();
  });
});

describe('obb', () => {
  it('writes 4 corners: the 4-point polygon when there is one, else the clipped box', async () => {
    const annotations = [
      { id: 1, image_id: 1, category_id: 1, bbox: [10, 5, 20, 10], segmentation: [[20, 5, 30, 10, 20, 15, 10, 10]] },
      { id: 2, image_id: 1, category_id: 2, bbox: [90, 40, 20, 20] },
    ];
    const { prepared } = await convert({ images: [img(1, 'a.png')], annotations, categories: cats }, 'obb');
    expect([...labelsOf(prepared, 'train').values()].flat().sort()).toEqual(['0 0.2 0.1 0.3 0.2 0.2 0.3 0.1 0.2', '1 0.9 0.8 1 0.8 1 1 0.9 1']);
  });
});

describe('classify', () => {
  it('links images into {train,val}/<class>/, takes images[].category_id first, reports ambiguous images', async () => {
    const categories = [{ id: 5, name: 'zebra' }, { id: 9, name: 'ant' }, { id: 11, name: 'a/b' }];
    const images = [
      ...Array.from({ length: 6 }, (_, i) => img(i + 1, `z${i}.png`)),
      ...Array.from({ length: 4 }, (_, i) => img(10 + i, `a${i}.png`)),
      { ...img(20, 'lone.png'), category_id: 11 },
      img(21, 'both.png'),
      img(22, 'none.png'),
    ];
    const annotations = [
      ...images.slice(0, 6).map((im) => ({ id: im.id, image_id: im.id, category_id: 5 })),
      ...images.slice(6, 10).map((im) => ({ id: im.id, image_id: im.id, category_id: 9 })),
      { id: 100, image_id: 20, category_id: 5 },
      { id: 101, image_id: 21, category_id: 5 },
      { id: 102, image_id: 21, category_id: 9 },
    ];
    const { output, prepared } = await convert({ images, annotations, categories }, 'classify');
    expect(prepared.classes).toEqual([
      { index: 0, id: 11, name: 'a_b' },
      { index: 1, id: 9, name: 'ant' },
      { index: 2, id: 5, name: 'zebra' },
    ]);
    for (const s of ['train', 'val']) expect(readdirSync(join(output, s)).sort()).toEqual(['a_b', 'ant', 'zebra']);
    expect(readdirSync(join(output, 'train', 'a_b'))).toEqual(['lone.png']);
    expect(readdirSync(join(output, 'val', 'a_b'))).toEqual(['lone.png']);
    const count = (c: string) => readdirSync(join(output, 'train', c)).length + readdirSync(join(output, 'val', c)).length;
    expect(count('zebra')).toBe(6);
    expect(count('ant')).toBe(4);
    expect(prepared.report.dropped.ambiguous_class!.examples).toEqual(['images[11] (id 21): both.png']);
    expect(prepared.report.dropped.unlabelled_image!.count).toBe(1);
    expect(lstatSync(join(output, 'train', 'a_b', 'lone.png')).nlink).toBeGreaterThan(1);
  });
});

describe('other formats', () => {
  it('uses a YOLO-native dataset in place, rewriting only data.yaml with an absolute path', async () => {
    const { input, output } = fresh();
    for (const s of ['train', 'val']) {
      mkdirSync(join(input, 'images', s), { recursive: true });
      mkdirSync(join(input, 'labels', s), { recursive: true });
      writeFileSync(join(input, 'images', s, 'a.jpg'), jpegHeaderBytes(10, 10));
      writeFileSync(join(input, 'labels', s, 'a.txt'), '1 0.5 0.5 0.1 0.1\n');
    }
    writeFileSync(join(input, 'data.yaml'), 'path: ../somewhere\ntrain: images/train\nval: images/val\nnames:\n  0: person\n  1: "car # 1"\n');
    const prepared = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger });
    expect(prepared.format).toBe('yolo');
    expect(prepared.classes.map((c) => c.name)).toEqual(['person', 'car # 1']);
    const yaml = readFileSync(prepared.dataYaml!, 'utf8');
    expect(yaml.split('\n')[0]).toBe(`path: "${input}"`);
    expect(yaml).not.toContain('somewhere');
    expect(prepared.report.classes[1]!.train).toBe(1);
  });

  it('fails with DataUnavailableError when there is no dataset, and DataError for broken JSON', async () => {
    const { input, output } = fresh();
    mkdirSync(input, { recursive: true });
    await expect(prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger })).rejects.toBeInstanceOf(DataUnavailableError);
    await expect(prepareDataset({ inputDir: join(input, 'nope'), outputDir: output, task: 'detect', logger })).rejects.toBeInstanceOf(DataUnavailableError);
    writeFileSync(join(input, 'annotations.json'), '{}');
    await expect(prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger })).rejects.toThrow(/no images\/ folder/);
  });

  it('refuses a non-empty output folder it did not write, and clears its own on a rerun', async () => {
    const fx = { images: [img(1, 'a.png'), img(2, 'b.png')], annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 5, 5] }], categories: cats };
    const { input, output } = await convert(fx);
    const again = await prepareDataset({ inputDir: input, outputDir: output, task: 'detect', logger });
    expect(allLabels(again)).toHaveLength(1);
    expect(existsSync(join(input, 'images', 'a.png'))).toBe(true);
    const other = join(root, 'not-ours');
    mkdirSync(other);
    writeFileSync(join(other, 'keep.txt'), 'x');
    await expect(prepareDataset({ inputDir: input, outputDir: other, task: 'detect', logger })).rejects.toBeInstanceOf(ConfigError);
    expect(readFileSync(join(other, 'keep.txt'), 'utf8')).toBe('x');
  });
});

describe('bad input', () => {
  const cases: Array<[string, DiceFixture, RegExp]> = [
    ['truncated JSON', { rawJson: '{"images": [{"id": 1, "file_name": "a.png"}], "annotations": [{"id": 1, "ima' }, /^annotations\.json: invalid JSON at byte \d+: unexpected end of file/],
    ['non-JSON', { rawJson: 'PK\u0003\u0004 this is a zip' }, /^annotations\.json: invalid JSON at byte 0: expected a JSON object, found 'P'/],
    ['empty file', { rawJson: '' }, /the file is empty/],
    ['a syntax error inside annotations', { rawJson: '{"images": [{"id": 1, "file_name": "a.png", "width": 4, "height": 4}], "categories": [], "annotations": [{"id": 1,, "x": 2}]}', files: [{ rel: 'a.png', width: 4, height: 4 }] }, /^annotations\.json: invalid JSON in annotations\[0\.\.0\]/],
    ['images not an array', { rawJson: '{"images": {"id": 1}, "categories": []}' }, /"images" must be an array/],
    ['bbox of strings', { images: [img(1, 'a.png')], categories: cats, annotations: [{ id: 3, image_id: 1, category_id: 1, bbox: ['1', 2, 3, 4] }] }, /^annotations\[0\] \(id 3\): bbox must be 4 numbers/],
    ['category_id of the wrong type', { images: [img(1, 'a.png')], categories: cats, annotations: [{ id: 3, image_id: 1, category_id: '1', bbox: [1, 2, 3, 4] }] }, /^annotations\[0\] \(id 3\): category_id must be a number/],
    ['width of the wrong type', { images: [{ id: 1, file_name: 'a.png', width: '100', height: 5 }], categories: cats }, /^images\[0\] \(id 1\): width must be a positive number/],
    ['path traversal', { images: [img(1, '../../etc/passwd.png')], categories: cats }, /^images\[0\] \(id 1\): file_name "\.\.\/\.\.\/etc\/passwd\.png" escapes the dataset directory/],
    ['absolute path', { images: [img(1, '/etc/passwd')], categories: cats }, /is an absolute path/],
    ['annotation not an object', { images: [img(1, 'a.png')], categories: cats, annotations: [5] }, /^annotations\[0\]: expected an object, got number/],
    ['no annotation left', { images: [img(1, 'a.png')], categories: cats, annotations: [{ id: 1, image_id: 1, category_id: 1, bbox: [0, 0, 0, 0] }] }, /no usable annotation/],
  ];
  it.each(cases)('%s: one-line DataError', async (_name, fx, message) => {
    const err = await convert(fx).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainerError);
    expect((err as TrainerError).exitCode).toBe(3);
    expect((err as TrainerError).problems).toHaveLength(1);
    expect((err as TrainerError).message).toMatch(message);
  });
});

describe('helpers', () => {
  it('infers the task from the model name', () => {
    expect(inferTaskFromModelName('yolov8n-seg.pt')).toBe('segment');
    expect(inferTaskFromModelName('yolo11s-pose.yaml')).toBe('pose');
    expect(inferTaskFromModelName('YOLOv8n-cls')).toBe('classify');
    expect(inferTaskFromModelName('yolov8n-obb.pt')).toBe('obb');
    expect(inferTaskFromModelName('yolo11n.pt')).toBe('detect');
    expect(inferTaskFromModelName('resnet50')).toBeUndefined();
  });
  it('validates split_config', () => {
    expect(splitConfigSchema.parse({})).toEqual({ val_ratio: 0.2, seed: 0 });
    expect(splitConfigSchema.safeParse({ val_ratio: 1 }).success).toBe(false);
    expect(splitConfigSchema.safeParse({ splits: { a: 'dev' } }).success).toBe(false);
  });
});

describe('what Ultralytics sees', () => {
  const python = '/usr/bin/python3';
  const hasYaml = (() => {
    try {
      execFileSync(python, ['-c', 'import yaml'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  (hasYaml ? it : it.skip)('data.yaml loads with PyYAML, and every listed image has its label at img2label_paths()', async () => {
    const images = [img(1, 'sub dir/a b.png'), img(2, 'ü/é.png'), img(3, 'c.PNG'), img(4, 'images/d.png')];
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 2, bbox: [1, 1, 5, 5] }));
    const { prepared } = await convert({ images, annotations, categories: [{ id: 2, name: 'it\'s "quoted"' }] });
    // The same string operations as ultralytics/data/utils.py img2label_paths and check_det_dataset's yaml load.
    const script = `
import os, sys, yaml
d = yaml.safe_load(open(sys.argv[1]))
assert d['names'] == {0: 'it\\'s "quoted"'}, d['names']
n = 0
for split in ('train', 'val'):
    for x in open(d[split]).read().strip().splitlines():
        sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
        lb = sb.join(x.rsplit(sa, 1)).rsplit(".", 1)[0] + ".txt"
        assert os.path.isfile(x), x
        assert os.path.isfile(lb), lb
        vals = [float(v) for v in open(lb).read().split()]
        assert all(0 <= v <= 1 for v in vals[1:]), vals
        n += 1
print(n)
`;
    const out = execFileSync(python, ['-c', script, prepared.dataYaml!], { encoding: 'utf8' });
    expect(out.trim()).toBe('4');
  });
});
