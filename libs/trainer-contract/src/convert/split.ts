import { z } from 'zod';
import type { SplitName } from './types.js';

/** `split_config` as the trainer config and `dice2yolo --split-config` take it. */
export const splitConfigSchema = z
  .object({
    splits: z.record(z.string(), z.enum(['train', 'val', 'test'])).optional(),
    val_ratio: z.number().gt(0).lt(1).default(0.2),
    seed: z.number().int().default(0),
  })
  .strict();

export type ParsedSplitConfig = z.output<typeof splitConfigSchema>;

/**
 * A position in [0, 1) that depends only on the seed and the image's file name, so a split is the same on
 * every run and machine (FNV-1a over UTF-16 code units, then murmur3's finaliser to spread close names).
 */
export function splitHash(seed: number, key: string): number {
  let h = 0x811c9dc5 ^ (seed | 0);
  h = Math.imul(h, 0x01000193);
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return (h >>> 0) / 4294967296;
}

export interface SplitCandidate {
  /** Stable key for hashing: the image's normalised file name. */
  key: string;
  /** Lookup keys for `split_config.splits`, in priority order: id, file name, stem. */
  names: readonly string[];
}

export interface SplitAssignment {
  split: SplitName[];
  /** Images moved to keep train and val non-empty, for the report. */
  forcedVal: number[];
  forcedTrain: number[];
  /** True when a single image must serve as both train and val. */
  bothSplits: boolean;
  unmatchedKeys: string[];
}

export function assignSplits(items: readonly SplitCandidate[], config: ParsedSplitConfig): SplitAssignment {
  const explicit = config.splits ?? {};
  const matched = new Set<string>();
  const split: SplitName[] = new Array(items.length);
  const hashes = new Float64Array(items.length);
  const hashed: number[] = [];
  let val = 0;
  let train = 0;
  for (let i = 0; i < items.length; i++) {
    const it = items[i]!;
    let chosen: SplitName | undefined;
    for (const name of it.names) {
      const s = explicit[name];
      if (s !== undefined) {
        chosen = s;
        matched.add(name);
        break;
      }
    }
    if (chosen === undefined) {
      const u = splitHash(config.seed, it.key);
      hashes[i] = u;
      chosen = u < config.val_ratio ? 'val' : 'train';
      hashed.push(i);
    }
    split[i] = chosen;
    if (chosen === 'val') val++;
    else if (chosen === 'train') train++;
  }
  const forcedVal: number[] = [];
  const forcedTrain: number[] = [];
  let bothSplits = false;
  if (items.length === 1 && split[0] !== 'test') {
    bothSplits = true;
  } else {
    if (val === 0) {
      const pick = extreme(hashed, hashes, split, 'train', (a, b) => a < b);
      if (pick !== undefined) {
        split[pick] = 'val';
        forcedVal.push(pick);
        val++;
        train--;
      }
    }
    if (train === 0) {
      const pick = extreme(hashed, hashes, split, 'val', (a, b) => a > b, val > 1);
      if (pick !== undefined) {
        split[pick] = 'train';
        forcedTrain.push(pick);
      }
    }
  }
  const unmatchedKeys = Object.keys(explicit).filter((k) => !matched.has(k));
  return { split, forcedVal, forcedTrain, bothSplits, unmatchedKeys };
}

function extreme(
  candidates: readonly number[],
  hashes: Float64Array,
  split: readonly SplitName[],
  from: SplitName,
  better: (a: number, b: number) => boolean,
  allowed = true,
): number | undefined {
  if (!allowed) return undefined;
  let best: number | undefined;
  for (const i of candidates) {
    if (split[i] !== from) continue;
    if (best === undefined || better(hashes[i]!, hashes[best]!)) best = i;
  }
  return best;
}
