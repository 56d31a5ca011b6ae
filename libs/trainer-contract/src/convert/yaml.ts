import type { ClassEntry, SplitName } from './types.js';
import type { PoseShape } from './pose.js';

/** A YAML scalar that YAML and Ultralytics read back as the same string: JSON's double-quoted form is valid YAML. */
export function q(s: string): string {
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

/**
 * Just enough YAML for a YOLO dataset file: top-level `key: value` lines, `names` as a flow list, a block list
 * or an index map, and `kpt_shape` as a flow list. Anything fancier keeps its text and is copied as it is.
 */
export function parseDataYaml(text: string): { path?: string; names: string[]; kptShape?: [number, number] } {
  const lines = text.split(/\r?\n/);
  const names: string[] = [];
  let path: string | undefined;
  let kptShape: [number, number] | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = stripComment(lines[i]!);
    const m = /^([A-Za-z_][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (!m) continue;
    const [, key, value] = m as unknown as [string, string, string];
    if (key === 'path') path = unquote(value.trim());
    if (key === 'kpt_shape') {
      const nums = value.replace(/[[\]]/g, '').split(',').map((v) => Number(v.trim()));
      if (nums.length === 2 && nums.every((v) => Number.isInteger(v))) kptShape = [nums[0]!, nums[1]!];
    }
    if (key !== 'names') continue;
    const inline = value.trim();
    if (inline.startsWith('[')) {
      names.push(...splitFlow(inline.slice(1, inline.lastIndexOf(']'))).map(unquote));
    } else if (inline.startsWith('{')) {
      for (const part of splitFlow(inline.slice(1, inline.lastIndexOf('}')))) {
        const kv = /^\s*(\d+)\s*:\s*(.*)$/.exec(part);
        if (kv) names[Number(kv[1])] = unquote(kv[2]!.trim());
      }
    } else {
      for (let j = i + 1; j < lines.length; j++) {
        const raw = stripComment(lines[j]!);
        if (raw.trim() === '') continue;
        if (!/^\s/.test(raw)) break;
        const item = /^\s+-\s*(.*)$/.exec(raw);
        const kv = /^\s+(\d+)\s*:\s*(.*)$/.exec(raw);
        if (item) names.push(unquote(item[1]!.trim()));
        else if (kv) names[Number(kv[1])] = unquote(kv[2]!.trim());
      }
    }
  }
  return { path, names: Array.from(names, (n, i) => n ?? `class${i}`), kptShape };
}

function stripComment(line: string): string {
  let inS = false;
  let inD = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "'" && !inD) inS = !inS;
    else if (c === '"' && !inS) inD = !inD;
    else if (c === '#' && !inS && !inD && (i === 0 || /\s/.test(line[i - 1]!))) return line.slice(0, i);
  }
  return line;
}

function splitFlow(s: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inS = false;
  let inD = false;
  for (const c of s) {
    if (c === "'" && !inD) inS = !inS;
    else if (c === '"' && !inS) inD = !inD;
    if (c === ',' && !inS && !inD) {
      out.push(cur);
      cur = '';
    } else cur += c;
  }
  if (cur.trim() !== '') out.push(cur);
  return out.map((p) => p.trim());
}

function unquote(v: string): string {
  if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) {
    try {
      return JSON.parse(v) as string;
    } catch {
      return v.slice(1, -1);
    }
  }
  if (v.startsWith("'") && v.endsWith("'") && v.length >= 2) return v.slice(1, -1).replace(/''/g, "'");
  return v;
}
