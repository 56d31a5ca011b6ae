import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { main } from './dice2yolo-cli.js';
import { writeDiceDataset, type DiceFixture } from './fixtures.js';

let root: string;
let n = 0;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'dice2yolo-cli-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, done: () => void): void {
    this.text += chunk.toString();
    done();
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new Capture();
  const stderr = new Capture();
  const code = await main(args, { stdout, stderr });
  return { code, stdout: stdout.text, stderr: stderr.text };
}

function dataset(fx: DiceFixture): { input: string; output: string } {
  const base = join(root, `c${n++}`);
  writeDiceDataset(join(base, 'in'), fx);
  return { input: join(base, 'in'), output: join(base, 'out') };
}

const good: DiceFixture = {
  images: Array.from({ length: 5 }, (_, i) => ({ id: 1001 + i, file_name: `img_00${i}.jpg`.replace('.jpg', '.png'), width: 64, height: 32 })),
  annotations: Array.from({ length: 5 }, (_, i) => ({ id: i + 1, image_id: 1001 + i, category_id: 3, bbox: [0, 0, 32, 16] })),
  categories: [{ id: 3, name: 'thing' }],
};

describe('dice2yolo CLI', () => {
  it('--help prints usage and exits 0', async () => {
    const r = await cli(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/--input DIR/);
    expect(r.stdout).toMatch(/--split-config FILE/);
  });

  it('converts, prints the JSON report, writes --report, honours --split-config, --val-ratio and --seed', async () => {
    const { input, output } = dataset(good);
    const splitFile = join(root, 'split.json');
    writeFileSync(splitFile, JSON.stringify({ splits: { '1001': 'val', 'img_001.png': 'train' }, val_ratio: 0.9 }));
    const reportFile = join(root, 'report.json');
    const r = await cli(['--input', input, '--output', output, '--task', 'detect', '--split-config', splitFile, '--val-ratio', '0.01', '--seed', '7', '--report', reportFile, '--log-level', 'silent']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.annotations).toEqual({ listed: 5, kept: 5 });
    expect(JSON.parse(readFileSync(reportFile, 'utf8'))).toEqual(report);
    const val = readFileSync(join(output, 'val.txt'), 'utf8');
    expect(val).toContain('img_000.png');
    expect(readFileSync(join(output, 'train.txt'), 'utf8')).toContain('img_001.png');
    expect(existsSync(join(output, 'data.yaml'))).toBe(true);
    expect(JSON.parse(readFileSync(join(output, 'classes.json'), 'utf8'))).toEqual([{ index: 0, id: 3, name: 'thing' }]);
  });

  it('also accepts {"split_config": {...}} in the --split-config file', async () => {
    const { input, output } = dataset(good);
    const splitFile = join(root, 'split2.json');
    writeFileSync(splitFile, JSON.stringify({ split_config: { splits: { img_004: 'test' } } }));
    const r = await cli(['--input', input, '--output', output, '--split-config', splitFile, '--log-level', 'silent']);
    expect(r.code).toBe(0);
    expect(readFileSync(join(output, 'test.txt'), 'utf8')).toContain('img_004.png');
  });

  it('--format coco writes train.json and val.json and prints where they are', async () => {
    const { input, output } = dataset(good);
    const r = await cli(['--input', input, '--output', output, '--format', 'coco', '--log-level', 'silent']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.target).toBe('coco');
    expect(report.coco).toEqual({ train: join(output, 'train.json'), val: join(output, 'val.json') });
    expect(report.dataYaml).toBeUndefined();
    const train = JSON.parse(readFileSync(report.coco.train, 'utf8'));
    expect(train.categories).toEqual([{ id: 0, name: 'thing', dice_id: 3 }]);
    expect(train.images[0].file_name).toBe(join(input, 'images', train.images[0].file_name.slice(train.images[0].file_name.lastIndexOf('/') + 1)));
    expect(existsSync(join(output, 'data.yaml'))).toBe(false);
  });

  it('--format imagefolder --task classify writes the class folders', async () => {
    const { input, output } = dataset({ ...good, images: (good.images as object[]).map((im) => ({ ...im, category_id: 3 })), annotations: [] });
    const r = await cli(['--input', input, '--output', output, '--format', 'imagefolder', '--task', 'classify', '--log-level', 'silent']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).imageFolder).toEqual({ train: join(output, 'train'), val: join(output, 'val') });
    expect(readdirSync(join(output, 'train'))).toEqual(['thing']);
  });

  const bad: Array<[string, (io: { input: string; output: string }) => string[], RegExp]> = [
    ['missing flags', () => [], /^dice2yolo: --input is required\ndice2yolo: --output is required\n$/],
    ['an unknown flag', (d) => ['--input', d.input, '--output', d.output, '--epochs', '3'], /^dice2yolo: Unknown option '--epochs'/],
    ['a bad task', (d) => ['--input', d.input, '--output', d.output, '--task', 'segmentation'], /--task must be one of detect, segment, pose, classify, obb/],
    ['a bad val ratio', (d) => ['--input', d.input, '--output', d.output, '--val-ratio', '1.5'], /^dice2yolo: split_config\.val_ratio: /],
    ['a missing split config file', (d) => ['--input', d.input, '--output', d.output, '--split-config', '/nonexistent.json'], /--split-config \/nonexistent\.json: file not found/],
    ['a missing dataset', (d) => ['--input', join(d.input, 'nope'), '--output', d.output], /^dice2yolo: dataset directory .* does not exist\n$/],
    ['an unknown format', (d) => ['--input', d.input, '--output', d.output, '--format', 'voc'], /^dice2yolo: --format must be one of yolo, coco, imagefolder, got "voc"\n$/],
    ['a format the task has not', (d) => ['--input', d.input, '--output', d.output, '--format', 'imagefolder'], /^dice2yolo: dataset format imagefolder is for task classify only, not detect\n$/],
  ];
  it.each(bad)('exits 3 with one line per problem for %s', async (_name, args, message) => {
    const d = dataset(good);
    const r = await cli([...args(d), '--log-level', 'silent']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
  });

  const badData: Array<[string, DiceFixture, RegExp]> = [
    ['truncated annotations.json', { rawJson: JSON.stringify(good).slice(0, 120) }, /^dice2yolo: annotations\.json: invalid JSON at byte 120: unexpected end of file \(truncated JSON\?\)\n$/],
    ['non-JSON annotations.json', { rawJson: '<html>oops</html>' }, /^dice2yolo: annotations\.json: invalid JSON at byte 0: expected a JSON object, found '<'\n$/],
    ['wrong types', { ...good, annotations: [{ id: 98765, image_id: 1001, category_id: 3, bbox: 'nope' }] }, /^dice2yolo: annotations\[0\] \(id 98765\): bbox must be 4 numbers/],
    ['path traversal', { ...good, images: [{ id: 1, file_name: '../../../../tmp/evil.png', width: 1, height: 1 }] }, /^dice2yolo: images\[0\] \(id 1\): file_name "\.\.\/\.\.\/\.\.\/\.\.\/tmp\/evil\.png" escapes the dataset directory\n$/],
  ];
  it.each(badData)('--format coco: exits 3 with a one-line message for %s, writing nothing outside --output', async (_name, fx, message) => {
    const d = dataset(fx);
    const before = readdirSync(join(d.input, '..'));
    const r = await cli(['--input', d.input, '--output', d.output, '--format', 'coco', '--log-level', 'silent']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(join(d.input, '..')).sort()).toEqual([...new Set([...before, 'out'])].sort());
    expect(readdirSync(d.output)).toEqual(['.dice2yolo']);
  });
  it.each(badData)('exits 3 with a one-line message for %s, writing nothing outside --output', async (_name, fx, message) => {
    const d = dataset(fx);
    const before = readdirSync(join(d.input, '..'));
    const r = await cli(['--input', d.input, '--output', d.output, '--log-level', 'silent']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(readdirSync(join(d.input, '..')).sort()).toEqual([...new Set([...before, 'out'])].sort());
  });

  it('exits 3 naming the annotation when --strict and a category is unknown', async () => {
    const anns = [...(good.annotations as object[])];
    anns.splice(1, 0, { id: 98765, image_id: 1001, category_id: 77, bbox: [0, 0, 1, 1] });
    const d = dataset({ ...good, annotations: anns });
    const r = await cli(['--input', d.input, '--output', d.output, '--strict', '--log-level', 'silent']);
    expect(r.code).toBe(3);
    expect(r.stderr).toBe('dice2yolo: annotations[1] (id 98765): category_id 77 not in categories\n');
  });

  const bin = resolve(__dirname_of(), '..', '..', 'bin', 'dice2yolo.mjs');
  const built = existsSync(resolve(__dirname_of(), '..', '..', 'dist', 'convert', 'dice2yolo-cli.js'));
  (built ? it : it.skip)('runs as a real process through the bin shim (after a build)', () => {
    const d = dataset(good);
    const ok = spawnSync(process.execPath, [bin, '--input', d.input, '--output', d.output, '--log-level', 'warn'], { encoding: 'utf8' });
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout).images.used).toBe(5);
    const bad = spawnSync(process.execPath, [bin, '--input', join(d.input, 'missing'), '--output', d.output + '2'], { encoding: 'utf8' });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/^dice2yolo: dataset directory .* does not exist\n$/);
  });
});

function __dirname_of(): string {
  return new URL('.', import.meta.url).pathname;
}
