import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { DataError } from '../errors/index.js';
import { IMG_FORMATS, extensionOf, walkFiles } from './paths.js';
import { emptySplits } from './report.js';
import { cmpCodePoints } from './dice-classify.js';
import { parseDataYaml, withPath } from './yaml.js';
import type { ClassCounts, ClassEntry, SplitName } from './types.js';

const SPLITS: SplitName[] = ['train', 'val', 'test'];

/** The YAML file that makes a folder a YOLO-native dataset: data.yaml, else the only *.yaml at the top. */
export function findYoloYaml(dir: string): string | undefined {
  if (!existsSync(join(dir, 'images')) || !existsSync(join(dir, 'labels'))) return undefined;
  if (existsSync(join(dir, 'data.yaml'))) return join(dir, 'data.yaml');
  const yamls = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f));
  return yamls.length === 1 ? join(dir, yamls[0]!) : undefined;
}

export function isImageFolder(dir: string): boolean {
  const train = join(dir, 'train');
  return existsSync(train) && statSync(train).isDirectory() && readdirSync(train, { withFileTypes: true }).some((e) => e.isDirectory());
}

export interface PassthroughResult {
  dataYaml?: string;
  root: string;
  classes: ClassEntry[];
  classCounts: ClassCounts[];
  splits: ReturnType<typeof emptySplits>;
  listed: number;
  kept: number;
  kptShape?: [number, number];
}

/**
 * A YOLO dataset is used where it is. Only its YAML is rewritten, into the output folder, with an absolute
 * `path:` (a relative one would resolve against Ultralytics' datasets_dir, not the dataset).
 */
export async function passthroughYolo(inputDir: string, yamlPath: string, outputDir: string): Promise<PassthroughResult> {
  const parsed = parseDataYaml(readFileSync(yamlPath, 'utf8'), yamlPath);
  if (parsed.names.length === 0) throw new DataError(`${yamlPath}: no class names (names: or nc:) found`);
  const root = parsed.path && isAbsolute(parsed.path) && existsSync(parsed.path) ? parsed.path : inputDir;
  const dataYaml = join(outputDir, 'data.yaml');
  await writeFile(dataYaml, withPath(parsed, resolve(root)));
  const classes = parsed.names.map((name, index) => ({ index, id: index, name }));
  const classCounts: ClassCounts[] = classes.map((c) => ({ ...c, train: 0, val: 0, test: 0 }));
  const splits = emptySplits();
  let listed = 0;
  let kept = 0;
  for (const s of SPLITS) {
    const dir = join(inputDir, 'images', s);
    if (!existsSync(dir)) continue;
    const files = [...(await walkFiles(dir))].filter((f) => IMG_FORMATS.has(extensionOf(f)));
    splits[s].images = files.length;
    listed += files.length;
    for (const f of files) {
      const label = join(inputDir, 'labels', s, f.replace(/\.[^./]+$/, '.txt'));
      let body = '';
      try {
        body = readFileSync(label, 'utf8');
      } catch {
        /* no label: background */
      }
      const rows = body.split('\n').filter((l) => l.trim() !== '');
      if (rows.length === 0) splits[s].background++;
      for (const r of rows) {
        const c = classCounts[Number(r.slice(0, r.indexOf(' ')))];
        if (c) c[s]++;
      }
      splits[s].annotations += rows.length;
      kept += rows.length;
    }
  }
  return { dataYaml, root: outputDir, classes, classCounts, splits, listed, kept, kptShape: parsed.kptShape };
}

/** An ImageFolder tree (`train/<class>/…`) for classify, used in place; classes follow sorted folder names. */
export async function passthroughImageFolder(inputDir: string): Promise<PassthroughResult> {
  const names = readdirSync(join(inputDir, 'train'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort(cmpCodePoints);
  const classes = names.map((name, index) => ({ index, id: index, name }));
  const classCounts: ClassCounts[] = classes.map((c) => ({ ...c, train: 0, val: 0, test: 0 }));
  const splits = emptySplits();
  let listed = 0;
  for (const s of SPLITS) {
    for (const c of classCounts) {
      const dir = join(inputDir, s, c.name);
      if (!existsSync(dir)) continue;
      const n = [...(await walkFiles(dir))].filter((f) => IMG_FORMATS.has(extensionOf(f))).length;
      c[s] += n;
      splits[s].images += n;
      splits[s].annotations += n;
      listed += n;
    }
  }
  return { root: inputDir, classes, classCounts, splits, listed, kept: listed };
}
