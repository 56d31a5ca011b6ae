/** Pixel geometry: clipping boxes and polygons to the image, joining multi-part polygons. */

export interface ClippedBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  clipped: boolean;
}

/** COCO [x, y, w, h] clipped to the image; undefined when nothing of it is left. */
export function clipBox(x: number, y: number, w: number, h: number, W: number, H: number): ClippedBox | undefined {
  const x1 = x < 0 ? 0 : x > W ? W : x;
  const y1 = y < 0 ? 0 : y > H ? H : y;
  const xe = x + w;
  const ye = y + h;
  const x2 = xe > W ? W : xe < 0 ? 0 : xe;
  const y2 = ye > H ? H : ye < 0 ? 0 : ye;
  if (!(x2 > x1 && y2 > y1)) return undefined;
  return { x1, y1, x2, y2, clipped: x1 !== x || y1 !== y || x2 !== xe || y2 !== ye };
}

export function polygonBounds(flat: readonly number[]): [number, number, number, number] {
  let x1 = Infinity;
  let y1 = Infinity;
  let x2 = -Infinity;
  let y2 = -Infinity;
  for (let i = 0; i < flat.length; i += 2) {
    const x = flat[i]!;
    const y = flat[i + 1]!;
    if (x < x1) x1 = x;
    if (x > x2) x2 = x;
    if (y < y1) y1 = y;
    if (y > y2) y2 = y;
  }
  return [x1, y1, x2 - x1, y2 - y1];
}

export function polygonInside(flat: readonly number[], W: number, H: number): boolean {
  for (let i = 0; i < flat.length; i += 2) {
    const x = flat[i]!;
    const y = flat[i + 1]!;
    if (x < 0 || x > W || y < 0 || y > H) return false;
  }
  return true;
}

/**
 * Sutherland–Hodgman against the image rectangle. Works for concave outlines too (the clip window is
 * convex); the merged multi-part outlines' zero-width bridges survive as degenerate edges, which is harmless
 * for rasterising a mask.
 */
export function clipPolygon(flat: readonly number[], W: number, H: number): number[] {
  let pts = flat as number[];
  pts = clipEdge(pts, (x) => x >= 0, (ax, ay, bx, by) => [0, ay + ((by - ay) * (0 - ax)) / (bx - ax)], 0);
  pts = clipEdge(pts, (x) => x <= W, (ax, ay, bx, by) => [W, ay + ((by - ay) * (W - ax)) / (bx - ax)], 0);
  pts = clipEdge(pts, (y) => y >= 0, (ax, ay, bx, by) => [ax + ((bx - ax) * (0 - ay)) / (by - ay), 0], 1);
  pts = clipEdge(pts, (y) => y <= H, (ax, ay, bx, by) => [ax + ((bx - ax) * (H - ay)) / (by - ay), H], 1);
  return pts;
}

function clipEdge(
  pts: number[],
  inside: (v: number) => boolean,
  cross: (ax: number, ay: number, bx: number, by: number) => [number, number],
  axis: 0 | 1,
): number[] {
  const n = pts.length / 2;
  if (n === 0) return pts;
  const out: number[] = [];
  let px = pts[(n - 1) * 2]!;
  let py = pts[(n - 1) * 2 + 1]!;
  let pIn = inside(axis === 0 ? px : py);
  for (let i = 0; i < n; i++) {
    const cx = pts[i * 2]!;
    const cy = pts[i * 2 + 1]!;
    const cIn = inside(axis === 0 ? cx : cy);
    if (cIn) {
      if (!pIn) out.push(...cross(px, py, cx, cy));
      out.push(cx, cy);
    } else if (pIn) {
      out.push(...cross(px, py, cx, cy));
    }
    px = cx;
    py = cy;
    pIn = cIn;
  }
  return out;
}

/**
 * Several polygons of one object joined into one outline, the way Ultralytics' merge_multi_segment does it:
 * consecutive parts are bridged at their closest pair of points, the outline walks forward through every part
 * and back through the middle ones, so each bridge is a zero-width slit.
 */
export function mergeParts(parts: readonly (readonly number[])[]): number[] {
  if (parts.length === 1) return parts[0]! as number[];
  const segs = parts.map((p) => p as readonly number[]);
  const m = segs.length;
  // entry[i]: where part i is reached from part i-1; exit[i]: where it leaves for part i+1.
  const entry = new Array<number>(m).fill(-1);
  const exit = new Array<number>(m).fill(-1);
  for (let i = 1; i < m; i++) {
    const [a, b] = closestPair(segs[i - 1]!, segs[i]!);
    exit[i - 1] = a;
    entry[i] = b;
  }
  const out: number[] = [];
  const push = (seg: readonly number[], k: number) => out.push(seg[k * 2]!, seg[k * 2 + 1]!);
  // First part: a full loop starting and ending at its exit point.
  const first = segs[0]!;
  const n0 = first.length / 2;
  for (let k = 0; k <= n0; k++) push(first, (exit[0]! + k) % n0);
  // Middle parts forward: from entry to exit the short way round in index order; the rest comes back later.
  for (let i = 1; i < m - 1; i++) {
    const seg = segs[i]!;
    const step = entry[i]! <= exit[i]! ? 1 : -1;
    for (let k = entry[i]!; ; k += step) {
      push(seg, k);
      if (k === exit[i]) break;
    }
  }
  // Last part: a full loop from its entry point.
  const last = segs[m - 1]!;
  const nl = last.length / 2;
  for (let k = 0; k <= nl; k++) push(last, (entry[m - 1]! + k) % nl);
  // Middle parts backward: from exit round the other side back to entry.
  for (let i = m - 2; i >= 1; i--) {
    const seg = segs[i]!;
    const n = seg.length / 2;
    const step = entry[i]! <= exit[i]! ? 1 : -1;
    for (let k = exit[i]!; ; k = (k + step + n) % n) {
      push(seg, k);
      if (k === entry[i] && out.length > 0 && k !== exit[i]) break;
      if (k === entry[i] && entry[i] === exit[i]) {
        // A part touched at one point: walk its whole loop once.
        for (let j = 1; j <= n; j++) push(seg, (k + step * j + n * 2) % n);
        break;
      }
    }
  }
  return out;
}

function closestPair(a: readonly number[], b: readonly number[]): [number, number] {
  let best = Infinity;
  let bi = 0;
  let bj = 0;
  for (let i = 0; i < a.length; i += 2) {
    const ax = a[i]!;
    const ay = a[i + 1]!;
    for (let j = 0; j < b.length; j += 2) {
      const dx = ax - b[j]!;
      const dy = ay - b[j + 1]!;
      const d = dx * dx + dy * dy;
      if (d < best) {
        best = d;
        bi = i / 2;
        bj = j / 2;
      }
    }
  }
  return [bi, bj];
}
