import { mkdirSync, rmSync, symlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DataError } from '../errors/index.js';
import { type AnnotationContext } from './annotation.js';
import type { LookupTables } from './annotation-pass.js';
import { convertAnnotations } from './annotation-share.js';
import { strictFail, where, type LoadedDataset } from './dice-load.js';
import { MemorySink, SpillSink, type LineSink } from './line-sink.js';
import type { ImageLines } from './arena.js';
import { inside, listableInPlace, stripExtension } from './paths.js';
import { emptySplits, type ReportBuilder } from './report.js';
import type { ParsedSplitConfig } from './split.js';
import { planImageSplits, SPLITS } from './image-splits.js';
import type { ClassCounts, ConvertTuning, SplitName, Task } from './types.js';
import { ImageLinker } from './image-linker.js';
import { LabelFiles } from './label-files.js';
import { poseShape, type PoseShape } from './pose.js';
import { yamlDataFile } from './yaml.js';

export interface LabelsResult {
  dataYaml: string;
  splits: ReturnType<typeof emptySplits>;
  classCounts: ClassCounts[];
  kept: number;
  listed: number;
  used: number;
  streamed: boolean;
  imageLayout: string;
  filesWritten: number;
  writeMs: number;
  annotationThreads: number;
  pose?: PoseShape;
}

const EMPTY = new Uint8Array(0);
const SHARD = 1000;
/** Below this many label files a helper thread costs more to start than it saves. */
const HELPER_THRESHOLD = 2000;

/** detect / segment / pose / obb: label files beside one link per split to the source image folder. */
export async function writeLabelDataset(
  ds: LoadedDataset,
  opts: { outputDir: string; task: Task; split: ParsedSplitConfig; strict: boolean; report: ReportBuilder; tuning: ConvertTuning },
): Promise<LabelsResult> {
  const { images, classes, catIndex, file, scan } = ds;
  const { outputDir, task, report, strict } = opts;
  const annSection = scan.arrays.get('annotations');

  // Splits are fixed before any annotation is read, so streamed lines can go straight to their image.
  const { usable, splitOf, bothSplits } = planImageSplits(ds, opts.split, report);
  const assignment = { bothSplits };

  let pose: PoseShape | undefined;
  if (task === 'pose') {
    pose = await poseShape(ds, annSection);
    if (pose.kpts === 0) throw new DataError('task pose needs keypoints: no category lists keypoints and no annotation has any');
  }
  const ctx: AnnotationContext = { task, report, kpts: pose?.kpts ?? 0 };

  const annBytes = annSection ? annSection.batches.reduce((s, b) => s + (b.end - b.start), 0) : 0;
  const spillAt = opts.tuning.spillThresholdBytes ?? 64 << 20;
  const streamed = annBytes > spillAt;
  const sink: LineSink = streamed
    ? new SpillSink(images.count, Math.ceil(annBytes / (opts.tuning.spillBucketBytes ?? 24 << 20)), join(outputDir, '.spill'))
    : new MemorySink(images.count, annBytes, annSection?.count ?? 0);

  // Where every image and label goes is fixed before any annotation is read: `<split>/<shard>/images` links
  // to the source folder and labels mirror it under `<split>/<shard>/labels`. Knowing the label paths this
  // early lets a helper thread create the files while the annotations are parsed (see LabelFiles).
  const writer = new ImageLinker();
  const folderLink = opts.tuning.linkImageFolder ?? true;
  const splitRoot = SPLITS.map((s) => join(outputDir, s));
  const present = new Set<number>();
  for (let img = 0; img < images.count; img++) if (splitOf[img]! >= 0) present.add(splitOf[img]!);
  if (assignment.bothSplits) present.add(1);
  // Each split is cut into shards of SHARD images, each with its own link to the source folder and its own
  // labels folder: creating files in one folder of 20,000 costs ext4 here about twice as much as in small ones.
  let perImage = false;
  let folderLinks = 0;
  const shards: Array<Array<{ root: string; linked: boolean }>> = [[], [], []];
  const shardOf = (s: number, shard: number): { root: string; linked: boolean } => {
    let info = shards[s]![shard];
    if (info) return info;
    const root = `${splitRoot[s]}/${String(shard).padStart(3, '0')}`;
    // Once one folder link fails, every later shard links its images one by one.
    const linked = !perImage && folderLink && tryLinkFolder(ds.imagesDir, root + '/images');
    if (linked) folderLinks++;
    else perImage = true;
    info = shards[s]![shard] = { root, linked };
    return info;
  };
  const counters = [0, 0, 0];
  const shardSize = opts.tuning.shardSize ?? SHARD;
  const lists: string[][] = [[], [], []];
  const labelPaths: string[] = [];
  let relinked = 0;
  const taken = new Set<string>();
  const plan = (img: number, s: number): void => {
    const rel = images.rel[img]!;
    let imagePath = '';
    let labelPath = '';
    // rel is normalised (no `..`, not absolute), so plain concatenation stays inside the output folder.
    if (listableInPlace(rel)) {
      const shard = shardOf(s, Math.floor(counters[s]!++ / shardSize));
      imagePath = shard.root + '/images/' + rel;
      labelPath = shard.root + '/labels/' + stripExtension(rel) + '.txt';
      // a.jpg and a.png would share a.txt: the second is linked under a name of its own.
      if (taken.has(labelPath)) {
        report.repair('label_name_clash', () => `${where('images', img, images.ids[img])}: ${rel}`);
        labelPath = '';
      } else if (!shard.linked) writer.link(join(ds.imagesDir, rel), imagePath);
    } else {
      report.repair('image_path_relinked', () => `${where('images', img, images.ids[img])}: ${rel}`);
    }
    if (!labelPath) {
      const safe = `${img}_${rel.slice(rel.lastIndexOf('/') + 1).replace(/[^\w.-]+/g, '_')}`;
      imagePath = inside(splitRoot[s]!, 'relinked/images/' + safe);
      labelPath = inside(splitRoot[s]!, 'relinked/labels/' + stripExtension(safe) + '.txt');
      writer.link(join(ds.imagesDir, rel), imagePath);
      relinked++;
    }
    taken.add(labelPath);
    lists[s]!.push(imagePath);
    labelPaths.push(labelPath);
  };
  for (let img = 0; img < images.count; img++) {
    const s = splitOf[img]!;
    if (s < 0) continue;
    plan(img, s);
    // A lone image is listed in train and again in val.
    if (assignment.bothSplits) plan(img, 1);
  }
  // The bytes waiting for the helper to write them: all of them for most datasets, a window of the rest.
  const pending = Math.min(Math.ceil(annBytes * 0.5) + (1 << 20), opts.tuning.pendingBytes ?? 16 << 20);
  const labelFiles = new LabelFiles(labelPaths, labelPaths.length >= (opts.tuning.helperThreshold ?? HELPER_THRESHOLD), pending);

  const problems: string[] = [];
  let listed = 0;
  let threads = 1;
  try {
    if (annSection) {
      const lookups: LookupTables = { idToIdx: images.idToIdx, target: images.target, ok: images.ok, width: images.width, height: images.height, rel: images.rel, catIndex };
      ({ listed, threads } = await convertAnnotations({ file, section: annSection, lookups, ctx: { ...ctx, strict }, sink, problems, tuning: opts.tuning }));
    }
    await file.close();
    strictFail(problems);
  } catch (err) {
    // Nothing half-made stays behind for a conversion that failed on its data.
    await labelFiles.close();
    for (const root of [...splitRoot, join(outputDir, '.spill')]) rmSync(root, { recursive: true, force: true });
    throw err;
  }

  const splits = emptySplits();
  const classCounts: ClassCounts[] = classes.map((c) => ({ ...c, train: 0, val: 0, test: 0 }));
  let kept = 0;
  let entry = 0;
  const emitEntry = (img: number, lines: ImageLines | undefined, s: number, again: boolean): void => {
    const key = SPLITS[s]!;
    const split = splits[key];
    split.images++;
    if (!lines) {
      split.background++;
      labelFiles.write(entry++, EMPTY);
      return;
    }
    if (lines.duplicates && !again) {
      report.drop('duplicate_annotation', () => `${where('images', img, images.ids[img])}: ${images.rel[img]}`, lines.duplicates);
    }
    split.annotations += lines.classes.length;
    if (!again) kept += lines.classes.length;
    for (const c of lines.classes) classCounts[c]![key]++;
    labelFiles.write(entry++, lines.bytes);
  };
  try {
    await sink.drain((img, lines) => {
      const s = splitOf[img]!;
      if (s < 0) return;
      if (!lines) report.note('images_without_annotations', () => `${where('images', img, images.ids[img])}: ${images.rel[img]}`);
      emitEntry(img, lines, s, false);
      if (assignment.bothSplits) emitEntry(img, lines, 1, true);
    });
    await labelFiles.finish();
  } finally {
    await labelFiles.close();
  }

  if (kept === 0) {
    throw new DataError(`no usable annotation: all ${listed} annotations were dropped (${topDrops(report)})`);
  }
  const listFiles: Partial<Record<SplitName, string>> = {};
  for (const s of present) {
    const name = SPLITS[s]!;
    const path = join(outputDir, `${name}.txt`);
    await writeFile(path, lists[s]!.join('\n') + '\n');
    listFiles[name] = path;
  }
  const dataYaml = join(outputDir, 'data.yaml');
  await writeFile(dataYaml, yamlDataFile({ path: outputDir, lists: listFiles, classes, pose }));
  return {
    dataYaml,
    splits,
    classCounts,
    kept,
    listed,
    used: usable.length,
    streamed,
    imageLayout:
      (perImage ? `per-image ${writer.linkMode} links` : `${folderLinks} symlinks to the source images folder (one per ${shardSize} images)`) +
      (relinked ? `, ${relinked} images relinked` : '') +
      ', .txt split lists',
    filesWritten: writer.files + labelPaths.length + folderLinks + present.size + 1,
    writeMs: Math.round(writer.writeMs + labelFiles.writeMs),
    annotationThreads: threads,
    pose,
  };
}

function tryLinkFolder(target: string, link: string): boolean {
  try {
    mkdirSync(dirname(link), { recursive: true });
    symlinkSync(target, link, 'dir');
    return true;
  } catch {
    return false;
  }
}

export function topDrops(report: ReportBuilder): string {
  const entries = Object.entries(report.dropped).sort((a, b) => b[1].count - a[1].count).slice(0, 3);
  return entries.map(([k, g]) => `${g.count} ${k}`).join(', ') || 'none listed';
}
