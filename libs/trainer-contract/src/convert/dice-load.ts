import { join, relative, sep } from 'node:path';
import { DataError } from '../errors/index.js';
import { readImageSize } from './image-size.js';
import { JsonFile, type ArraySection, type ScanResult } from './json-scan.js';
import { IMG_FORMATS, extensionOf, normalizeRelPath, walkFiles } from './paths.js';
import type { ReportBuilder } from './report.js';
import type { ClassEntry, Task } from './types.js';

/** What the converter knows after reading categories and images, before any annotation. */
export interface LoadedDataset {
  file: JsonFile;
  scan: ScanResult;
  imagesDir: string;
  /** How messages name the images folder (`images`, or `train2017` for a pre-split COCO layout). */
  imagesLabel: string;
  classes: ClassEntry[];
  /** category id → class index */
  catIndex: Map<number, number>;
  categories: CategoryInfo[];
  images: ImageTable;
  /** Problems collected in strict mode, thrown together once a phase ends. */
  problems: string[];
}

interface CategoryInfo {
  id: number;
  name: string;
  supercategory?: string;
  keypoints?: string[];
  skeleton?: number[][];
  flipIdx?: number[];
}

interface ImageTable {
  count: number;
  ids: (number | string)[];
  rel: string[];
  width: Float64Array;
  height: Float64Array;
  /** Index of the image whose file this entry shares (itself for most). */
  target: Int32Array;
  /** Whether the entry survived: file present, supported, sized. */
  ok: Uint8Array;
  /** images[].category_id mapped to a class index, -1 when absent (classify). */
  cls: Int32Array;
  idToIdx: Map<number | string, number>;
  /** Files under images/ that no entry names. */
  unlisted: string[];
}

export const MAX_PROBLEMS = 20;

export function where(array: string, index: number, id?: unknown): string {
  return id === undefined ? `${array}[${index}]` : `${array}[${index}] (id ${typeof id === 'string' ? JSON.stringify(id) : String(id)})`;
}

function typeName(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v;
}

export function strictFail(problems: string[]): void {
  if (problems.length === 0) return;
  const shown = problems.slice(0, MAX_PROBLEMS);
  if (problems.length > MAX_PROBLEMS) shown.push(`… and ${problems.length - MAX_PROBLEMS} more`);
  throw new DataError(shown);
}

export async function loadDataset(opts: {
  inputDir: string;
  outputDir: string;
  task: Task;
  strict: boolean;
  report: ReportBuilder;
  batchBytes: number;
  /** The COCO-style file (default `<inputDir>/annotations.json`) and the name messages give it. */
  annotationsFile?: string;
  label?: string;
  /** The folder file names are relative to (default `<inputDir>/images`). */
  imagesDir?: string;
}): Promise<LoadedDataset> {
  const { inputDir, report, strict } = opts;
  const imagesDir = opts.imagesDir ?? join(inputDir, 'images');
  const imagesLabel = relativeLabel(inputDir, imagesDir);
  const label = opts.label ?? 'annotations.json';
  // The folder walk runs while the JSON is scanned: one is I/O-bound, the other CPU-bound.
  const walking = walkFiles(imagesDir, opts.outputDir);
  walking.catch(() => undefined);
  const file = await JsonFile.open(opts.annotationsFile ?? join(inputDir, 'annotations.json'), label);
  let scan: ScanResult;
  try {
    scan = await file.scan(['images', 'annotations', 'categories'], opts.batchBytes);
  } catch (err) {
    await file.close();
    throw err;
  }
  try {
    for (const key of ['images', 'categories']) {
      if (!scan.arrays.has(key)) throw new DataError(`${label}: "${key}" is missing`);
    }
    const problems: string[] = [];
    const { classes, catIndex, categories } = await readCategories(file, scan.arrays.get('categories')!);
    const images = await readImages(file, scan.arrays.get('images')!, catIndex, opts.task, report, problems, label);
    const onDisk = await walking;
    resolveFiles(images, onDisk, imagesLabel, report, strict, problems);
    if (opts.task !== 'classify') await readMissingSizes(images, imagesDir, report);
    strictFail(problems);
    return { file, scan, imagesDir, imagesLabel, classes, catIndex, categories, images, problems };
  } catch (err) {
    await file.close();
    throw err;
  }
}

async function* elements(file: JsonFile, section: ArraySection): AsyncGenerator<[unknown, number]> {
  for (let b = 0; b < section.batches.length; b++) {
    const batch = section.batches[b]!;
    const next = b + 1 < section.batches.length ? section.batches[b + 1]!.firstIndex : section.count;
    const items = await file.parseBatch(section, batch, next);
    for (let i = 0; i < items.length; i++) yield [items[i], batch.firstIndex + i];
  }
}

/** `images`, `train2017`, `images/train2017`: the folder as messages name it, relative to the dataset. */
function relativeLabel(inputDir: string, dir: string): string {
  const r = relative(inputDir, dir).split(sep).join('/');
  return r === '' || r.startsWith('..') ? dir : r;
}

async function readCategories(
  file: JsonFile,
  section: ArraySection,
): Promise<{ classes: ClassEntry[]; catIndex: Map<number, number>; categories: CategoryInfo[] }> {
  const cats: CategoryInfo[] = [];
  const seen = new Map<number, number>();
  for await (const [raw, i] of elements(file, section)) {
    if (typeName(raw) !== 'object') throw new DataError(`${where('categories', i)}: expected an object, got ${typeName(raw)}`);
    const c = raw as Record<string, unknown>;
    if (typeof c.id !== 'number' || !Number.isInteger(c.id)) {
      throw new DataError(`${where('categories', i)}: id must be an integer, got ${JSON.stringify(c.id) ?? 'nothing'}`);
    }
    if (seen.has(c.id)) throw new DataError(`${where('categories', i, c.id)}: duplicate category id (also categories[${seen.get(c.id)}])`);
    seen.set(c.id, i);
    if (c.name !== undefined && typeof c.name !== 'string') {
      throw new DataError(`${where('categories', i, c.id)}: name must be a string, got ${typeName(c.name)}`);
    }
    const info: CategoryInfo = { id: c.id, name: typeof c.name === 'string' && c.name !== '' ? c.name : `class_${c.id}` };
    if (typeof c.supercategory === 'string') info.supercategory = c.supercategory;
    if (Array.isArray(c.skeleton) && c.skeleton.every((l) => Array.isArray(l) && l.length === 2 && l.every((k) => Number.isInteger(k)))) {
      info.skeleton = c.skeleton as number[][];
    }
    if (c.keypoints !== undefined) {
      if (!Array.isArray(c.keypoints) || !c.keypoints.every((k) => typeof k === 'string')) {
        throw new DataError(`${where('categories', i, c.id)}: keypoints must be a list of names`);
      }
      info.keypoints = c.keypoints as string[];
    }
    if (Array.isArray(c.flip_idx) && c.flip_idx.every((k) => Number.isInteger(k))) info.flipIdx = c.flip_idx as number[];
    cats.push(info);
  }
  cats.sort((a, b) => a.id - b.id);
  const catIndex = new Map<number, number>();
  const classes = cats.map((c, index) => {
    catIndex.set(c.id, index);
    return { index, id: c.id, name: c.name };
  });
  return { classes, catIndex, categories: cats };
}

async function readImages(
  file: JsonFile,
  section: ArraySection,
  catIndex: Map<number, number>,
  task: Task,
  report: ReportBuilder,
  problems: string[],
  label: string,
): Promise<ImageTable> {
  const n = section.count;
  const t: ImageTable = {
    count: 0,
    ids: [],
    rel: [],
    width: new Float64Array(n),
    height: new Float64Array(n),
    target: new Int32Array(n),
    ok: new Uint8Array(n),
    cls: new Int32Array(n).fill(-1),
    idToIdx: new Map(),
    unlisted: [],
  };
  for await (const [raw, i] of elements(file, section)) {
    if (typeName(raw) !== 'object') throw new DataError(`${where('images', i)}: expected an object, got ${typeName(raw)}`);
    const im = raw as Record<string, unknown>;
    const id = im.id;
    if (typeof id !== 'number' && typeof id !== 'string') {
      throw new DataError(`${where('images', i)}: id must be a number or a string, got ${typeName(id)}`);
    }
    if (typeof im.file_name !== 'string') {
      throw new DataError(`${where('images', i, id)}: file_name must be a string, got ${typeName(im.file_name)}`);
    }
    const norm = normalizeRelPath(im.file_name);
    if ('error' in norm) throw new DataError(`${where('images', i, id)}: file_name ${JSON.stringify(im.file_name)} ${norm.error}`);
    const w = im.width;
    const h = im.height;
    for (const [key, v] of [['width', w], ['height', h]] as const) {
      if (v !== undefined && v !== null && (typeof v !== 'number' || v < 0)) {
        throw new DataError(`${where('images', i, id)}: ${key} must be a positive number, got ${JSON.stringify(v)}`);
      }
    }
    t.ids.push(id);
    t.rel.push(norm.rel);
    t.width[i] = typeof w === 'number' ? w : 0;
    t.height[i] = typeof h === 'number' ? h : 0;
    t.target[i] = i;
    t.ok[i] = 1;
    t.count++;
    const prev = t.idToIdx.get(id);
    if (prev !== undefined) {
      t.ok[i] = 0;
      t.target[i] = prev;
      report.drop('duplicate_image_entry', () => `${where('images', i, id)}: same id as images[${prev}]`);
      continue;
    }
    t.idToIdx.set(id, i);
    if (task === 'classify' && im.category_id !== undefined && im.category_id !== null) {
      if (typeof im.category_id !== 'number') {
        throw new DataError(`${where('images', i, id)}: category_id must be a number, got ${typeName(im.category_id)}`);
      }
      const c = catIndex.get(im.category_id);
      if (c === undefined) {
        const msg = `${where('images', i, id)}: category_id ${im.category_id} not in categories`;
        if (problems.length <= MAX_PROBLEMS) problems.push(msg);
        report.drop('unknown_category', () => msg);
      } else t.cls[i] = c;
    }
  }
  if (t.count !== n) throw new DataError(`${label}: "images" held ${t.count} entries, expected ${n}`);
  return t;
}

function resolveFiles(t: ImageTable, onDisk: Set<string>, folder: string, report: ReportBuilder, strict: boolean, problems: string[]): void {
  const byRel = new Map<string, number>();
  const used = new Set<string>();
  // Exports often name files `images/x.jpg` (or `train2017/x.jpg`) relative to the dataset, not to the folder.
  const prefix = folder.slice(folder.lastIndexOf('/') + 1) + '/';
  for (let i = 0; i < t.count; i++) {
    if (!t.ok[i]) continue;
    let rel = t.rel[i]!;
    if (!onDisk.has(rel) && rel.startsWith(prefix) && onDisk.has(rel.slice(prefix.length))) {
      const before = rel;
      rel = rel.slice(prefix.length);
      t.rel[i] = rel;
      report.repair('file_name_prefix_stripped', () => `${where('images', i, t.ids[i])}: ${before}`);
    }
    if (!onDisk.has(rel)) {
      t.ok[i] = 0;
      const msg = `${where('images', i, t.ids[i])}: file ${folder}/${rel} not found`;
      if (strict && problems.length <= MAX_PROBLEMS) problems.push(msg);
      report.drop('missing_image_file', () => msg);
      continue;
    }
    used.add(rel);
    const first = byRel.get(rel);
    if (first !== undefined) {
      t.ok[i] = 0;
      t.target[i] = first;
      report.repair('duplicate_file_name', () => `${where('images', i, t.ids[i])}: ${rel} is also images[${first}]`);
      continue;
    }
    byRel.set(rel, i);
    if (!IMG_FORMATS.has(extensionOf(rel))) {
      t.ok[i] = 0;
      report.drop('unsupported_image_format', () => `${where('images', i, t.ids[i])}: ${rel}`);
    }
  }
  for (const f of onDisk) {
    if (!used.has(f) && IMG_FORMATS.has(extensionOf(f))) {
      t.unlisted.push(f);
      report.note('images_not_in_json', () => `${folder}/${f}`);
    }
  }
}

/**
 * Extensions whose header does not say the size the framework will decode. A DNG's first IFD is usually a small
 * preview (OpenCV and PIL would train on that, the annotations were drawn on the developed raw), so its sizes must
 * come from annotations.json.
 */
const SIZE_NOT_IN_HEADER = new Set(['dng']);

async function readMissingSizes(t: ImageTable, imagesDir: string, report: ReportBuilder): Promise<void> {
  const todo: number[] = [];
  const refused: string[] = [];
  for (let i = 0; i < t.count; i++) {
    if (!t.ok[i] || (t.width[i]! > 0 && t.height[i]! > 0)) continue;
    const ext = extensionOf(t.rel[i]!);
    if (SIZE_NOT_IN_HEADER.has(ext)) {
      refused.push(`${where('images', i, t.ids[i])}: ${t.rel[i]}: width and height are missing, and a .${ext} file's header does not tell the size the framework decodes (its first image is often a preview): give them in annotations.json`);
    } else todo.push(i);
  }
  strictFail(refused);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < todo.length) {
      const i = todo[next++]!;
      const size = await readImageSize(join(imagesDir, t.rel[i]!));
      if (size) {
        t.width[i] = size.width;
        t.height[i] = size.height;
        report.repair('size_from_header', () => `${where('images', i, t.ids[i])}: ${size.width}x${size.height}${size.exifRotated ? ' (EXIF orientation: turned 90°, sides swapped)' : ''}`);
      } else {
        t.ok[i] = 0;
        report.drop('image_size_unknown', () => `${where('images', i, t.ids[i])}: ${t.rel[i]}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, todo.length) }, worker));
}
