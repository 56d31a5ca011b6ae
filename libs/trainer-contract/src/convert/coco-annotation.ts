import { label, MIN_SIZE, readBox, readKeypoints, readPolygons } from './annotation.js';
import { clipBox, clipPolygon, polygonBounds, polygonInside } from './geometry.js';
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

export interface CocoAnnotation {
  /** `"category_id":…,"bbox":[…],"area":…,"iscrowd":0…`: the JSON members after id and image_id. */
  body: string;
  /** The numbers that make it what it is (class, box, polygon points, keypoints), for spotting exact duplicates. */
  values: number[];
}

type Ann = Record<string, unknown>;

/** JSON for a number: finite in every case but an overflowing area (an image side near 1e308). */
function n(v: number): string {
  return Number.isFinite(v) ? String(v) : 'null';
}

function list(vals: readonly number[]): string {
  let s = '[';
  for (let i = 0; i < vals.length; i++) s += (i ? ',' : '') + n(vals[i]!);
  return s + ']';
}

/** Undefined when the annotation is dropped; the reason is in the report. Wrong types throw a DataError. */
export function cocoAnnotation(ctx: CocoContext, index: number, ann: Ann, cls: number, W: number, H: number): CocoAnnotation | undefined {
  return ctx.task === 'segment' ? segmentAnnotation(ctx, index, ann, cls, W, H) : boxAnnotation(ctx, index, ann, cls, W, H);
}

function boxAnnotation(ctx: CocoContext, index: number, ann: Ann, cls: number, W: number, H: number): CocoAnnotation | undefined {
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
      return undefined;
    }
  } else if (ann.segmentation !== undefined && ann.segmentation !== null && !Array.isArray(ann.segmentation)) {
    report.note('rle_box_kept', () => label(index, ann));
  }
  const [x, y, w, h] = box;
  if (!(w > 0 && h > 0)) {
    report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)}`);
    return undefined;
  }
  const c = clipBox(x, y, w, h, W, H);
  // The same threshold as the YOLO labels, whose 10 decimals would print such a box as zero-sized.
  if (c && ((c.x2 - c.x1) / W < MIN_SIZE || (c.y2 - c.y1) / H < MIN_SIZE)) {
    report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
    return undefined;
  }
  if (!c) {
    report.drop('box_outside_image', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
    return undefined;
  }
  if (fromPolygon) report.repair('box_from_polygon', () => label(index, ann));
  if (c.clipped) report.repair('clipped_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)} in ${W}x${H}`);
  const kp = ctx.task === 'pose' ? readKeypoints(index, ann) : undefined;
  const bw = c.x2 - c.x1;
  const bh = c.y2 - c.y1;
  const values = [cls, c.x1, c.y1, bw, bh];
  let body = `"category_id":${cls},"bbox":[${c.x1},${c.y1},${bw},${bh}],"area":${n(bw * bh)},"iscrowd":0`;
  if (ctx.task === 'pose') {
    const { points, visible } = keypoints(ctx, index, ann, kp, W, H);
    for (const v of points) values.push(v);
    body += `,"keypoints":${list(points)},"num_keypoints":${visible}`;
  }
  return { body, values };
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

function segmentAnnotation(ctx: CocoContext, index: number, ann: Ann, cls: number, W: number, H: number): CocoAnnotation | undefined {
  const { report } = ctx;
  const polys = readPolygons(index, ann, report);
  if (polys === 'rle') {
    report.drop('rle_segmentation', () => label(index, ann));
    return undefined;
  }
  let parts: number[][];
  if (!polys) {
    const box = readBox(index, ann);
    if (!box) {
      report.drop('missing_bbox', () => label(index, ann));
      return undefined;
    }
    const [x, y, w, h] = box;
    if (!(w > 0 && h > 0)) {
      report.drop('zero_area_box', () => `${label(index, ann)}: bbox ${JSON.stringify(box)}`);
      return undefined;
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
    return undefined;
  }
  if (clipped) report.repair('clipped_polygon', () => `${label(index, ann)} in ${W}x${H}`);
  const [bx, by, bw, bh] = polygonBounds(kept.flat());
  const values = [cls, bx, by, bw, bh];
  let area = 0;
  let seg = '[';
  kept.forEach((p, i) => {
    area += Math.abs(shoelace(p));
    values.push(p.length);
    for (const v of p) values.push(v);
    seg += (i ? ',' : '') + list(p);
  });
  seg += ']';
  return { body: `"category_id":${cls},"bbox":[${bx},${by},${bw},${bh}],"area":${n(area)},"iscrowd":0,"segmentation":${seg}`, values };
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
