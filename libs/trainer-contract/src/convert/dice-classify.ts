import { join } from 'node:path';
import { DataError } from '../errors/index.js';
import { forEachAnnotation } from './annotation-pass.js';
import { strictFail, where, type LoadedDataset } from './dice-load.js';
import { noteSplitRepairs, noUsable } from './image-splits.js';
import { inside, stripExtension } from './paths.js';
import { emptySplits, type ReportBuilder } from './report.js';
import { assignSplits, splitHash, type ParsedSplitConfig } from './split.js';
import type { ClassCounts, ClassEntry, ConvertTuning, SplitName } from './types.js';
import { ImageLinker } from './image-linker.js';

export interface ClassifyResult {
  classes: ClassEntry[];
  classCounts: ClassCounts[];
  splits: ReturnType<typeof emptySplits>;
  listed: number;
  kept: number;
  used: number;
  imageLayout: string;
  filesWritten: number;
}

const AMBIGUOUS = -2;

/**
 * classify: `{train,val}/<class>/` folders of linked images. An image's class is `images[].category_id`, or
 * else the one category of its (non-crowd) annotations; several categories make it ambiguous and it is left out.
 *
 * Ultralytics reads these folders with torchvision's ImageFolder, which numbers classes by sorted folder name
 * and refuses an empty class folder, and it takes the class list from train only. So the class indices here
 * follow the sorted folder names (classes.json records the map to category ids), only classes with images
 * get a folder, and every class gets at least one image in train and in val.
 */
export async function writeClassifyDataset(
  ds: LoadedDataset,
  opts: { outputDir: string; split: ParsedSplitConfig; strict: boolean; report: ReportBuilder; tuning: ConvertTuning },
): Promise<ClassifyResult> {
  const { images, catIndex, file, scan } = ds;
  const { report, strict } = opts;
  const cls = images.cls.slice();
  const fromImage = new Uint8Array(images.count);
  for (let i = 0; i < images.count; i++) if (cls[i]! >= 0) fromImage[i] = 1;
  const section = scan.arrays.get('annotations');
  const problems: string[] = [];
  let listed = 0;
  if (section) {
    const lookups = { idToIdx: images.idToIdx, target: images.target, catIndex };
    listed = await forEachAnnotation(file, section, 0, section.batches.length, lookups, report, strict, problems, (_i, a, img, c) => {
      // Crowd regions say nothing about the image's class; images[].category_id wins over annotations.
      if (a.iscrowd === 1 || a.iscrowd === true || fromImage[img]) return;
      const cur = cls[img]!;
      if (cur === -1) cls[img] = c;
      else if (cur !== c) cls[img] = AMBIGUOUS;
    });
  }
  await file.close();
  strictFail(problems);

  const usable: number[] = [];
  for (let i = 0; i < images.count; i++) {
    if (!images.ok[i]) continue;
    if (cls[i] === AMBIGUOUS) report.drop('ambiguous_class', () => `${where('images', i, images.ids[i])}: ${images.rel[i]}`);
    else if (cls[i] === -1) report.drop('unlabelled_image', () => `${where('images', i, images.ids[i])}: ${images.rel[i]}`);
    else usable.push(i);
  }
  if (usable.length === 0) {
    if (images.ok.some((v) => v === 1)) throw new DataError('no usable training image: no image has exactly one class');
    throw noUsable(ds);
  }
  const assignment = assignSplits(
    usable.map((i) => ({ key: images.rel[i]!, names: [String(images.ids[i]), images.rel[i]!, stripExtension(images.rel[i]!.slice(images.rel[i]!.lastIndexOf('/') + 1))] })),
    opts.split,
  );
  noteSplitRepairs(assignment, usable, ds, report);
  const split = assignment.split.slice();

  // Per class: ensure one train and one val image; a lone image serves both.
  const byClass = new Map<number, number[]>();
  usable.forEach((img, k) => {
    const list = byClass.get(cls[img]!);
    if (list) list.push(k);
    else byClass.set(cls[img]!, [k]);
  });
  const both = new Set<number>();
  for (const [c, ks] of byClass) {
    const has = (s: SplitName) => ks.some((k) => split[k] === s);
    const name = ds.classes[c]!.name;
    if (ks.length === 1) {
      both.add(ks[0]!);
      split[ks[0]!] = 'train';
      report.note('class_in_both_splits', () => name);
      continue;
    }
    if (!has('val')) {
      const pick = pickBy(ks, split, 'train', (k) => splitHash(opts.split.seed, images.rel[usable[k]!]!));
      if (pick !== undefined) {
        split[pick] = 'val';
        report.note('class_moved_to_val', () => name);
      }
    }
    if (!has('train')) {
      const pick = pickBy(ks, split, 'val', (k) => -splitHash(opts.split.seed, images.rel[usable[k]!]!));
      if (pick !== undefined) split[pick] = 'train';
    }
  }
  for (const c of ds.classes) if (!byClass.has(c.index)) report.note('class_without_images', () => `${c.name} (id ${c.id})`);

  // Folder names: the class name made safe for a path, made unique with the id; indices follow their sort.
  const used = [...byClass.keys()].sort((a, b) => a - b);
  const taken = new Set<string>();
  const folderOf = new Map<number, string>();
  for (const c of used) {
    const entry = ds.classes[c]!;
    let f = safeFolder(entry.name);
    if (taken.has(f)) f = `${f}_${entry.id}`;
    taken.add(f);
    folderOf.set(c, f);
  }
  const ordered = used.slice().sort((a, b) => cmpCodePoints(folderOf.get(a)!, folderOf.get(b)!));
  const classes: ClassEntry[] = ordered.map((c, index) => ({ index, id: ds.classes[c]!.id, name: folderOf.get(c)! }));
  const newIndex = new Map(ordered.map((c, index) => [c, index]));
  const classCounts: ClassCounts[] = classes.map((c) => ({ ...c, train: 0, val: 0, test: 0 }));
  const splits = emptySplits();
  const writer = new ImageLinker();
  const names = new Set<string>();
  for (let k = 0; k < usable.length; k++) {
    const img = usable[k]!;
    const targets: SplitName[] = both.has(k) ? ['train', 'val'] : [split[k]!];
    const ci = newIndex.get(cls[img]!)!;
    const rel = images.rel[img]!;
    for (const s of targets) {
      const dir = `${s}/${folderOf.get(cls[img]!)!}`;
      let base = rel.slice(rel.lastIndexOf('/') + 1);
      if (names.has(`${dir}/${base}`)) base = `${img}_${base}`;
      names.add(`${dir}/${base}`);
      writer.link(join(ds.imagesDir, rel), inside(opts.outputDir, `${dir}/${base}`));
      splits[s].images++;
      splits[s].annotations++;
      classCounts[ci]![s]++;
    }
  }
  return {
    classes,
    classCounts,
    splits,
    listed,
    kept: usable.length,
    used: usable.length,
    imageLayout: `{train,val}/<class>/ folders of ${writer.linkMode === 'hardlink' ? 'hard links' : writer.linkMode === 'symlink' ? 'symlinks' : 'copies'}`,
    filesWritten: writer.files,
  };
}

function pickBy(ks: number[], split: SplitName[], from: SplitName, score: (k: number) => number): number | undefined {
  let best: number | undefined;
  let bestScore = Infinity;
  for (const k of ks) {
    if (split[k] !== from) continue;
    const s = score(k);
    if (s < bestScore) {
      bestScore = s;
      best = k;
    }
  }
  return best;
}

function safeFolder(name: string): string {
  let f = name.replace(/[/\\\0\r\n\t]/g, '_').trim();
  if (f === '' || f === '.' || f === '..') f = `_${f.replace(/\./g, '_')}`;
  return f.length > 200 ? f.slice(0, 200) : f;
}

/** Python's sort order for str (by code point), which ImageFolder uses; JS's default compares UTF-16 units. */
export function cmpCodePoints(a: string, b: string): number {
  const A = Array.from(a);
  const B = Array.from(b);
  for (let i = 0; i < Math.min(A.length, B.length); i++) {
    const d = A[i]!.codePointAt(0)! - B[i]!.codePointAt(0)!;
    if (d) return d;
  }
  return A.length - B.length;
}

