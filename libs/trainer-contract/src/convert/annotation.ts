import { DataError } from '../errors/index.js';
import type { LineArena } from './arena.js';
import { clipBox, clipPolygon, mergeParts, polygonBounds, polygonInside, type ClippedBox } from './geometry.js';
import type { ReportBuilder } from './report.js';
import type { Task } from './types.js';

/**
 * One annotation → the rest of its label line after the class, written into the arena; false when it is
 * dropped (the caller then rolls the line back). Every drop and
 * repair is counted in the report; a wrong type is a DataError naming the annotation.
 */
export interface AnnotationContext {
  task: Task;
  report: ReportBuilder;
  /** Pose: keypoints per instance. */
  kpts: number;
}

type Ann = Record<string, unknown>;

/** Smallest normalised width/height kept: below it the 10-decimal output would read 0. */
export const MIN_SIZE = 1e-9;

export function label(index: number, ann: Ann): string {
  const id = ann.id;
  return id === undefined ? `annotations[${index}]` : `annotations[${index}] (id ${typeof id === 'string' ? JSON.stringify(id) : String(id)})`;
}

function wrongType(index: number, ann: Ann, what: string): never {
  throw new DataError(`${label(index, ann)}: ${what}`);
}

export function readBox(index: number, ann: Ann): [number, number, number, number] | undefined {
  const b = ann.bbox;
  if (b === undefined || b === null) return undefined;
  if (
    !Array.isArray(b) ||
    b.length !== 4 ||
    typeof b[0] !== 'number' ||
    typeof b[1] !== 'number' ||
    typeof b[2] !== 'number' ||
    typeof b[3] !== 'number'
  ) {
    return wrongType(index, ann, `bbox must be 4 numbers [x, y, width, height], got ${JSON.stringify(b).slice(0, 60)}`);
  }
  return b as [number, number, number, number];
}

/** Polygon parts of a `segmentation`, or 'rle' / undefined when it has none. */
export function readPolygons(index: number, ann: Ann, report: ReportBuilder): number[][] | 'rle' | undefined {
  const seg = ann.segmentation;
  if (seg === undefined || seg === null) return undefined;
  if (!Array.isArray(seg)) {
    if (typeof seg === 'object') return 'rle';
    return wrongType(index, ann, `segmentation must be a list of polygons or an RLE object, got ${typeof seg}`);
  }
  if (seg.length === 0) return undefined;
  // A single flat polygon ([x, y, …] instead of [[x, y, …]]) is common in hand-made exports.
  const parts = (typeof seg[0] === 'number' ? [seg] : seg) as unknown[];
  const out: number[][] = [];
  for (const p of parts) {
    if (!Array.isArray(p)) return wrongType(index, ann, 'segmentation polygons must be lists of numbers');
    for (let k = 0; k < p.length; k++) {
      if (typeof p[k] !== 'number') return wrongType(index, ann, `segmentation holds a ${typeof p[k]} where a number belongs`);
    }
    if (p.length >= 6) out.push(p.length % 2 ? (p.slice(0, -1) as number[]) : (p as number[]));
    else report.repair('polygon_part_dropped', () => `${label(index, ann)}: part with ${p.length / 2} points`);
  }
  return out.length ? out : undefined;
}

export function convertAnnotation(ctx: AnnotationContext, index: number, ann: Ann, W: number, H: number, out: LineArena): boolean {
  const { report, task } = ctx;
  if (task === 'segment') return segmentLine(ctx, index, ann, W, H, out);
  let box = readBox(index, ann);
  let fromPolygon = false;
  if (!box) {
    const polys = readPolygons(index, ann, report);
    if (polys && polys !== 'rle') {
      box = polygonBounds(polys.flat());
      fromPolygon = true;
    } else {
      report.drop('missing_bbox', () => label(index, ann));
      return false;
    }
  } else if (ann.segmentation !== undefined && ann.segmentation !== null && !Array.isArray(ann.segmentation)) {
    report.note('rle_box_kept', () => label(index, ann));
  }
  const [x, y, w, h] = box;
  if (!(w > 0 && h > 0)) {
    report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)}`);
    return false;
  }
  const c = clipBox(x, y, w, h, W, H);
  if (c && ((c.x2 - c.x1) / W < MIN_SIZE || (c.y2 - c.y1) / H < MIN_SIZE)) {
    // Would print as a zero width or height with 10 decimals.
    report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
    return false;
  }
  if (!c) {
    report.drop('box_outside_image', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
    return false;
  }
  if (fromPolygon) report.repair('box_from_polygon', () => label(index, ann));
  if (c.clipped) report.repair('clipped_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
  if (task === 'obb') {
    obbText(index, ann, c, W, H, report, out);
    return true;
  }
  // Validate keypoints before writing anything, so a type error leaves no half line.
  const kp = task === 'pose' ? readKeypoints(index, ann) : undefined;
  writeBox(out, c, W, H);
  if (task === 'pose') keypointsText(ctx, index, ann, kp, W, H, out);
  return true;
}

function writeBox(out: LineArena, b: ClippedBox, W: number, H: number): void {
  out.reserve(64);
  out.num((b.x1 + b.x2) / 2 / W);
  out.num((b.y1 + b.y2) / 2 / H);
  out.num((b.x2 - b.x1) / W);
  out.num((b.y2 - b.y1) / H);
}

function writePolygon(out: LineArena, flat: readonly number[], W: number, H: number): void {
  out.reserve(flat.length * 14 + 8);
  out.pairs(flat, W, H);
}

export function readKeypoints(index: number, ann: Ann): number[] | undefined {
  const kp = ann.keypoints;
  if (kp === undefined || kp === null) return undefined;
  if (!Array.isArray(kp) || kp.length % 3 !== 0 || !kp.every((v) => typeof v === 'number')) {
    wrongType(index, ann, 'keypoints must be a list of numbers [x, y, v, …]');
  }
  return kp as number[];
}

function segmentLine(ctx: AnnotationContext, index: number, ann: Ann, W: number, H: number, out: LineArena): boolean {
  const { report } = ctx;
  const polys = readPolygons(index, ann, report);
  if (polys === 'rle') {
    report.drop('rle_segmentation', () => label(index, ann));
    return false;
  }
  let outline: number[];
  if (!polys) {
    const box = readBox(index, ann);
    if (!box) {
      report.drop('missing_bbox', () => label(index, ann));
      return false;
    }
    const [x, y, w, h] = box;
    if (!(w > 0 && h > 0)) {
      report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)}`);
      return false;
    }
    report.repair('polygon_from_box', () => label(index, ann));
    outline = [x, y, x + w, y, x + w, y + h, x, y + h];
  } else {
    readBox(index, ann); // a present bbox must still be well-formed
    if (polys.length > 1) {
      report.repair('merged_multipart_polygon', () => `${label(index, ann)}: ${polys.length} parts`);
      outline = mergeParts(polys);
    } else outline = polys[0]!;
  }
  if (!polygonInside(outline, W, H)) {
    outline = clipPolygon(outline, W, H);
    if (outline.length < 6) {
      report.drop('polygon_outside_image', () => `${label(index, ann)} in ${W}x${H}`);
      return false;
    }
    report.repair('clipped_polygon', () => `${label(index, ann)} in ${W}x${H}`);
  }
  writePolygon(out, outline, W, H);
  return true;
}

function keypointsText(ctx: AnnotationContext, index: number, ann: Ann, kp: number[] | undefined, W: number, H: number, out: LineArena): void {
  const K = ctx.kpts;
  const n = kp ? kp.length / 3 : 0;
  out.reserve(K * 34 + 8);
  let clipped = false;
  for (let k = 0; k < K; k++) {
    if (k < n) {
      const px = kp![k * 3]! / W;
      const py = kp![k * 3 + 1]! / H;
      const v = kp![k * 3 + 2]!;
      if (px < 0 || px > 1 || py < 0 || py > 1) clipped = true;
      out.num(px);
      out.num(py);
      out.space();
      out.int(v > 0 ? (v >= 2 ? 2 : 1) : 0);
    } else {
      out.num(0);
      out.num(0);
      out.num(0);
    }
  }
  if (n < K) report(ctx, 'keypoints_padded', index, ann, `${n} of ${K}`);
  else if (n > K) report(ctx, 'keypoints_truncated', index, ann, `${n} > ${K}`);
  if (clipped) report(ctx, 'keypoints_clipped', index, ann, '');
}

function report(ctx: AnnotationContext, reason: 'keypoints_padded' | 'keypoints_truncated' | 'keypoints_clipped', index: number, ann: Ann, extra: string): void {
  ctx.report.repair(reason, () => `${label(index, ann)}${extra ? ': ' + extra : ''}`);
}

/** OBB: a 4-point segmentation is taken as the rotated box; otherwise the axis-aligned box's corners. */
function obbText(index: number, ann: Ann, c: ClippedBox, W: number, H: number, rep: ReportBuilder, out: LineArena): void {
  const polys = Array.isArray(ann.segmentation) ? readPolygons(index, ann, rep) : undefined;
  const pts =
    polys && polys !== 'rle' && polys.length === 1 && polys[0]!.length === 8
      ? polys[0]!
      : [c.x1, c.y1, c.x2, c.y1, c.x2, c.y2, c.x1, c.y2];
  writePolygon(out, pts, W, H);
}
