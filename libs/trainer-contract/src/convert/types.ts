import type { ClassEntry, DatasetFormat, SourceFormat, SplitName, Task } from '../domain/index.js';
import type { Logger } from '../log/index.js';

export type { ClassEntry, DatasetFormat, SourceFormat, SplitName, Task };

export interface SplitConfig {
  splits?: Record<string, SplitName>;
  val_ratio?: number;
  seed?: number;
}

/** A group of items dropped, repaired or noted for one reason. */
export interface ReportGroup {
  count: number;
  /** A few of the items, each naming where it came from (`annotations[12] (id 98765): …`). */
  examples: string[];
}

export interface SplitCounts {
  images: number;
  /** Label lines (detect/segment/pose/obb) or images (classify). */
  annotations: number;
  /** Images with an empty label file. */
  background: number;
}

export interface ClassCounts extends ClassEntry {
  train: number;
  val: number;
  test: number;
}

export interface ConversionReport {
  /** The layout the dataset arrived in. */
  format: SourceFormat;
  /** The layout written for the framework. */
  target: DatasetFormat;
  task: Task;
  input: string;
  output: string;
  /**
   * Whether annotations.json was read in bounded-memory batches and labels spilled to disk by image range; always
   * true for `coco`, whose annotations go from each batch straight into their split's file.
   */
  streamed: boolean;
  images: {
    /** Image entries in annotations.json (or image files, for YOLO/ImageFolder input). */
    listed: number;
    /** Images that made it into a split. */
    used: number;
  };
  annotations: { listed: number; kept: number };
  splits: Record<SplitName, SplitCounts>;
  classes: ClassCounts[];
  dropped: Record<string, ReportGroup>;
  repaired: Record<string, ReportGroup>;
  notes: Record<string, ReportGroup>;
  /** How images reach the framework: one link to the source folder with split lists, or per-image links. */
  imageLayout: string;
  /** Files this conversion created (labels, links, lists). */
  filesWritten: number;
  /** Of durationMs, the main thread's time on label files (detect/segment/pose/obb). */
  writeMs?: number;
  /** Threads that converted annotations: the main thread plus the workers that did their part. */
  annotationThreads?: number;
  /** Pose only: what flip_idx is and where it came from. */
  flipIdx?: { value: number[] | null; source: string };
  durationMs: number;
}

/** The `coco` layout: one COCO JSON file per split, every `file_name` an absolute path to an existing image. */
export interface CocoSplitFiles {
  train: string;
  val: string;
  test?: string;
}

/** The `imagefolder` layout: `<split>/<class name>/<image>` trees. */
export interface ImageFolderSplits {
  train: string;
  val: string;
  test?: string;
}

export interface PreparedDataset {
  /** Directory the framework is pointed at: data.yaml's folder, the classify root, or the COCO files' folder. */
  root: string;
  task: Task;
  /** The layout written for the framework (what the driver asked for). */
  format: DatasetFormat;
  /** The layout the dataset arrived in. */
  source: SourceFormat;
  /** `yolo` detect/segment/pose/obb only. */
  dataYaml?: string;
  /** `coco` only. */
  coco?: CocoSplitFiles;
  /** `imagefolder`, and `yolo` classify (the same tree). */
  imageFolder?: ImageFolderSplits;
  classes: ClassEntry[];
  report: ConversionReport;
  kptShape?: [number, number];
}

export interface PrepareOptions {
  inputDir: string;
  outputDir: string;
  task: Task;
  /** The layout the framework reads (default `yolo`). */
  format?: DatasetFormat;
  splitConfig?: SplitConfig;
  /** Dangling references (unknown image or category ids, missing image files) become data errors. */
  strict?: boolean;
  logger: Logger;
  /** Internal knobs, exposed for tests and the benchmark. */
  tuning?: ConvertTuning;
}

export interface ConvertTuning {
  /** Target size of one JSON.parse batch, in bytes (default 1 MiB: its objects then die young). */
  batchBytes?: number;
  /** Above this many bytes of annotations, label lines are spilled to disk by image range (default 64 MiB). */
  spillThresholdBytes?: number;
  /** Target size of one spill bucket (default 24 MiB). */
  spillBucketBytes?: number;
  /** From this many label files on, a helper thread creates them empty while annotations are parsed (default 2000). */
  helperThreshold?: number;
  /** Shared memory for label bytes waiting to be written by the helper (default 16 MiB at most). */
  pendingBytes?: number;
  /** From this many bytes of annotations on (default 32 MiB), a worker converts a share of them in parallel. */
  workerThresholdBytes?: number;
  /** How many workers convert annotations beside the main thread (default: one per spare core, at most 4). */
  workers?: number;
  /** The worker's script; false keeps conversion on one thread (default: convert-worker.js beside the code). */
  workerScript?: string | URL | false;
  /** Images per shard folder of a split (default 1000): each shard has its own link and labels folder. */
  shardSize?: number;
  /** Link the source images folder once per shard (default true); false forces per-image links. */
  linkImageFolder?: boolean;
}
