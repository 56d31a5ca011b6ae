import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { DataError } from '../errors/index.js';
import { forEachAnnotation } from './annotation-pass.js';
import { cocoAnnotation, type CocoContext } from './coco-annotation.js';
import { strictFail, where, type LoadedDataset } from './dice-load.js';
import { SPLITS, type ImageSplitPlan } from './image-splits.js';
import { JsonBytes } from './json-bytes.js';
import { poseShape } from './pose.js';
import { emptySplits, type ReportBuilder } from './report.js';
import type { ClassCounts, SplitName } from './types.js';

export interface CocoSplitsResult {
  /** The files written, by split. */
  files: Partial<Record<SplitName, string>>;
  splits: ReturnType<typeof emptySplits>;
  classCounts: ClassCounts[];
  kept: number;
  listed: number;
  used: number;
  kpts?: number;
}

/**
 * detect / segment / pose → one COCO JSON file per split (`<split>.json` in the output folder):
 *
 *     {"info": {...}, "images": [...], "categories": [...], "annotations": [...]}
 *
 * - images: `id` (the DICE id when every image id is an integer, else 1…N in images order), `file_name` (the
 *   absolute path of the source image: nothing is copied or linked), `width`, `height` (from the JSON, else the
 *   header), `dice_id` (the DICE id as it was).
 * - categories: `id` = the class index 0…N-1 of classes.json, `name`, `supercategory`, `dice_id`; pose adds
 *   `keypoints` (names) and `skeleton` when the category has them.
 * - annotations: `id` 1…M, `image_id`, `category_id` (the class index), `bbox` [x, y, w, h] in pixels clipped to
 *   the image, `area` recomputed (the box's, or the clipped polygons' for segment), `iscrowd: 0`, `dice_id` when
 *   the DICE annotation had an id; segment adds `segmentation` (the polygons, each clipped to the image), pose
 *   `keypoints` (pixel triplets, padded or cut to kpt_shape, clipped) and `num_keypoints`.
 *
 * Memory: annotations go from each JSON batch straight to their split's file, so what is held is the image table,
 * a write buffer per split and 11–21 bytes per kept annotation for spotting duplicates (SeenTable).
 */
export async function writeCocoSplits(
  ds: LoadedDataset,
  plan: ImageSplitPlan,
  opts: {
    outputDir: string;
    task: CocoContext['task'];
    strict: boolean;
    report: ReportBuilder;
    /** How the `info` block names the input (`annotations.json`). */
    source: string;
    firstAnnotationId?: number;
    /** Pose: keypoints per instance, when another split file already fixed it. */
    kpts?: number;
  },
): Promise<CocoSplitsResult & { nextAnnotationId: number }> {
  const { images, classes, categories, file, scan } = ds;
  const { report, task } = opts;
  const annSection = scan.arrays.get('annotations');
  let kpts = 0;
  if (task === 'pose') {
    kpts = opts.kpts ?? (await poseShape(ds, annSection)).kpts;
    if (kpts === 0) throw new DataError('task pose needs keypoints: no category lists keypoints and no annotation has any');
  }
  const ctx: CocoContext = { task, report, kpts };
  const { splitOf, bothSplits, usable } = plan;
  // A lone image is listed in train and again in val.
  const targets = (img: number): readonly number[] => (bothSplits && splitOf[img] === 0 ? BOTH : ONE[splitOf[img]!]!);

  const present = new Set<number>();
  for (const img of usable) for (const s of targets(img)) present.add(s);
  const out: Array<SplitFile | undefined> = [undefined, undefined, undefined];
  const intIds = usable.every((i) => Number.isSafeInteger(images.ids[i]));
  const imageId = (img: number): string => (intIds ? String(images.ids[img]) : String(img + 1));
  const categoryJson = classes
    .map((c, k) => {
      const info = categories[k]!;
      let s = `{"id":${c.index},"name":${JSON.stringify(c.name)}`;
      if (info.supercategory !== undefined) s += `,"supercategory":${JSON.stringify(info.supercategory)}`;
      s += `,"dice_id":${c.id}`;
      if (task === 'pose' && info.keypoints) s += `,"keypoints":${JSON.stringify(info.keypoints)}`;
      if (task === 'pose' && info.skeleton) s += `,"skeleton":${JSON.stringify(info.skeleton)}`;
      return s + '}';
    })
    .join(',');

  const splits = emptySplits();
  const classCounts: ClassCounts[] = classes.map((c) => ({ ...c, train: 0, val: 0, test: 0 }));
  const hasLabel = new Uint8Array(images.count);
  const seen = new SeenTable();
  const problems: string[] = [];
  let kept = 0;
  let listed = 0;
  let nextId = opts.firstAnnotationId ?? 1;
  try {
    for (const s of present) {
      const f = (out[s] = new SplitFile(join(opts.outputDir, `${SPLITS[s]}.json`)));
      f.write(`{"info":{"description":${JSON.stringify(`${opts.source} converted to COCO by dice2yolo`)},"split":"${SPLITS[s]}","classes":"classes.json"},"images":[`);
    }
    const entry = new JsonBytes();
    for (const img of usable) {
      entry.pos = 0;
      entry.raw(`{"id":${imageId(img)},"file_name":`);
      entry.str(join(ds.imagesDir, images.rel[img]!));
      entry.raw(',"width":');
      entry.num(images.width[img]!);
      entry.raw(',"height":');
      entry.num(images.height[img]!);
      entry.raw(',"dice_id":');
      entry.raw(JSON.stringify(images.ids[img]));
      entry.raw('}');
      for (const s of targets(img)) {
        out[s]!.item(entry);
        splits[SPLITS[s]!].images++;
      }
    }
    for (const s of present) out[s]!.write(`],"categories":[${categoryJson}],"annotations":[`).restart();

    if (annSection) {
      const lookups = { idToIdx: images.idToIdx, target: images.target, catIndex: ds.catIndex };
      const json = new JsonBytes();
      listed = await forEachAnnotation(file, annSection, 0, annSection.batches.length, lookups, report, opts.strict, problems, (index, ann, img, cls) => {
        if (!images.ok[img]) {
          report.drop('image_dropped', () => `${where('annotations', index, ann.id)}: ${ds.imagesLabel}/${images.rel[img]}`);
          return;
        }
        if (ann.iscrowd === 1 || ann.iscrowd === true) {
          report.drop('crowd', () => where('annotations', index, ann.id));
          return;
        }
        json.pos = 0;
        json.raw('{"id":');
        json.int(nextId);
        json.raw(',"image_id":');
        if (intIds) json.int(images.ids[img] as number);
        else json.int(img + 1);
        json.raw(',');
        json.resetHash(img);
        if (!cocoAnnotation(ctx, index, ann, cls, images.width[img]!, images.height[img]!, json)) return;
        if (seen.addOrFind(json.h1 ^ json.hashed, json.h2 ^ json.hashed)) {
          report.drop('duplicate_annotation', () => `${where('annotations', index, ann.id)}: same class and coordinates as an earlier annotation of ${where('images', img, images.ids[img])}`);
          return;
        }
        nextId++;
        kept++;
        hasLabel[img] = 1;
        if (typeof ann.id === 'number' || typeof ann.id === 'string') {
          json.raw(',"dice_id":');
          if (typeof ann.id === 'number') json.raw(JSON.stringify(ann.id));
          else json.str(ann.id);
        }
        json.raw('}');
        for (const s of targets(img)) {
          out[s]!.item(json);
          splits[SPLITS[s]!].annotations++;
          classCounts[cls]![SPLITS[s]!]++;
        }
      });
    }
    await file.close();
    strictFail(problems);
    for (const img of usable) {
      if (hasLabel[img]) continue;
      report.note('images_without_annotations', () => `${where('images', img, images.ids[img])}: ${images.rel[img]}`);
      for (const s of targets(img)) splits[SPLITS[s]!].background++;
    }
    const files: Partial<Record<SplitName, string>> = {};
    for (const s of present) {
      out[s]!.write(']}\n');
      files[SPLITS[s]!] = out[s]!.finish();
    }
    return { files, splits, classCounts, kept, listed, used: usable.length, kpts: kpts || undefined, nextAnnotationId: nextId };
  } catch (err) {
    // Nothing half-written stays behind for a conversion that failed on its data.
    for (const f of out) f?.abort();
    throw err;
  }
}

const ONE: ReadonlyArray<readonly number[]> = [[0], [1], [2]];
const BOTH: readonly number[] = [0, 1];

/** Above this many buffered bytes a split's text goes to disk (bounded memory, few system calls). */
const FLUSH_AT = 1 << 20;

/** One split's JSON, written to a hidden `.part` file and renamed into place once complete. */
class SplitFile {
  private readonly tmp: string;
  private readonly fd: number;
  private readonly out = new JsonBytes(FLUSH_AT + (1 << 16));
  private first = true;

  constructor(private readonly path: string) {
    this.tmp = join(path, '..', `.${path.slice(path.lastIndexOf('/') + 1)}.part`);
    this.fd = openSync(this.tmp, 'w');
  }

  write(s: string): this {
    this.out.utf8(s);
    this.maybeFlush();
    return this;
  }

  /** An element of the array being written (its bytes so far in `from`): commas between elements. */
  item(from: JsonBytes): void {
    if (!this.first) this.out.raw(',');
    this.first = false;
    this.out.bytes(from.buf, 0, from.pos);
    this.maybeFlush();
  }

  /** The next array starts. */
  restart(): void {
    this.first = true;
  }

  private maybeFlush(): void {
    if (this.out.pos >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    let at = 0;
    while (at < this.out.pos) at += writeSync(this.fd, this.out.buf, at, this.out.pos - at);
    this.out.pos = 0;
  }

  finish(): string {
    this.flush();
    closeSync(this.fd);
    renameSync(this.tmp, this.path);
    return this.path;
  }

  abort(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* already closed */
    }
    rmSync(this.tmp, { force: true });
  }
}

/**
 * Exact duplicates (same image, class and numbers) among kept annotations, found by two independent 32-bit hashes
 * of the numbers (JsonBytes.num), both seeded with the image: an open-addressing table of 8 bytes a slot, at most
 * three quarters full, so about 11–21 bytes per kept annotation (33 MB for 2.4 million). A false match needs two
 * annotations whose 63 hashed bits collide (about one in 10^7 for 2.4 million annotations).
 */
class SeenTable {
  /** Slot k: hashes at 2k and 2k + 1; 0/0 is empty, so the first hash always has its low bit set. */
  private slots = new Uint32Array(2 << 12);
  private count = 0;

  /** True when an annotation with the same hashes was added before; adds it otherwise. */
  addOrFind(h1: number, h2: number): boolean {
    if ((this.count + 1) * 4 > (this.slots.length >> 1) * 3) this.grow();
    return this.insert((fmix(h1) | 1) >>> 0, fmix(h2) >>> 0);
  }

  private insert(h1: number, h2: number): boolean {
    const t = this.slots;
    const mask = (t.length >> 1) - 1;
    for (let i = h1 & mask; ; i = (i + 1) & mask) {
      const a = t[i * 2]!;
      if (a === 0) {
        t[i * 2] = h1;
        t[i * 2 + 1] = h2;
        this.count++;
        return false;
      }
      if (a === h1 && t[i * 2 + 1] === h2) return true;
    }
  }

  private grow(): void {
    const old = this.slots;
    this.slots = new Uint32Array(old.length * 2);
    this.count = 0;
    for (let i = 0; i < old.length; i += 2) if (old[i] !== 0) this.insert(old[i]!, old[i + 1]!);
  }
}

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
