import { existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join, relative, resolve, sep, isAbsolute } from 'node:path';
import { ConfigError, DataError, DataUnavailableError, TrainerError } from '../errors/index.js';
import { writeClassifyDataset } from './dice-classify.js';
import type { CocoContext } from './coco-annotation.js';
import { convertPresplitCoco, findPresplitCoco } from './coco-presplit.js';
import { writeCocoSplits } from './dice-coco.js';
import { topDrops, writeLabelDataset } from './dice-labels.js';
import { planImageSplits } from './image-splits.js';
import { loadDataset } from './dice-load.js';
import { findYoloYaml, isImageFolder, passthroughImageFolder, passthroughYolo } from './passthrough.js';
import { ReportBuilder, summarizeReport } from './report.js';
import { splitConfigSchema, type ParsedSplitConfig } from './split.js';
import { DATASET_FORMATS } from '../domain/index.js';
import type { ConversionReport, DatasetFormat, PrepareOptions, PreparedDataset, SourceFormat, SplitConfig, SplitName, Task } from './types.js';

const MARKER = '.dice2yolo';

/** split_config validated, with one line per problem naming the field. */
export function parseSplitConfig(raw: SplitConfig | unknown, label = 'split_config'): ParsedSplitConfig {
  const r = splitConfigSchema.safeParse(raw ?? {});
  if (r.success) return r.data;
  throw new ConfigError(
    r.error.issues.map((i) => `${[label, ...i.path.map(String)].join('.')}: ${i.message}`),
  );
}

/**
 * Turns the staged dataset into the layout the framework reads (CONTRACT §7), `opts.format` (default yolo):
 * DICEFormat is converted to any of them; a dataset already in the framework's native layout (YOLO, ImageFolder,
 * pre-split COCO) is used as it is, and one in another layout is refused saying what is needed. Bad data is a
 * DataError naming the item, a target the task has not a ConfigError, a missing dataset a DataUnavailableError;
 * after a failure the output folder holds nothing but its marker.
 */
export async function prepareDataset(opts: PrepareOptions): Promise<PreparedDataset> {
  const started = performance.now();
  const inputDir = resolve(opts.inputDir);
  const outputDir = resolve(opts.outputDir);
  const split = parseSplitConfig(opts.splitConfig);
  const tuning = opts.tuning ?? {};
  const strict = opts.strict ?? false;
  const report = new ReportBuilder();
  const log = opts.logger;
  const target: DatasetFormat = opts.format ?? 'yolo';
  checkTarget(target, opts.task);

  if (!existsSync(inputDir) || !statSync(inputDir).isDirectory()) {
    throw new DataUnavailableError(`dataset directory ${inputDir} does not exist`);
  }
  let format: SourceFormat;
  const annotations = join(inputDir, 'annotations.json');
  const yoloYaml = existsSync(annotations) ? undefined : findYoloYaml(inputDir);
  const presplit = existsSync(annotations) || yoloYaml ? undefined : findPresplitCoco(inputDir);
  if (existsSync(annotations)) {
    if (!statSync(annotations).isFile()) throw new DataError(`${annotations} is not a file`);
    if (!existsSync(join(inputDir, 'images'))) {
      throw new DataUnavailableError(`${inputDir}: annotations.json has no images/ folder beside it`);
    }
    format = 'diceformat';
  } else if (yoloYaml) {
    format = 'yolo';
  } else if (presplit) {
    format = 'coco';
  } else if (opts.task === 'classify' && isImageFolder(inputDir)) {
    format = 'imagefolder';
  } else {
    throw new DataUnavailableError(`${inputDir}: no dataset found: ${NEEDS[target](opts.task)}`);
  }
  checkSource(format, target, opts.task, inputDir);
  if (opts.task === 'obb' && format === 'diceformat') {
    log.info('task obb: axis-aligned boxes become 4-corner labels unless a 4-point polygon gives the rotation');
  }
  prepareOutputDir(outputDir, inputDir);
  log.info({ input: inputDir, output: outputDir, format, task: opts.task }, 'preparing dataset');

  let result: PreparedDataset;
  try {
    result = await convert(format, yoloYaml);
  } catch (err) {
    // Nothing half-made stays behind: the folder is ours (prepareOutputDir checked), the marker says so.
    for (const e of readdirSync(outputDir)) if (e !== MARKER) rmSync(join(outputDir, e), { recursive: true, force: true });
    throw asTrainerError(err, inputDir);
  }
  await writeFile(join(outputDir, 'classes.json'), JSON.stringify(result.classes, null, 2) + '\n');
  await writeFile(join(outputDir, 'report.json'), JSON.stringify(result.report, null, 2) + '\n');
  for (const line of summarizeReport(result.report).split('\n')) log.info(line);
  return result;

  async function convert(fmt: SourceFormat, yamlPath: string | undefined): Promise<PreparedDataset> {
    const base = (partial: Omit<ConversionReport, 'format' | 'target' | 'task' | 'input' | 'output' | 'dropped' | 'repaired' | 'notes' | 'durationMs'>): ConversionReport => ({
      format: fmt,
      target,
      task: opts.task,
      input: inputDir,
      output: outputDir,
      ...partial,
      dropped: report.dropped,
      repaired: report.repaired,
      notes: report.notes,
      durationMs: Math.round(performance.now() - started),
    });
    if (fmt === 'coco') {
      const r = await convertPresplitCoco(presplit!, { inputDir, outputDir, task: opts.task as CocoContext['task'], strict, report, batchBytes: tuning.batchBytes ?? 1 << 20 });
      if (r.kept === 0) throw noAnnotation(r.listed, report);
      if (splitConfigGiven(opts.splitConfig)) report.note('split_config_ignored', () => JSON.stringify(opts.splitConfig));
      return {
        root: outputDir,
        task: opts.task,
        format: target,
        source: fmt,
        coco: cocoFiles(r.files),
        classes: r.classes,
        kptShape: r.kpts ? [r.kpts, 3] : undefined,
        report: base({
          streamed: true,
          images: { listed: r.listedImages, used: r.used },
          annotations: { listed: r.listed, kept: r.kept },
          splits: r.splits,
          classes: r.classCounts,
          imageLayout: COCO_LAYOUT,
          filesWritten: Object.keys(r.files).length,
        }),
      };
    }
    if (fmt === 'yolo' || fmt === 'imagefolder') {
      const r = fmt === 'yolo' ? await passthroughYolo(inputDir, yamlPath!, outputDir) : await passthroughImageFolder(inputDir);
      return {
        root: r.root,
        task: opts.task,
        dataYaml: r.dataYaml,
        classes: r.classes,
        kptShape: r.kptShape,
        format: target,
        source: fmt,
        ...(opts.task === 'classify' ? { imageFolder: imageFolderSplits(r.root) } : {}),
        report: base({
          streamed: false,
          images: { listed: r.listed, used: r.listed },
          annotations: { listed: r.kept, kept: r.kept },
          splits: r.splits,
          classes: r.classCounts,
          imageLayout: 'used in place',
          filesWritten: r.dataYaml ? 1 : 0,
        }),
      };
    }
    const ds = await loadDataset({ inputDir, outputDir, task: opts.task, strict, report, batchBytes: tuning.batchBytes ?? 1 << 20 });
    /** The report of a converted dataset: the same counts whichever writer made it. */
    const converted = (r: { used: number; listed: number; kept: number; splits: ConversionReport['splits']; classCounts: ConversionReport['classes']; imageLayout: string; filesWritten: number; streamed?: boolean }) =>
      base({
        streamed: r.streamed ?? false,
        images: { listed: ds.images.count, used: r.used },
        annotations: { listed: r.listed, kept: r.kept },
        splits: r.splits,
        classes: r.classCounts,
        imageLayout: r.imageLayout,
        filesWritten: r.filesWritten,
      });
    try {
      if (opts.task === 'classify') {
        const r = await writeClassifyDataset(ds, { outputDir, split, strict, report, tuning });
        return { root: outputDir, task: opts.task, classes: r.classes, format: target, source: fmt, imageFolder: imageFolderSplits(outputDir), report: converted(r) };
      }
      if (target === 'coco') {
        const plan = planImageSplits(ds, split, report);
        const r = await writeCocoSplits(ds, plan, { outputDir, task: opts.task as CocoContext['task'], strict, report, source: 'annotations.json' });
        if (r.kept === 0) throw noAnnotation(r.listed, report);
        return {
          root: outputDir,
          task: opts.task,
          format: target,
          source: fmt,
          coco: cocoFiles(r.files),
          classes: ds.classes,
          kptShape: r.kpts ? [r.kpts, 3] : undefined,
          report: converted({ ...r, streamed: true, imageLayout: COCO_LAYOUT, filesWritten: Object.keys(r.files).length }),
        };
      }
      const r = await writeLabelDataset(ds, { outputDir, task: opts.task, split, strict, report, tuning });
      const rep = converted(r);
      rep.writeMs = r.writeMs;
      rep.annotationThreads = r.annotationThreads;
      if (r.pose) rep.flipIdx = { value: r.pose.flipIdx, source: r.pose.flipSource };
      return {
        root: outputDir,
        task: opts.task,
        dataYaml: r.dataYaml,
        classes: ds.classes,
        kptShape: r.pose ? [r.pose.kpts, 3] : undefined,
        format: target,
        source: fmt,
        report: rep,
      };
    } finally {
      await ds.file.close().catch(() => undefined);
    }
  }
}

const COCO_LAYOUT = 'one COCO JSON file per split; file_name is the absolute path of the source image (nothing copied or linked)';

/** What each target accepts as input, for the line that says what to give it instead. */
const NEEDS: Record<DatasetFormat, (task: Task) => string> = {
  yolo: (task) =>
    'give annotations.json + images/ (DICEFormat) or data.yaml + images/ + labels/ (YOLO)' + (task === 'classify' ? ' or train/<class>/ folders (ImageFolder)' : ''),
  coco: () => 'give annotations.json + images/ (DICEFormat), or train.json + val.json beside images/, or annotations/instances_{train,val}*.json (COCO)',
  imagefolder: () => 'give annotations.json + images/ (DICEFormat) or train/<class>/ folders (ImageFolder)',
};

const SOURCE_NAMES: Record<SourceFormat, string> = {
  diceformat: 'a DICEFormat dataset',
  yolo: 'a YOLO dataset (data.yaml + images/ + labels/)',
  coco: 'a pre-split COCO dataset',
  imagefolder: 'an ImageFolder dataset (train/<class>/)',
};

/** The formats a task can be given in: COCO has no classify or rotated boxes, ImageFolder is classify only. */
function checkTarget(target: DatasetFormat, task: Task): void {
  if (!DATASET_FORMATS.includes(target)) throw new ConfigError(`dataset format must be one of ${DATASET_FORMATS.join(', ')}, got ${JSON.stringify(target)}`);
  if (target === 'coco' && (task === 'classify' || task === 'obb')) {
    throw new ConfigError(`dataset format coco is not available for task ${task} (coco: detect, segment, pose)`);
  }
  if (target === 'imagefolder' && task !== 'classify') {
    throw new ConfigError(`dataset format imagefolder is for task classify only, not ${task}`);
  }
}

/** A dataset already in a native layout is used as it is, so it must be the layout the framework reads. */
function checkSource(source: SourceFormat, target: DatasetFormat, task: Task, inputDir: string): void {
  const fits =
    source === 'diceformat' ||
    (source === 'yolo' && target === 'yolo') ||
    (source === 'coco' && target === 'coco') ||
    (source === 'imagefolder' && (target === 'imagefolder' || target === 'yolo'));
  if (!fits) throw new DataError(`${inputDir}: ${SOURCE_NAMES[source]}, but this trainer reads ${target}: ${NEEDS[target](task)}`);
}

function cocoFiles(files: Partial<Record<SplitName, string>>): NonNullable<PreparedDataset['coco']> {
  return { train: files.train!, val: files.val!, ...(files.test ? { test: files.test } : {}) };
}

function noAnnotation(listed: number, report: ReportBuilder): DataError {
  return new DataError(`no usable annotation: all ${listed} annotations were dropped (${topDrops(report)})`);
}

function splitConfigGiven(raw: unknown): boolean {
  return raw !== null && typeof raw === 'object' && Object.keys(raw).length > 0;
}

function imageFolderSplits(root: string): NonNullable<PreparedDataset['imageFolder']> {
  const test = join(root, 'test');
  return { train: join(root, 'train'), val: join(root, 'val'), ...(existsSync(test) ? { test } : {}) };
}

/** The output folder is ours alone: created if missing, cleared if an earlier run of ours left it, else refused. */
function prepareOutputDir(outputDir: string, inputDir: string): void {
  const within = (from: string, to: string) => {
    const r = relative(from, to);
    return r === '' || (!r.startsWith('..') && !isAbsolute(r)) ? r : undefined;
  };
  const down = within(inputDir, outputDir);
  if (down === '' || (down !== undefined && down.split(sep)[0] === 'images')) {
    throw new ConfigError(`output directory ${outputDir} must not be the dataset directory or inside its images/`);
  }
  if (within(outputDir, inputDir) !== undefined) {
    throw new ConfigError(`output directory ${outputDir} must not contain the dataset directory`);
  }
  if (existsSync(outputDir)) {
    if (!statSync(outputDir).isDirectory()) throw new ConfigError(`output ${outputDir} is not a directory`);
    const entries = readdirSync(outputDir);
    if (entries.length > 0) {
      if (!entries.includes(MARKER)) {
        throw new ConfigError(`output directory ${outputDir} is not empty and was not written by dice2yolo`);
      }
      // rm does not follow symlinks: the links to the source images folder go, the images stay.
      for (const e of entries) rmSync(join(outputDir, e), { recursive: true, force: true });
    }
  }
  mkdirSync(outputDir, { recursive: true });
  writeFileSync(join(outputDir, MARKER), 'written by dice2yolo; the folder is cleared on the next run\n');
}

function asTrainerError(err: unknown, inputDir: string): unknown {
  if (err instanceof TrainerError) return err;
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.code === 'string' && typeof e.path === 'string' && resolve(e.path).startsWith(inputDir)) {
    const what = e.code === 'ENOENT' ? 'not found' : e.code === 'EACCES' ? 'not readable' : e.code;
    return new DataUnavailableError(`${e.path}: ${what}`);
  }
  return err;
}

