import { readFileSync } from 'node:fs';

/**
 * Oracles for the callback bodies, written from the contract (CONTRACT §4, issue 6 "Results") rather than from the
 * app's code: what the framework itself recorded (results.csv, written by the double) mapped by the documented rule.
 */

/** results.csv rows as numbers, keyed by the header's (stripped) column names. */
export function readResultsCsv(path: string): Array<Record<string, number>> {
  const [header, ...rows] = readFileSync(path, 'utf8').trim().split('\n');
  const keys = header!.split(',').map((k) => k.trim());
  return rows.map((row) => Object.fromEntries(row.split(',').map((v, i) => [keys[i]!, Number(v)])));
}

/** The framework's raw metrics of one epoch: every column except the bookkeeping ones and the learning rates. */
export function rawMetricsOf(row: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(row).filter(([k]) => k !== 'epoch' && k !== 'time' && !k.startsWith('lr/')));
}

const round6 = (x: number) => Math.round(x * 1e6) / 1e6;

/**
 * The documented mapping: `(B)` keys lose their suffix, `(M)`/`(P)` keep it, `metrics/accuracy_top*` drop the
 * prefix, `train/x` → `x` and `val/x` → `val_x`, `loss`/`val_loss` are the sums of the parts.
 */
export function canonicalOf(raw: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  let train: number | undefined;
  let val: number | undefined;
  for (const [key, value] of Object.entries(raw)) {
    let m: RegExpExecArray | null;
    if ((m = /^metrics\/(.+)\(B\)$/.exec(key))) out[m[1]!] = value;
    else if ((m = /^metrics\/(.+\([MP]\))$/.exec(key))) out[m[1]!] = value;
    else if ((m = /^metrics\/(accuracy_top\d)$/.exec(key))) out[m[1]!] = value;
    else if ((m = /^train\/(.+)$/.exec(key))) {
      train = (train ?? 0) + value;
      if (m[1] !== 'loss') out[m[1]!] = value;
    } else if ((m = /^val\/(.+)$/.exec(key))) {
      val = (val ?? 0) + value;
      if (m[1] !== 'loss') out[`val_${m[1]}`] = value;
    }
  }
  if (train !== undefined) out['loss'] = round6(train);
  if (val !== undefined) out['val_loss'] = round6(val);
  return out;
}
