import { DataError } from '../errors/index.js';
import { convertAnnotation, type AnnotationContext } from './annotation.js';
import type { LineArena } from './arena.js';
import { MAX_PROBLEMS, where } from './dice-load.js';
import type { ArraySection, JsonFile } from './json-scan.js';
import type { ReportBuilder } from './report.js';

/** What an annotation needs to know about images and categories; plain data, so a worker can get a copy. */
export interface LookupTables {
  idToIdx: Map<number | string, number>;
  target: Int32Array;
  ok: Uint8Array;
  width: Float64Array;
  height: Float64Array;
  rel: string[];
  catIndex: Map<number, number>;
}

/**
 * Calls `visit` for each annotation of batches [fromBatch, toBatch) whose image and category exist, with the
 * image index (duplicates resolved to the entry that owns the file) and the class index. Dangling references
 * are dropped into the report (and collected in `problems` when strict); a wrong type throws a DataError naming
 * the annotation. Returns how many annotations the batches held.
 */
export async function forEachAnnotation(
  file: JsonFile,
  section: ArraySection,
  fromBatch: number,
  toBatch: number,
  t: Pick<LookupTables, 'idToIdx' | 'target' | 'catIndex'>,
  report: ReportBuilder,
  strict: boolean,
  problems: string[],
  visit: (index: number, ann: Record<string, unknown>, img: number, cls: number) => void,
): Promise<number> {
  let listed = 0;
  for (let b = fromBatch; b < toBatch; b++) {
    const batch = section.batches[b]!;
    const next = b + 1 < section.batches.length ? section.batches[b + 1]!.firstIndex : section.count;
    const items = await file.parseBatch(section, batch, next);
    listed += items.length;
    for (let k = 0; k < items.length; k++) {
      const index = batch.firstIndex + k;
      const raw = items[k];
      if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
        throw new DataError(`${where('annotations', index)}: expected an object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'array' : typeof raw}`);
      }
      const ann = raw as Record<string, unknown>;
      const imageId = ann.image_id;
      const catId = ann.category_id;
      if (typeof imageId !== 'number' && typeof imageId !== 'string') {
        throw new DataError(`${where('annotations', index, ann.id)}: image_id must be a number or a string, got ${JSON.stringify(imageId) ?? 'nothing'}`);
      }
      if (typeof catId !== 'number') {
        throw new DataError(`${where('annotations', index, ann.id)}: category_id must be a number, got ${JSON.stringify(catId) ?? 'nothing'}`);
      }
      const img = t.idToIdx.get(imageId);
      if (img === undefined) {
        const msg = `${where('annotations', index, ann.id)}: image_id ${JSON.stringify(imageId)} not in images`;
        if (strict && problems.length <= MAX_PROBLEMS) problems.push(msg);
        report.drop('unknown_image', () => msg);
        continue;
      }
      const cls = t.catIndex.get(catId);
      if (cls === undefined) {
        const msg = `${where('annotations', index, ann.id)}: category_id ${catId} not in categories`;
        if (strict && problems.length <= MAX_PROBLEMS) problems.push(msg);
        report.drop('unknown_category', () => msg);
        continue;
      }
      visit(index, ann, t.target[img]!, cls);
    }
  }
  return listed;
}

/** Label lines of batches [fromBatch, toBatch) into `arena`, in annotation order (see forEachAnnotation). */
export function convertBatches(
  file: JsonFile,
  section: ArraySection,
  fromBatch: number,
  toBatch: number,
  t: LookupTables,
  ctx: AnnotationContext & { strict: boolean },
  arena: LineArena,
  afterLine: () => void,
  problems: string[],
): Promise<number> {
  const { report } = ctx;
  return forEachAnnotation(file, section, fromBatch, toBatch, t, report, ctx.strict, problems, (index, ann, img, cls) => {
    if (!t.ok[img]) {
      report.drop('image_dropped', () => `${where('annotations', index, ann.id)}: images/${t.rel[img]}`);
      return;
    }
    if (ann.iscrowd === 1 || ann.iscrowd === true) {
      report.drop('crowd', () => where('annotations', index, ann.id));
      return;
    }
    arena.begin(cls);
    if (convertAnnotation(ctx, index, ann, t.width[img]!, t.height[img]!, arena)) {
      arena.commit(img, cls);
      afterLine();
    } else arena.rollback();
  });
}
