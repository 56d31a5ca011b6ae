import { Scalar, isMap, parseDocument, type Document } from 'yaml';
import { DataError } from '../errors/index.js';
import type { ClassEntry, SplitName } from './types.js';
import type { PoseShape } from './pose.js';

/** A YAML scalar that YAML and Ultralytics read back as the same string: JSON's double-quoted form is valid YAML. */
function q(s: string): string {
  return JSON.stringify(s);
}

export function yamlDataFile(opts: {
  path: string;
  lists: Partial<Record<SplitName, string>>;
  classes: readonly ClassEntry[];
  pose?: PoseShape;
}): string {
  const lines = ['# written by dice2yolo; classes.json maps each index to its DICE category id', `path: ${q(opts.path)}`];
  for (const s of ['train', 'val', 'test'] as const) if (opts.lists[s]) lines.push(`${s}: ${q(opts.lists[s]!)}`);
  lines.push(`nc: ${opts.classes.length}`, 'names:');
  for (const c of opts.classes) lines.push(`  ${c.index}: ${q(c.name)}`);
  if (opts.pose) {
    lines.push(`kpt_shape: [${opts.pose.kpts}, 3]`);
    if (opts.pose.flipIdx) lines.push(`flip_idx: [${opts.pose.flipIdx.join(', ')}]`);
  }
  return lines.join('\n') + '\n';
}

export interface DataYaml {
  /** `path:` as written, if it is a string. */
  path?: string;
  names: string[];
  kptShape?: [number, number];
  /** The parsed document, to write back with another `path:` (comments and layout kept). */
  doc: Document;
}

/**
 * A YOLO dataset file read the way Ultralytics reads it: PyYAML's YAML 1.1 (so `yes`/`no` are booleans there too),
 * duplicate keys refused, `names` as a list or an index map (`{0: person}`, keys may be quoted), else `nc`
 * generated names (`class_0`…), non-string names turned into Python's `str()` of them. Bad YAML is a DataError
 * naming the file and the line.
 */
export function parseDataYaml(text: string, file: string): DataYaml {
  const doc = parseDocument(text, { version: '1.1', uniqueKeys: true });
  const err = doc.errors[0];
  // The message's first line says what and where ("… at line 2, column 1:"); a code frame follows.
  if (err) throw new DataError(`${file}: invalid YAML: ${err.message.split('\n')[0]!.trim().replace(/:$/, '')}`);
  if (!isMap(doc.contents)) throw new DataError(`${file}: expected a mapping of keys (path, train, val, names, …) at the top`);
  const data = doc.toJS({ maxAliasCount: 1000 }) as Record<string, unknown>;
  const names: string[] = [];
  const raw = data.names;
  if (Array.isArray(raw)) {
    raw.forEach((v, i) => (names[i] = pyStr(v)));
  } else if (raw !== null && typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw as Record<string, unknown>)) {
      const idx = Number(k);
      if (!Number.isInteger(idx) || idx < 0 || idx > 1e6) throw new DataError(`${file}: names: key ${JSON.stringify(k)} is not a class index`);
      names[idx] = pyStr(v);
    }
  } else if (raw !== undefined && raw !== null) {
    throw new DataError(`${file}: names must be a list or a map of index: name, got ${typeof raw}`);
  } else if (Number.isInteger(data.nc) && (data.nc as number) > 0 && (data.nc as number) <= 1e6) {
    for (let i = 0; i < (data.nc as number); i++) names.push(`class_${i}`);
  }
  let kptShape: [number, number] | undefined;
  const k = data.kpt_shape;
  if (k !== undefined && k !== null) {
    if (!Array.isArray(k) || k.length !== 2 || !k.every((v) => Number.isInteger(v) && v > 0)) {
      throw new DataError(`${file}: kpt_shape must be two positive integers [keypoints, 2 or 3], got ${JSON.stringify(k)}`);
    }
    kptShape = [k[0] as number, k[1] as number];
  }
  return {
    path: typeof data.path === 'string' ? data.path : undefined,
    names: Array.from(names, (n, i) => n ?? `class${i}`),
    kptShape,
    doc,
  };
}

/** The file again with `path:` set (added at the top when absent), keeping its comments and layout. */
export function withPath(parsed: DataYaml, path: string): string {
  const doc = parsed.doc.clone();
  // Double-quoted like yamlDataFile's values: read back as the same string by PyYAML and by this parser.
  const value = new Scalar(path);
  value.type = Scalar.QUOTE_DOUBLE;
  if (doc.has('path')) doc.set('path', value);
  else if (isMap(doc.contents)) doc.contents.items.unshift(doc.createPair('path', value));
  return doc.toString({ lineWidth: 0 });
}

/** Python's str() of a YAML scalar, as Ultralytics' check_class_names applies it to each name. */
function pyStr(v: unknown): string {
  if (typeof v === 'string') return v;
  if (v === true) return 'True';
  if (v === false) return 'False';
  if (v === null || v === undefined) return 'None';
  if (typeof v === 'number' && Number.isInteger(v) && !Object.is(v, -0)) return String(v);
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}
