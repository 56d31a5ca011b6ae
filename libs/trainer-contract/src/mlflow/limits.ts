import type { KeyValue, Metric, WireNumber } from './types.js';

/**
 * The server's limits (mlflow/utils/validation.py, confirmed against 2.12 and 2.17). Value lengths use the
 * smaller of the two versions, so what we send is stored unchanged by both.
 */
export const LIMITS = {
  metricsPerBatch: 1000,
  paramsPerBatch: 100,
  tagsPerBatch: 100,
  entitiesPerBatch: 1000,
  /** MAX_BATCH_LOG_REQUEST_SIZE is int(1e6); 2.x does not enforce it but other deployments may. */
  batchBytes: 1_000_000,
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 5000,
} as const;

export type BatchLimits = { [K in keyof typeof LIMITS]: number };

// 2.12's rule (2.17 also accepts ':' on Linux); keys must also be normalised relative paths.
const KEY_CHARS = /^[A-Za-z0-9_\-. /]*$/;

/** Why MLflow would reject `key`, or null when it is acceptable. */
export function keyProblem(key: string): string | null {
  if (key.length === 0) return 'is empty';
  if (key.length > LIMITS.keyLength) return `is ${key.length} characters long (the limit is ${LIMITS.keyLength})`;
  if (!KEY_CHARS.test(key)) return 'may only contain letters, digits, _ - . space and /';
  if (normalisePath(key) !== key) return 'must be a normalised relative path (no leading /, no //, . or .. segments)';
  return null;
}

/** A key MLflow accepts, as close to `key` as possible: other characters become `_`, path noise is dropped. */
export function sanitizeKey(key: string): string {
  let out = normalisePath(key.replace(/[^A-Za-z0-9_\-. /]/g, '_'));
  if (out.length > LIMITS.keyLength) out = out.slice(0, LIMITS.keyLength).replace(/\/+$/, '');
  return out || '_';
}

function normalisePath(key: string): string {
  return key
    .split('/')
    .filter((seg) => seg !== '' && seg !== '.')
    .map((seg) => (seg === '..' ? '__' : seg))
    .join('/');
}

/**
 * Cuts `value` to `limit` characters, ending with a marker that says so and gives the original length, so a
 * reader of the run sees the value was shortened (the server would cut it silently).
 */
export function truncateValue(value: string, limit: number): string {
  if (value.length <= limit) return value;
  const marker = `...[truncated, ${value.length} chars]`;
  let cut = limit - marker.length;
  // Never split a surrogate pair: the lone half is not valid UTF-8 for the server.
  const code = value.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff) cut -= 1;
  return value.slice(0, cut) + marker;
}

export function toWireNumber(value: number): WireNumber {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return 'Infinity';
  if (value === -Infinity) return '-Infinity';
  return value;
}

export interface WireBatch {
  params: KeyValue[];
  tags: KeyValue[];
  metrics: Metric[];
}

const OVERHEAD_BYTES = 120; // {"run_id":"<32 hex>","metrics":[],"params":[],"tags":[]}

/**
 * Splits a batch into requests within every limit, keeping order (params, then tags, then metrics). A chunk
 * is closed as soon as the next entity would break any limit.
 */
export function chunkBatch(batch: WireBatch, limits: Partial<BatchLimits> = {}): WireBatch[] {
  const lim = { ...LIMITS, ...limits };
  const chunks: WireBatch[] = [];
  let cur: WireBatch = { params: [], tags: [], metrics: [] };
  let bytes = OVERHEAD_BYTES;
  const count = () => cur.params.length + cur.tags.length + cur.metrics.length;
  const push = <K extends keyof WireBatch>(kind: K, entity: WireBatch[K][number], perKind: number) => {
    const size = Buffer.byteLength(JSON.stringify(entity)) + 1;
    if (count() > 0 && (cur[kind].length >= perKind || count() >= lim.entitiesPerBatch || bytes + size > lim.batchBytes)) {
      chunks.push(cur);
      cur = { params: [], tags: [], metrics: [] };
      bytes = OVERHEAD_BYTES;
    }
    (cur[kind] as Array<WireBatch[K][number]>).push(entity);
    bytes += size;
  };
  for (const p of batch.params) push('params', p, lim.paramsPerBatch);
  for (const t of batch.tags) push('tags', t, lim.tagsPerBatch);
  for (const m of batch.metrics) push('metrics', m, lim.metricsPerBatch);
  if (count() > 0) chunks.push(cur);
  return chunks;
}
