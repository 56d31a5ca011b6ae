import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DataError, TrainerError } from '../errors/index.js';
import type { CocoContext } from './coco-annotation.js';
import { writeCocoSplits } from './dice-coco.js';
import { loadDataset } from './dice-load.js';
import { SPLITS } from './image-splits.js';
import { poseShape } from './pose.js';
import { emptySplits, ReportBuilder } from './report.js';
import type { ClassCounts, ClassEntry, SplitName } from './types.js';

/** One split of a COCO dataset that arrives already split. */
export interface PresplitFile {
  split: SplitName;
  /** The annotation file and how messages name it (`val.json`, `annotations/instances_val2017.json`). */
  file: string;
  label: string;
  /** The folder its `file_name`s are relative to. */
  imagesDir: string;
}

const isDir = (p: string) => existsSync(p) && statSync(p).isDirectory();

/**
 * A COCO dataset that comes with its splits, in one of two layouts:
 * - `train.json`, `val.json` (and `test.json`) beside `images/`, file names relative to `images/`;
 * - COCO's own: `annotations/instances_<split>*.json` (`instances_train2017.json`…), the images of each in the
 *   folder of that name (`train2017/`), else in `images/train2017/`, else in `images/`.
 * Undefined when the folder is neither; a DataError when it is ambiguous (two `instances_train*.json`).
 */
export function findPresplitCoco(dir: string): PresplitFile[] | undefined {
  if (existsSync(join(dir, 'train.json')) && existsSync(join(dir, 'val.json')) && isDir(join(dir, 'images'))) {
    return SPLITS.filter((s) => existsSync(join(dir, `${s}.json`))).map((s) => ({
      split: s,
      file: join(dir, `${s}.json`),
      label: `${s}.json`,
      imagesDir: join(dir, 'images'),
    }));
  }
  const annDir = join(dir, 'annotations');
  if (!isDir(annDir)) return undefined;
  const files = readdirSync(annDir);
  const found: PresplitFile[] = [];
  for (const s of SPLITS) {
    const matches = files.filter((f) => f.startsWith(`instances_${s}`) && f.endsWith('.json')).sort();
    if (matches.length > 1) throw new DataError(`${annDir}: ${matches.join(', ')}: one instances_${s}*.json file per split, please`);
    if (matches.length === 0) continue;
    const stem = matches[0]!.slice('instances_'.length, -'.json'.length);
    const imagesDir = [join(dir, stem), join(dir, 'images', stem), join(dir, 'images')].find(isDir);
    if (!imagesDir) throw new DataError(`annotations/${matches[0]}: no image folder ${stem}/, images/${stem}/ or images/ beside annotations/`);
    found.push({ split: s, file: join(annDir, matches[0]!), label: `annotations/${matches[0]}`, imagesDir });
  }
  return found.some((f) => f.split === 'train') && found.some((f) => f.split === 'val') ? found : undefined;
}

export interface PresplitResult {
  files: Partial<Record<SplitName, string>>;
  classes: ClassEntry[];
  classCounts: ClassCounts[];
  splits: ReturnType<typeof emptySplits>;
  listedImages: number;
  used: number;
  listed: number;
  kept: number;
  kpts?: number;
}

/**
 * Each split file validated and written like a converted split (same drops, repairs and errors), its images all
 * in its own split. The categories must be the same in every file, so that class indices mean one thing; report
 * examples and errors name the file they come from.
 */
export async function convertPresplitCoco(
  parts: PresplitFile[],
  opts: { inputDir: string; outputDir: string; task: CocoContext['task']; strict: boolean; report: ReportBuilder; batchBytes: number },
): Promise<PresplitResult> {
  const result: PresplitResult = { files: {}, classes: [], classCounts: [], splits: emptySplits(), listedImages: 0, used: 0, listed: 0, kept: 0 };
  let firstLabel = '';
  let kpts: number | undefined;
  let nextId = 1;
  // Files of one images folder that no split names: those unlisted by every split file sharing the folder.
  const unlisted = new Map<string, { label: string; files: Set<string> }>();
  for (const part of parts) {
    const rep = new ReportBuilder();
    try {
      const ds = await loadDataset({ ...opts, report: rep, annotationsFile: part.file, label: part.label, imagesDir: part.imagesDir });
      try {
        if (!firstLabel) {
          firstLabel = part.label;
          result.classes = ds.classes;
          result.classCounts = ds.classes.map((c) => ({ ...c, train: 0, val: 0, test: 0 }));
        } else if (JSON.stringify(ds.classes) !== JSON.stringify(result.classes)) {
          throw new DataError(`categories differ from ${firstLabel}'s (${describe(ds.classes)} vs ${describe(result.classes)}): class indices would mean different things`);
        }
        const usable: number[] = [];
        for (let i = 0; i < ds.images.count; i++) if (ds.images.ok[i]) usable.push(i);
        if (usable.length === 0 && part.split !== 'test') {
          throw new DataError(`no usable image: ${ds.images.count} images listed, none with a readable file in ${ds.imagesLabel}/`);
        }
        if (opts.task === 'pose' && kpts === undefined) kpts = (await poseShape(ds, ds.scan.arrays.get('annotations'))).kpts;
        const splitOf = new Int8Array(ds.images.count).fill(-1);
        for (const i of usable) splitOf[i] = SPLITS.indexOf(part.split);
        const r = await writeCocoSplits(ds, { usable, splitOf, bothSplits: false }, { ...opts, report: rep, source: part.label, firstAnnotationId: nextId, kpts });
        nextId = r.nextAnnotationId;
        if (r.files[part.split]) result.files[part.split] = r.files[part.split];
        result.splits[part.split] = r.splits[part.split];
        r.classCounts.forEach((c, k) => (result.classCounts[k]![part.split] += c[part.split]));
        result.listedImages += ds.images.count;
        result.used += r.used;
        result.listed += r.listed;
        result.kept += r.kept;
        result.kpts = r.kpts;
        const seen = unlisted.get(part.imagesDir);
        if (seen) {
          const mine = new Set(ds.images.unlisted);
          for (const f of seen.files) if (!mine.has(f)) seen.files.delete(f);
        } else {
          unlisted.set(part.imagesDir, { label: ds.imagesLabel, files: new Set(ds.images.unlisted) });
        }
      } finally {
        await ds.file.close().catch(() => undefined);
      }
    } catch (err) {
      throw err instanceof TrainerError && err.code === 'DATA_INVALID' ? new DataError(err.problems.map((p) => (p.startsWith(part.label) ? p : `${part.label}: ${p}`))) : err;
    }
    // Each split file's notes say which file they come from; unlisted images are counted once, below.
    delete rep.notes.images_not_in_json;
    opts.report.merge(prefixed(rep, part.label));
  }
  for (const { label, files } of unlisted.values()) for (const f of files) opts.report.note('images_not_in_json', () => `${label}/${f}`);
  return result;
}

function describe(classes: readonly ClassEntry[]): string {
  const shown = classes.slice(0, 4).map((c) => `${c.id} ${JSON.stringify(c.name)}`).join(', ');
  return `${classes.length} categories: ${shown}${classes.length > 4 ? ', …' : ''}`;
}

function prefixed(rep: ReportBuilder, label: string): Pick<ReportBuilder, 'dropped' | 'repaired' | 'notes'> {
  const map = (groups: ReportBuilder['dropped']) =>
    Object.fromEntries(Object.entries(groups).map(([k, g]) => [k, { count: g.count, examples: g.examples.map((e) => `${label}: ${e}`) }]));
  return { dropped: map(rep.dropped), repaired: map(rep.repaired), notes: map(rep.notes) };
}
