import { label, MIN_SIZE, readBox, readKeypoints, readPolygons } from './annotation.js';
import { clipBox, clipPolygon, polygonBounds, polygonInside } from './geometry.js';
import type { JsonBytes } from './json-bytes.js';
import type { ReportBuilder } from './report.js';

/**
 * One DICEFormat annotation → the body of its COCO annotation, with the same decisions as the YOLO labels
 * (annotation.ts): the same boxes are clipped, dropped or repaired for the same reasons, so the report and the
 * kept counts agree between formats. What differs is only what COCO can say and YOLO cannot: pixels instead of
 * fractions, several polygons per object instead of one merged outline, and an `area`.
 */
export interface CocoContext {
  task: 'detect' | 'segment' | 'pose';
  report: ReportBuilder;
  /** Pose: keypoints per instance (padded or cut to this, as in the YOLO labels). */
  kpts: number;
}

type Ann = Record<string, unknown>;

function list(out: JsonBytes, vals: readonly number[]): void {
  out.raw('[');
  for (let i = 0; i < vals.length; i++) {
    if (i) out.raw(',');
    out.num(vals[i]!);
  }
  out.raw(']');
}

/**
 * Writes `"category_id":…,"bbox":[…],"area":…,"iscrowd":0…` (the members after id and image_id) into `out`, every
 * number that makes the annotation what it is (class, box, polygons, keypoints) passing through out.num() and so
 * into its hashes. False when the annotation is dropped, before anything is written; the reason is in the report.
 * Wrong types throw a DataError.
 */
export function cocoAnnotation(ctx: CocoContext, index: number, ann: Ann, cls: number, W: number, H: number, out: JsonBytes): boolean {
  return ctx.task === 'segment' ? segmentAnnotation(ctx, index, ann, cls, W, H, out) : boxAnnotation(ctx, index, ann, cls, W, H, out);
}

function boxAnnotation(ctx: CocoContext, index: number, ann: Ann, cls: number, W: number, H: number, out: JsonBytes): boolean {
  const { report } = ctx;
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
  // The same threshold as the YOLO labels, whose 10 decimals would print such a box as zero-sized.
  if (c && ((c.x2 - c.x1) / W < MIN_SIZE || (c.y2 - c.y1) / H < MIN_SIZE)) {
    report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
    return false;
  }
  if (!c) {
    report.drop('box_outside_image', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
    return false;
  }
  if (fromPolygon) report.repair('box_from_polygon', () => label(index, ann));
  if (c.clipped) report.repair('clipped_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
  const kp = ctx.task === 'pose' ? readKeypoints(index, ann) : undefined;
  const bw = c.x2 - c.x1;
  const bh = c.y2 - c.y1;
  box4(out, cls, c.x1, c.y1, bw, bh);
  out.raw(',"area":');
  out.num(bw * bh);
  out.raw(',"iscrowd":0');
  if (ctx.task === 'pose') {
    const { points, visible } = keypoints(ctx, index, ann, kp, W, H);
    out.raw(',"keypoints":');
    list(out, points);
    out.raw(',"num_keypoints":');
    out.int(visible);
  }
  return true;
}

function box4(out: JsonBytes, cls: number, x: number, y: number, w: number, h: number): void {
  out.raw('"category_id":');
  out.num(cls);
  out.raw(',"bbox":[');
  out.num(x);
  out.raw(',');
  out.num(y);
  out.raw(',');
  out.num(w);
  out.raw(',');
  out.num(h);
  out.raw(']');
}

/** Pixel triplets, clipped to the image, visibility 0/1/2, padded with `0,0,0` or cut to K: as the YOLO labels. */
function keypoints(ctx: CocoContext, index: number, ann: Ann, kp: number[] | undefined, W: number, H: number): { points: number[]; visible: number } {
  const K = ctx.kpts;
  const have = kp ? kp.length / 3 : 0;
  const points: number[] = [];
  let visible = 0;
  let clipped = false;
  for (let k = 0; k < K; k++) {
    if (k >= have) {
      points.push(0, 0, 0);
      continue;
    }
    const x = kp![k * 3]!;
    const y = kp![k * 3 + 1]!;
    const v = kp![k * 3 + 2]!;
    const cx = x < 0 ? 0 : x > W ? W : x;
    const cy = y < 0 ? 0 : y > H ? H : y;
    if (cx !== x || cy !== y) clipped = true;
    const vis = v > 0 ? (v >= 2 ? 2 : 1) : 0;
    if (vis) visible++;
    points.push(cx, cy, vis);
  }
  const where = () => label(index, ann);
  if (have < K) ctx.report.repair('keypoints_padded', () => `${where()}: ${have} of ${K}`);
  else if (have > K) ctx.report.repair('keypoints_truncated', () => `${where()}: ${have} > ${K}`);
  if (clipped) ctx.report.repair('keypoints_clipped', where);
  return { points, visible };
}

function segmentAnnotation(ctx: CocoContext, index: number, ann: Ann, cls: number, W: number, H: number, out: JsonBytes): boolean {
  const { report } = ctx;
  const polys = readPolygons(index, ann, report);
  if (polys === 'rle') {
    report.drop('rle_segmentation', () => label(index, ann));
    return false;
  }
  let parts: number[][];
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
    parts = [[x, y, x + w, y, x + w, y + h, x, y + h]];
  } else {
    readBox(index, ann); // a present bbox must still be well-formed
    parts = polys;
  }
  // Each part clipped on its own (COCO keeps the parts of an object apart); a part clipped away is left out.
  let clipped = false;
  const kept: number[][] = [];
  for (const p of parts) {
    if (polygonInside(p, W, H)) {
      kept.push(p);
      continue;
    }
    clipped = true;
    const q = clipPolygon(p, W, H);
    if (q.length >= 6) kept.push(q);
  }
  if (kept.length === 0) {
    report.drop('polygon_outside_image', () => `${label(index, ann)} in ${W}x${H}`);
    return false;
  }
  if (clipped) report.repair('clipped_polygon', () => `${label(index, ann)} in ${W}x${H}`);
  const [bx, by, bw, bh] = polygonBounds(kept.length === 1 ? kept[0]! : kept.flat());
  let area = 0;
  for (const p of kept) area += Math.abs(shoelace(p));
  box4(out, cls, bx, by, bw, bh);
  out.raw(',"area":');
  out.num(area);
  out.raw(',"iscrowd":0,"segmentation":[');
  kept.forEach((p, i) => {
    if (i) out.raw(',');
    // [[a…f], [g…n]] and [[a…n]] are different objects with the same numbers.
    out.mark(p.length);
    list(out, p);
  });
  out.raw(']');
  return true;
}

/** Signed area of a flat [x, y, …] ring. */
function shoelace(p: readonly number[]): number {
  let s = 0;
  const m = p.length;
  for (let i = 0; i < m; i += 2) {
    const j = (i + 2) % m;
    s += p[i]! * p[j + 1]! - p[j]! * p[i + 1]!;
  }
  return s / 2;
}
