import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DataError, TrainerError } from '../errors/index.js';
import { createLogger } from '../log/index.js';
import { prepareDataset, readImageSize } from './index.js';
import {
  bmpHeaderBytes,
  heifHeaderBytes,
  jp2HeaderBytes,
  jpegHeaderBytes,
  pngBytes,
  tiffHeaderBytes,
  webpHeaderBytes,
  writeDiceDataset,
} from './fixtures.js';
import { IMG_FORMATS } from './paths.js';
import { parseDataYaml, withPath } from './yaml.js';

const logger = createLogger({ level: 'silent' });
let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'parsers-spec-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function yoloDataset(yaml: string): { input: string; output: string } {
  const base = join(root, `y${n++}`);
  const input = join(base, 'in');
  for (const s of ['train', 'val']) {
    mkdirSync(join(input, 'images', s), { recursive: true });
    mkdirSync(join(input, 'labels', s), { recursive: true });
    writeFileSync(join(input, 'images', s, 'a.jpg'), jpegHeaderBytes(10, 10));
    writeFileSync(join(input, 'labels', s, 'a.txt'), '1 0.5 0.5 0.1 0.1\n');
  }
  writeFileSync(join(input, 'data.yaml'), yaml);
  return { input, output: join(base, 'out') };
}

describe('data.yaml, read with the yaml library', () => {
  it.each([
    ['a flow list over two lines', 'names: ["person",\n "bicycle"]\n', ['person', 'bicycle']],
    ['a block list with comments', 'names:\n  - person # one\n  - "bi # cycle"\n', ['person', 'bi # cycle']],
    ['an index map, keys quoted or not, out of order', "names:\n  '1': car\n  0: person\n", ['person', 'car']],
    ['a flow map', 'names: {0: a, 1: b, 2: c}\n', ['a', 'b', 'c']],
    ['YAML 1.1 scalars, as PyYAML reads them', 'names: [no, yes, 1.5, ~, 3]\n', ['False', 'True', '1.5', 'None', '3']],
    ['no names but nc', 'nc: 3\n', ['class_0', 'class_1', 'class_2']],
    ['a gap in an index map', 'names: {0: a, 2: c}\n', ['a', 'class1', 'c']],
  ])('names from %s', (_name, text, names) => {
    expect(parseDataYaml(text, 'data.yaml').names).toEqual(names);
  });

  it('reads kpt_shape and path, and rewrites path keeping the rest of the file', () => {
    const text = '# my dataset\npath: ../rel  # was relative\ntrain: images/train\nval: images/val\nkpt_shape: [17, 3]\nflip_idx: [0, 2, 1]\nnames:\n  0: person\n';
    const parsed = parseDataYaml(text, 'data.yaml');
    expect(parsed.path).toBe('../rel');
    expect(parsed.kptShape).toEqual([17, 3]);
    const out = withPath(parsed, '/abs/da ta: #x');
    const again = parseDataYaml(out, 'data.yaml');
    expect(again.path).toBe('/abs/da ta: #x');
    expect(again.names).toEqual(['person']);
    expect(again.kptShape).toEqual([17, 3]);
    expect(out).toContain('# my dataset');
    expect(out).toContain('flip_idx: [ 0, 2, 1 ]');
    // Without a path key, one is put first.
    expect(withPath(parseDataYaml('names: [a]\n', 'd.yaml'), '/p').split('\n')[0]).toBe('path: "/p"');
  });

  it.each([
    ['an unclosed flow list', 'names: [a, b\ntrain: x\n', /^data\.yaml: invalid YAML: .+ at line \d+, column \d+$/],
    ['a duplicate key', 'names: [a]\nnames: [b]\n', /^data\.yaml: invalid YAML: Map keys must be unique at line 2, column 1$/],
    ['an unterminated string', 'names: ["a]\n', /^data\.yaml: invalid YAML: /],
    ['a list at the top', '- a\n- b\n', /^data\.yaml: expected a mapping of keys/],
    ['names of the wrong type', 'names: 5\n', /^data\.yaml: names must be a list or a map/],
    ['a name index that is not one', 'names: {x: a}\n', /^data\.yaml: names: key "x" is not a class index$/],
    ['a bad kpt_shape', 'names: [a]\nkpt_shape: [17]\n', /^data\.yaml: kpt_shape must be two positive integers/],
  ])('%s is a one-line DataError naming the file', (_name, text, message) => {
    let err: unknown;
    try {
      parseDataYaml(text, 'data.yaml');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).problems).toHaveLength(1);
    expect((err as DataError).message).toMatch(message);
  });

  it('a YOLO dataset with a two-line flow list keeps both classes; bad YAML is exit 3 naming the file, nothing written', async () => {
    const good = yoloDataset('path: .\ntrain: images/train\nval: images/val\nnames: ["person",\n "bicycle"]\n');
    const p = await prepareDataset({ inputDir: good.input, outputDir: good.output, task: 'detect', logger });
    expect(p.classes.map((c) => c.name)).toEqual(['person', 'bicycle']);
    expect(p.report.classes[1]!.train).toBe(1);
    expect(parseDataYaml(readFileSync(p.dataYaml!, 'utf8'), 'out').path).toBe(good.input);

    const bad = yoloDataset('train: images/train\nnames: [person,\n');
    const err = (await prepareDataset({ inputDir: bad.input, outputDir: bad.output, task: 'detect', logger }).catch((e: unknown) => e)) as TrainerError;
    expect(err).toBeInstanceOf(DataError);
    expect(err.exitCode).toBe(3);
    expect(err.problems).toHaveLength(1);
    expect(err.message.startsWith(`${join(bad.input, 'data.yaml')}: invalid YAML: `)).toBe(true);
    expect(readdirSync(bad.output)).toEqual(['.dice2yolo']);
  });

  const pyyaml = (() => {
    try {
      execFileSync('/usr/bin/python3', ['-c', 'import yaml'], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  (pyyaml ? it : it.skip)('PyYAML reads the rewritten file as this parser does', async () => {
    const d = yoloDataset("# c\npath: x\ntrain: images/train\nval: images/val\nnames:\n  0: 'it''s'\n  1: \"caf\\u00e9\"\n");
    const p = await prepareDataset({ inputDir: d.input, outputDir: d.output, task: 'detect', logger });
    const out = execFileSync('/usr/bin/python3', ['-c', 'import sys, yaml, json; d = yaml.safe_load(open(sys.argv[1])); print(json.dumps([d["path"], d["names"]]))', p.dataYaml!], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([d.input, { 0: "it's", 1: 'café' }]);
    expect(p.classes.map((c) => c.name)).toEqual(["it's", 'café']);
  });
});

describe('image sizes for every extension the converter accepts', () => {
  const write = (name: string, bytes: Buffer) => {
    const p = join(root, name);
    writeFileSync(p, bytes);
    return p;
  };

  it('reads each format with image-size', async () => {
    const cases: Array<[string, Buffer, { width: number; height: number; exifRotated?: true }]> = [
      ['a.jpg', jpegHeaderBytes(641, 481), { width: 641, height: 481 }],
      ['a.jpeg', jpegHeaderBytes(641, 481, 60000), { width: 641, height: 481 }],
      // A JPEG whose SOF comes after more than the 64 KiB head: the whole file is read.
      ['big-app.jpg', Buffer.concat([jpegHeaderBytes(5, 5, 65000).subarray(0, 2), jpegHeaderBytes(5, 5, 65000).subarray(2, 65006), jpegHeaderBytes(641, 481, 30000).subarray(2)]), { width: 641, height: 481 }],
      ['a.mpo', jpegHeaderBytes(800, 600, 200, 6), { width: 600, height: 800, exifRotated: true }],
      ['a.png', pngBytes(33, 17), { width: 33, height: 17 }],
      ['a.bmp', bmpHeaderBytes(640, 480), { width: 640, height: 480 }],
      ['a.webp', webpHeaderBytes(1920, 1080), { width: 1920, height: 1080 }],
      ['a.tif', tiffHeaderBytes(700, 500), { width: 700, height: 500 }],
      ['be.tiff', tiffHeaderBytes(700, 500, { littleEndian: false }), { width: 700, height: 500 }],
      // The IFD after 200 KB of pixel data, as many writers place it.
      ['ifd-last.tif', tiffHeaderBytes(4000, 3000, { ifdAfter: 200_000 }), { width: 4000, height: 3000 }],
      ['a.heic', heifHeaderBytes(4032, 3024), { width: 4032, height: 3024 }],
      ['turned.heic', heifHeaderBytes(4032, 3024, { irot: 1 }), { width: 3024, height: 4032, exifRotated: true }],
      ['half-turned.heif', heifHeaderBytes(4032, 3024, { brand: 'mif1', irot: 2 }), { width: 4032, height: 3024 }],
      ['a.avif', heifHeaderBytes(300, 200, { brand: 'avif', irot: 3 }), { width: 200, height: 300, exifRotated: true }],
      ['a.jp2', jp2HeaderBytes(512, 256), { width: 512, height: 256 }],
    ];
    for (const [name, bytes, want] of cases) expect([name, await readImageSize(write(name, bytes))]).toEqual([name, want]);
    // Every accepted extension but dng has a case here.
    const covered = new Set(cases.map(([name]) => name.slice(name.lastIndexOf('.') + 1)));
    expect([...IMG_FORMATS].filter((e) => !covered.has(e))).toEqual(['dng']);
    // Not something a framework decodes, or damaged: undefined.
    expect(await readImageSize(write('svg.jpg', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>')))).toBeUndefined();
    expect(await readImageSize(write('cut.tif', tiffHeaderBytes(10, 10).subarray(0, 20)))).toBeUndefined();
    expect(await readImageSize(write('cut.heic', heifHeaderBytes(10, 10).subarray(0, 40)))).toBeUndefined();
  });

  it('a dataset of .tif, .heic, .avif and .jp2 images without sizes converts; a .dng without sizes is refused naming it', async () => {
    const base = join(root, `d${n++}`);
    const files: Array<[string, Buffer]> = [
      ['a.tif', tiffHeaderBytes(200, 100, { ifdAfter: 70_000 })],
      ['b.heic', heifHeaderBytes(200, 100, { irot: 1 })],
      ['c.avif', heifHeaderBytes(200, 100, { brand: 'avif' })],
      ['d.jp2', jp2HeaderBytes(200, 100)],
    ];
    const images = files.map(([f], i) => ({ id: i + 1, file_name: f }));
    const annotations = images.map((im) => ({ id: im.id, image_id: im.id, category_id: 1, bbox: [0, 0, 50, 50] }));
    writeDiceDataset(join(base, 'in'), { images: [...images, { id: 9, file_name: 'e.dng', width: 200, height: 100 }], annotations, categories: [{ id: 1, name: 'x' }], files: [] });
    for (const [f, bytes] of files) writeFileSync(join(base, 'in', 'images', f), bytes);
    writeFileSync(join(base, 'in', 'images', 'e.dng'), tiffHeaderBytes(160, 120));
    const p = await prepareDataset({ inputDir: join(base, 'in'), outputDir: join(base, 'out'), task: 'detect', format: 'coco', logger });
    expect(p.report.dropped.image_size_unknown).toBeUndefined();
    expect(p.report.repaired.size_from_header!.count).toBe(4);
    const sizes = ['train', 'val'].flatMap((s) => (JSON.parse(readFileSync(join(base, 'out', `${s}.json`), 'utf8')) as { images: Array<{ file_name: string; width: number; height: number }> }).images);
    const bySize = Object.fromEntries(sizes.map((i) => [i.file_name.slice(i.file_name.lastIndexOf('/') + 1), [i.width, i.height]]));
    // The DNG's size comes from the JSON, as given.
    expect(bySize).toEqual({ 'a.tif': [200, 100], 'b.heic': [100, 200], 'c.avif': [200, 100], 'd.jp2': [200, 100], 'e.dng': [200, 100] });

    writeDiceDataset(join(base, 'in2'), { images: [...images, { id: 9, file_name: 'e.dng' }, { id: 10, file_name: 'sub/f.DNG', height: 4 }], annotations, categories: [{ id: 1, name: 'x' }], files: [] });
    for (const [f, bytes] of files) writeFileSync(join(base, 'in2', 'images', f), bytes);
    mkdirSync(join(base, 'in2', 'images', 'sub'));
    for (const f of ['e.dng', 'sub/f.DNG']) writeFileSync(join(base, 'in2', 'images', f), tiffHeaderBytes(160, 120));
    const err = (await prepareDataset({ inputDir: join(base, 'in2'), outputDir: join(base, 'out2'), task: 'detect', logger }).catch((e: unknown) => e)) as DataError;
    expect(err).toBeInstanceOf(DataError);
    expect(err.problems).toEqual([
      "images[4] (id 9): e.dng: width and height are missing, and a .dng file's header does not tell the size the framework decodes (its first image is often a preview): give them in annotations.json",
      "images[5] (id 10): sub/f.DNG: width and height are missing, and a .dng file's header does not tell the size the framework decodes (its first image is often a preview): give them in annotations.json",
    ]);
    expect(existsSync(join(base, 'out2')) ? readdirSync(join(base, 'out2')) : []).toEqual(['.dice2yolo']);
  });

  /** A Python with Pillow (the dev venv has it): what timm and HF decode; this cross-check may skip. */
  const pil = (() => {
    const home = process.env.TRAINERS_VENV_HOME ?? join(homedir(), '.cache', 'trainers', 'venvs');
    const venvs = existsSync(home) ? readdirSync(home).filter((d) => existsSync(join(home, d, '.complete'))).map((d) => join(home, d, 'bin', 'python')) : [];
    for (const py of [process.env.TRAINERS_DEV_PYTHON, ...venvs, 'python3'].filter((p): p is string => !!p)) {
      try {
        execFileSync(py, ['-c', 'import PIL'], { stdio: 'ignore' });
        return py;
      } catch {
        /* next */
      }
    }
    return undefined;
  })();
  (pil ? it : it.skip)('agrees with what Pillow decodes (exif_transpose applied) for real files it writes', async () => {
    const dir = join(root, `pil${n++}`);
    mkdirSync(dir);
    const script = `
import sys, os, json
from PIL import Image, ImageOps, features
d = sys.argv[1]
out = {}
def save(name, fmt, **kw):
    im = Image.new('RGB', (37, 23), (200, 10, 10))
    try:
        im.save(os.path.join(d, name), fmt, **kw)
    except Exception:
        return
    with Image.open(os.path.join(d, name)) as f:
        out[name] = list(ImageOps.exif_transpose(f).size)
for o in range(1, 9):
    ex = Image.Exif(); ex[274] = o
    save(f'o{o}.jpg', 'JPEG', exif=ex.tobytes())
save('a.png', 'PNG'); save('a.bmp', 'BMP'); save('a.webp', 'WEBP'); save('a.tif', 'TIFF'); save('c.tif', 'TIFF', compression='tiff_lzw')
if features.check('jpg_2000'): save('a.jp2', 'JPEG2000')
if features.check('avif'): save('a.avif', 'AVIF')
print(json.dumps(out))
`;
    const decoded = JSON.parse(execFileSync(pil!, ['-c', script, dir], { encoding: 'utf8' })) as Record<string, [number, number]>;
    expect(Object.keys(decoded).length).toBeGreaterThanOrEqual(13);
    for (const [name, [w, h]] of Object.entries(decoded)) {
      const got = await readImageSize(join(dir, name));
      expect([name, got?.width, got?.height]).toEqual([name, w, h]);
    }
  });
});
