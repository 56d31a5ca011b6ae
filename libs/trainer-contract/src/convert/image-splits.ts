import { DataError } from '../errors/index.js';
import { where, type LoadedDataset } from './dice-load.js';
import { stemOf } from './paths.js';
import type { ReportBuilder } from './report.js';
import { assignSplits, type ParsedSplitConfig } from './split.js';
import type { SplitName } from './types.js';

export const SPLITS: readonly SplitName[] = ['train', 'val', 'test'];

export interface ImageSplitPlan {
  /** Indices of the images that made it into a split, in images order. */
  usable: number[];
  /** Per image: 0 train, 1 val, 2 test, -1 not used. */
  splitOf: Int8Array;
  /** A lone usable image, listed in train and again in val. */
  bothSplits: boolean;
}

/**
 * Which split every usable image of a converted dataset goes to, for every writer alike (yolo labels, COCO files):
 * split_config.splits by id, file name or stem, the rest by the seeded hash of the file name; val and train are
 * never left empty. Fixed before any annotation is read, so annotations can go straight to their image's split.
 */
export function planImageSplits(ds: LoadedDataset, split: ParsedSplitConfig, report: ReportBuilder): ImageSplitPlan {
  const { images } = ds;
  const usable: number[] = [];
  for (let i = 0; i < images.count; i++) if (images.ok[i]) usable.push(i);
  if (usable.length === 0) throw noUsable(ds);
  const assignment = assignSplits(
    usable.map((i) => ({ key: images.rel[i]!, names: [String(images.ids[i]), images.rel[i]!, stemOf(images.rel[i]!)] })),
    split,
  );
  noteSplitRepairs(assignment, usable, ds, report);
  const splitOf = new Int8Array(images.count).fill(-1);
  usable.forEach((img, k) => (splitOf[img] = SPLITS.indexOf(assignment.split[k]!)));
  if (assignment.bothSplits) splitOf[usable[0]!] = 0;
  return { usable, splitOf, bothSplits: assignment.bothSplits };
}

export function noUsable(ds: LoadedDataset): DataError {
  return new DataError(
    `no usable training image: ${ds.images.count} images in ${ds.file.label}, none with a readable file in ${ds.imagesLabel}/`,
  );
}

export function noteSplitRepairs(
  assignment: ReturnType<typeof assignSplits>,
  usable: number[],
  ds: LoadedDataset,
  report: ReportBuilder,
): void {
  const { images } = ds;
  for (const k of assignment.forcedVal) report.note('val_forced', () => `${where('images', usable[k]!, images.ids[usable[k]!])}: ${images.rel[usable[k]!]}`);
  for (const k of assignment.forcedTrain) report.note('train_forced', () => `${where('images', usable[k]!, images.ids[usable[k]!])}: ${images.rel[usable[k]!]}`);
  if (assignment.bothSplits) report.note('single_image_both_splits', () => images.rel[usable[0]!]!);
  for (const key of assignment.unmatchedKeys) report.note('unmatched_split_key', () => key);
}
