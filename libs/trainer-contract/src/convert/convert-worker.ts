import { parentPort, workerData } from 'node:worker_threads';
import { TrainerError } from '../errors/index.js';
import { LineArena } from './arena.js';
import { SpillSink } from './line-sink.js';
import { convertBatches, type LookupTables } from './annotation-pass.js';
import { JsonFile, type ArraySection } from './json-scan.js';
import { ReportBuilder } from './report.js';
import type { Task } from './types.js';

/**
 * Worker entry: converts a share of the annotation batches and hands back its label lines and report.
 * Loaded by annotation-share.ts from beside it (or from beside an app's bundle, as its own entry point).
 */
export interface ShareRequest {
  path: string;
  label: string;
  section: ArraySection;
  fromBatch: number;
  toBatch: number;
  tables: LookupTables;
  task: Task;
  kpts: number;
  strict: boolean;
  bytesHint: number;
  recordsHint: number;
  /** Streamed datasets: spill into bucket files of this layout instead of returning the lines. */
  spill?: { count: number; buckets: number; dir: string };
}

export interface ArenaLines {
  bytes: Uint8Array;
  pos: number;
  n: number;
  img: Int32Array;
  cls: Int32Array;
  start: Float64Array;
  len: Int32Array;
}

export type ShareResult =
  | {
      ok: true;
      listed: number;
      /** The label lines, unless they were spilled into `spillDir`. */
      lines?: ArenaLines;
      spillDir?: string;
      report: Pick<ReportBuilder, 'dropped' | 'repaired' | 'notes'>;
      problems: string[];
    }
  | { ok: false; dataError: boolean; problems: string[]; message: string };

async function run(req: ShareRequest): Promise<ShareResult> {
  const report = new ReportBuilder();
  const spill = req.spill ? new SpillSink(req.spill.count, req.spill.buckets, req.spill.dir) : undefined;
  const arena = spill ? spill.arena : new LineArena(req.bytesHint, req.recordsHint);
  const afterLine = spill ? () => spill.maybeFlush() : () => undefined;
  const problems: string[] = [];
  const file = await JsonFile.open(req.path, req.label);
  try {
    const ctx = { task: req.task, kpts: req.kpts, strict: req.strict, report };
    const listed = await convertBatches(file, req.section, req.fromBatch, req.toBatch, req.tables, ctx, arena, afterLine, problems);
    const groups = { dropped: report.dropped, repaired: report.repaired, notes: report.notes };
    if (spill) {
      spill.closeFiles();
      return { ok: true, listed, spillDir: spill.dir, report: groups, problems };
    }
    const a = arena;
    const lines = { bytes: a.bytes, pos: a.pos, n: a.n, img: a.img, cls: a.cls, start: a.start, len: a.len };
    return { ok: true, listed, lines, report: groups, problems };
  } finally {
    await file.close();
  }
}

if (parentPort && workerData?.kind === 'dice2yolo-annotation-share') {
  const port = parentPort;
  run(workerData.request as ShareRequest).then(
    (r) => {
      const transfer: ArrayBuffer[] = [];
      const l = r.ok ? r.lines : undefined;
      if (l) {
        transfer.push(l.img.buffer as ArrayBuffer, l.cls.buffer as ArrayBuffer, l.start.buffer as ArrayBuffer, l.len.buffer as ArrayBuffer);
        // A small Buffer may be a slice of Node's shared pool, which must not be detached: that one is copied.
        if (l.bytes.byteOffset === 0 && l.bytes.buffer.byteLength === l.bytes.length) transfer.push(l.bytes.buffer as ArrayBuffer);
      }
      port.postMessage(r, transfer);
    },
    (err: unknown) => {
      const dataError = err instanceof TrainerError;
      port.postMessage({
        ok: false,
        dataError,
        problems: dataError ? [...err.problems] : [],
        message: err instanceof Error ? err.message : String(err),
      } satisfies ShareResult);
    },
  );
}
