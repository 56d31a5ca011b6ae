import type { ClassCounts, ConversionReport, ReportGroup, SplitName } from './types.js';

const MAX_EXAMPLES = 5;

/** Why an item was dropped, repaired or noted; the keys of the report's groups. */
export const REASONS = {
  dropped: {
    crowd: 'iscrowd annotation skipped',
    rle_segmentation: 'RLE segmentation skipped (no polygon)',
    unknown_category: 'category_id not in categories',
    unknown_image: 'image_id not in images',
    image_dropped: 'annotation of an image that was dropped',
    zero_area_box: 'zero-area box',
    box_outside_image: 'box entirely outside the image',
    polygon_outside_image: 'polygon entirely outside the image',
    duplicate_annotation: 'duplicate annotation (same class and coordinates)',
    missing_bbox: 'annotation without bbox or polygon',
    missing_image_file: 'image file missing',
    duplicate_image_entry: 'duplicate image entry (same id)',
    unsupported_image_format: 'image extension the framework does not read',
    image_size_unknown: 'image size missing and unreadable from the file',
    unlabelled_image: 'classify: image without a class',
    ambiguous_class: 'classify: image with several classes',
  },
  repaired: {
    clipped_box: 'box clipped to the image',
    clipped_polygon: 'polygon clipped to the image',
    merged_multipart_polygon: 'multi-part polygon merged into one outline',
    polygon_part_dropped: 'degenerate polygon part (< 3 points) removed',
    polygon_from_box: 'no polygon: the box is used as the outline',
    box_from_polygon: 'no bbox: box computed from the polygon',
    keypoints_clipped: 'keypoints clipped to the image',
    keypoints_padded: 'keypoints missing or short: padded with invisible points',
    keypoints_truncated: 'more keypoints than kpt_shape: extra ones removed',
    size_from_header: 'image size read from the file header',
    duplicate_file_name: 'second image id with the same file: annotations merged',
    image_path_relinked: 'file name the framework cannot list in place: image linked under a safe name',
    label_name_clash: 'same name as another image but for the extension (one label file for both): linked under its own name',
    file_name_prefix_stripped: 'file_name included the images/ folder',
  },
  notes: {
    images_without_annotations: 'image without annotations (empty label file, background)',
    images_not_in_json: 'image file not listed in annotations.json (not used)',
    val_forced: 'val would be empty: image moved to val',
    train_forced: 'train would be empty: image moved to train',
    single_image_both_splits: 'only one usable image: used for train and val',
    unmatched_split_key: 'split_config.splits key matching no image',
    rle_box_kept: 'RLE segmentation on a non-crowd annotation: its box is kept',
    class_without_images: 'class without any image',
    class_in_both_splits: 'classify: class with one image, used for train and val',
    class_moved_to_val: 'classify: class had no val image; one moved to val',
    split_config_ignored: 'pre-split COCO: the files give the splits, split_config is not used',
  },
} as const;

export type DropReason = keyof typeof REASONS.dropped;
export type RepairReason = keyof typeof REASONS.repaired;
export type NoteReason = keyof typeof REASONS.notes;

/** Accumulates groups; an example string is only built while the group still has room for one. */
export class ReportBuilder {
  readonly dropped: Record<string, ReportGroup> = {};
  readonly repaired: Record<string, ReportGroup> = {};
  readonly notes: Record<string, ReportGroup> = {};

  drop(reason: DropReason, example?: () => string, n = 1): void {
    add(this.dropped, reason, example, n);
  }
  repair(reason: RepairReason, example?: () => string, n = 1): void {
    add(this.repaired, reason, example, n);
  }
  note(reason: NoteReason, example?: () => string, n = 1): void {
    add(this.notes, reason, example, n);
  }
  count(group: 'dropped' | 'repaired' | 'notes', reason: string): number {
    return this[group][reason]?.count ?? 0;
  }
  /** Adds groups counted elsewhere (a worker's share of the annotations) as if they had come after ours. */
  merge(other: Pick<ReportBuilder, 'dropped' | 'repaired' | 'notes'>): void {
    for (const group of ['dropped', 'repaired', 'notes'] as const) {
      for (const [reason, g] of Object.entries(other[group])) {
        const mine = (this[group][reason] ??= { count: 0, examples: [] });
        mine.count += g.count;
        for (const e of g.examples) if (mine.examples.length < MAX_EXAMPLES) mine.examples.push(e);
      }
    }
  }
}

function add(groups: Record<string, ReportGroup>, reason: string, example: (() => string) | undefined, n: number): void {
  let g = groups[reason];
  if (!g) groups[reason] = g = { count: 0, examples: [] };
  g.count += n;
  if (example && g.examples.length < MAX_EXAMPLES) g.examples.push(example());
}

export function emptySplits(): Record<SplitName, { images: number; annotations: number; background: number }> {
  return {
    train: { images: 0, annotations: 0, background: 0 },
    val: { images: 0, annotations: 0, background: 0 },
    test: { images: 0, annotations: 0, background: 0 },
  };
}

function describe(group: 'dropped' | 'repaired' | 'notes', reason: string): string {
  const table = REASONS[group] as Record<string, string>;
  return table[reason] ?? reason;
}

/** A few lines for the log: what went in, what came out, and what was dropped or repaired. */
export function summarizeReport(report: ConversionReport): string {
  const s = report.splits;
  const lines = [
    `${report.format} → ${report.task}: ${report.images.used}/${report.images.listed} images, ` +
      `${report.annotations.kept}/${report.annotations.listed} annotations kept, ${report.classes.length} classes ` +
      `(${(report.durationMs / 1000).toFixed(2)} s${report.streamed ? ', streamed' : ''})`,
    `splits: train ${s.train.images} images/${s.train.annotations} labels, val ${s.val.images}/${s.val.annotations}` +
      (s.test.images ? `, test ${s.test.images}/${s.test.annotations}` : ''),
  ];
  for (const group of ['dropped', 'repaired'] as const) {
    const entries = Object.entries(report[group]).sort((a, b) => b[1].count - a[1].count);
    if (entries.length === 0) continue;
    lines.push(`${group}: ` + entries.map(([k, g]) => `${g.count} ${describe(group, k)}`).join('; '));
  }
  const notes = Object.entries(report.notes).filter(([, g]) => g.count > 0);
  if (notes.length) lines.push('notes: ' + notes.map(([k, g]) => `${g.count} ${describe('notes', k)}`).join('; '));
  const top = [...report.classes].sort((a, b) => b.train + b.val + b.test - (a.train + a.val + a.test)).slice(0, 5);
  if (top.length) {
    lines.push('top classes: ' + top.map((c: ClassCounts) => `${c.name}=${c.train + c.val + c.test}`).join(', '));
  }
  return lines.join('\n');
}
