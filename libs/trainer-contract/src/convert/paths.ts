import { readdir, stat, realpath } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { DataError } from '../errors/index.js';

/**
 * Extensions Ultralytics 8.4 reads (ultralytics/data/utils.py IMG_FORMATS); its loader skips other files, so a
 * listed image with another extension would lose its labels. Every one of them has its size read from the header
 * (image-size.ts) except DNG, whose size must be in annotations.json.
 */
export const IMG_FORMATS = new Set(['avif', 'bmp', 'dng', 'heic', 'heif', 'jp2', 'jpeg', 'jpg', 'mpo', 'png', 'tif', 'tiff', 'webp']);

export function extensionOf(rel: string): string {
  const slash = rel.lastIndexOf('/');
  const dot = rel.lastIndexOf('.');
  return dot > slash ? rel.slice(dot + 1).toLowerCase() : '';
}

export function stripExtension(rel: string): string {
  const slash = rel.lastIndexOf('/');
  const dot = rel.lastIndexOf('.');
  return dot > slash ? rel.slice(0, dot) : rel;
}

export function stemOf(rel: string): string {
  return stripExtension(rel.slice(rel.lastIndexOf('/') + 1));
}

/**
 * A `file_name` as a clean relative path under the images folder, or a reason why it is not one.
 * `a/./b/../c.jpg` becomes `a/c.jpg`; anything that would leave the folder is refused.
 */
export function normalizeRelPath(name: string): { rel: string } | { error: string } {
  if (name.length === 0) return { error: 'is empty' };
  if (name.includes('\0')) return { error: 'contains a NUL byte' };
  if (name.startsWith('/') || name.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(name)) {
    return { error: 'is an absolute path' };
  }
  const out: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) return { error: 'escapes the dataset directory' };
      out.pop();
      continue;
    }
    out.push(part);
  }
  if (out.length === 0) return { error: 'names no file' };
  return { rel: out.join('/') };
}

/**
 * Whether Ultralytics can list the image by its path in place: the label must be found by replacing the
 * last `/images/` of the path, which must then be ours, and a `.txt` list cannot hold line breaks.
 */
export function listableInPlace(rel: string): boolean {
  // eslint-disable-next-line no-control-regex -- these separators are exactly what a line-based list cannot hold
  if (/[\r\n\u2028\u2029\u0085\v\f\x1c-\x1e]/.test(rel)) return false;
  if (rel !== rel.trim()) return false;
  return !rel.split('/').includes('images');
}

/** Every file under `root`, as `/`-separated paths relative to it; symlinked folders are followed once. */
export async function walkFiles(root: string, skip?: string): Promise<Set<string>> {
  const files = new Set<string>();
  const seen = new Set<string>();
  const skipAbs = skip ? resolve(skip) : undefined;
  async function visit(dir: string, prefix: string): Promise<void> {
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      return;
    }
    if (seen.has(real)) return;
    seen.add(real);
    if (skipAbs && (real === skipAbs || dir === skipAbs)) return;
    const entries = await readdir(dir, { withFileTypes: true });
    const subdirs: Array<Promise<void>> = [];
    for (const e of entries) {
      const rel = prefix + e.name;
      if (e.isFile()) files.add(rel);
      else if (e.isDirectory()) subdirs.push(visit(join(dir, e.name), rel + '/'));
      else if (e.isSymbolicLink()) {
        const st = await stat(join(dir, e.name)).catch(() => undefined);
        if (st?.isFile()) files.add(rel);
        else if (st?.isDirectory()) subdirs.push(visit(join(dir, e.name), rel + '/'));
      }
    }
    await Promise.all(subdirs);
  }
  await visit(root, '');
  return files;
}

/** Resolves `rel` under `base`, refusing anything that lands outside it. */
export function inside(base: string, rel: string): string {
  const abs = resolve(base, rel);
  if (abs !== base && !abs.startsWith(base.endsWith(sep) ? base : base + sep)) {
    throw new DataError(`refusing to write outside ${base}: ${rel}`);
  }
  return abs;
}
