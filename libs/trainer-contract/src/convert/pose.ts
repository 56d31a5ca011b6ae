import type { LoadedDataset } from './dice-load.js';
import type { ArraySection } from './json-scan.js';

export interface PoseShape {
  /** Keypoints per instance; each is written as an `x y v` triplet, so kpt_shape is [kpts, 3]. */
  kpts: number;
  /** Horizontal-flip permutation, or null when none can be derived (Ultralytics then turns fliplr off). */
  flipIdx: number[] | null;
  flipSource: string;
}

/**
 * K is the longest `keypoints` name list among the categories, or the length of the first annotation's
 * keypoints when no category names them. flip_idx comes from the category's own `flip_idx` when it declares a
 * valid one, otherwise from pairing names that differ only by left/right (COCO's `left_eye`/`right_eye`).
 * A skeleton lists limbs, not mirror pairs, so it is not used for flipping.
 */
export async function poseShape(ds: LoadedDataset, annotations: ArraySection | undefined): Promise<PoseShape> {
  let best = ds.categories[0];
  for (const c of ds.categories) if ((c.keypoints?.length ?? 0) > (best?.keypoints?.length ?? 0)) best = c;
  let kpts = best?.keypoints?.length ?? 0;
  if (kpts === 0 && annotations && annotations.batches.length) {
    for (const b of annotations.batches) {
      const next = annotations.batches[annotations.batches.indexOf(b) + 1]?.firstIndex ?? annotations.count;
      const items = await ds.file.parseBatch(annotations, b, next);
      const found = items.find(
        (a) => a !== null && typeof a === 'object' && Array.isArray((a as { keypoints?: unknown }).keypoints) &&
          ((a as { keypoints: unknown[] }).keypoints.length > 0),
      ) as { keypoints: unknown[] } | undefined;
      if (found) {
        kpts = Math.floor(found.keypoints.length / 3);
        break;
      }
    }
    return { kpts, flipIdx: null, flipSource: 'no keypoint names in categories: flip_idx omitted (fliplr off)' };
  }
  const declared = best?.flipIdx;
  if (declared && isPermutation(declared, kpts)) {
    return { kpts, flipIdx: declared, flipSource: `categories (id ${best!.id}) flip_idx` };
  }
  const names = best?.keypoints ?? [];
  const flip = flipFromNames(names);
  if (flip) return { kpts, flipIdx: flip, flipSource: `left/right keypoint names of category id ${best!.id}` };
  return { kpts, flipIdx: null, flipSource: 'no left/right keypoint pairs: flip_idx omitted (fliplr off)' };
}

function isPermutation(p: number[], n: number): boolean {
  if (p.length !== n) return false;
  const seen = new Set(p);
  return seen.size === n && p.every((v) => v >= 0 && v < n);
}

const SWAPS: Array<[RegExp, (m: string) => string]> = [
  [/left/i, (m) => swapCase(m, 'right')],
  [/right/i, (m) => swapCase(m, 'left')],
];

function swapCase(found: string, to: string): string {
  if (found === found.toUpperCase()) return to.toUpperCase();
  if (found[0] === found[0]!.toUpperCase()) return to[0]!.toUpperCase() + to.slice(1);
  return to;
}

function mirrorName(name: string): string | undefined {
  for (const [re, fn] of SWAPS) {
    const m = re.exec(name);
    if (m) return name.slice(0, m.index) + fn(m[0]) + name.slice(m.index + m[0].length);
  }
  const short = /^([lr])([_\-\s.])/i.exec(name) ?? /([_\-\s.])([lr])$/i.exec(name);
  if (short) {
    const letter = short[0].replace(/[_\-\s.]/g, '');
    const other = letter === 'l' ? 'r' : letter === 'r' ? 'l' : letter === 'L' ? 'R' : 'L';
    return name.slice(0, short.index) + short[0].replace(letter, other) + name.slice(short.index + short[0].length);
  }
  return undefined;
}

function flipFromNames(names: readonly string[]): number[] | null {
  const at = new Map(names.map((n, i) => [n, i]));
  let pairs = 0;
  const flip = names.map((n, i) => {
    const m = mirrorName(n);
    const j = m === undefined ? undefined : at.get(m);
    if (j !== undefined && j !== i) {
      pairs++;
      return j;
    }
    return i;
  });
  return pairs > 0 ? flip : null;
}
