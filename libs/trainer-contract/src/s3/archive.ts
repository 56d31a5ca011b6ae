import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Parser, extract as tarExtract, type ReadEntry } from 'tar';
import yauzl from 'yauzl';
import { DataError } from '../errors/index.js';
import { quoteName, unsafePathReason } from './keys.js';
import type { ArchiveType } from './uri.js';

export interface ArchiveLimits {
  /** Total uncompressed bytes of all entries. */
  maxBytes: number;
  maxFiles: number;
}

export const DEFAULT_ARCHIVE_LIMITS: ArchiveLimits = { maxBytes: 64 * 1024 ** 3, maxFiles: 1_000_000 };

const MAX_PROBLEMS = 10;

function refuse(label: string, problems: string[]): never {
  const shown = problems.slice(0, MAX_PROBLEMS).map((p) => `${label}: ${p}`);
  if (problems.length > MAX_PROBLEMS) shown.push(`${label}: … and ${problems.length - MAX_PROBLEMS} more unsafe entries`);
  throw new DataError(shown);
}

function limitProblem(label: string, files: number, bytes: number, limits: ArchiveLimits): void {
  if (files > limits.maxFiles) throw new DataError(`${label}: archive holds more than ${limits.maxFiles} files (limit maxArchiveFiles)`);
  if (bytes > limits.maxBytes) throw new DataError(`${label}: archive expands to more than ${limits.maxBytes} bytes (limit maxArchiveBytes)`);
}

/**
 * Unpacks a zip, tar or tar.gz into `dest`, after checking every entry first, so nothing is written when one
 * entry is unsafe: no path outside `dest` (`..`, absolute, backslash, NUL), no link pointing out, no device
 * files, and the file count and total size within `limits` (archive bombs). Sizes are enforced again while
 * writing, since headers can lie.
 */
export async function extractArchive(
  file: string,
  type: ArchiveType,
  dest: string,
  limits: ArchiveLimits,
  label: string,
): Promise<{ files: number; bytes: number }> {
  await mkdir(dest, { recursive: true });
  return type === 'zip' ? extractZip(file, dest, limits, label) : extractTar(file, dest, limits, label);
}

// ---------- zip ----------

function openZip(file: string): Promise<yauzl.ZipFile> {
  return new Promise((resolve, reject) =>
    yauzl.open(file, { lazyEntries: true, autoClose: false, decodeStrings: true, validateEntrySizes: true, strictFileNames: false }, (err, zip) =>
      err || !zip ? reject(err ?? new Error('no zip')) : resolve(zip),
    ),
  );
}

function readEntries(zip: yauzl.ZipFile, limits: ArchiveLimits, label: string): Promise<yauzl.Entry[]> {
  return new Promise((resolve, reject) => {
    const entries: yauzl.Entry[] = [];
    zip.on('entry', (entry: yauzl.Entry) => {
      entries.push(entry);
      // Checked while reading the central directory, so a directory of millions of entries is not held in memory.
      if (entries.length > limits.maxFiles) {
        reject(new DataError(`${label}: archive holds more than ${limits.maxFiles} files (limit maxArchiveFiles)`));
        return;
      }
      zip.readEntry();
    });
    zip.on('end', () => resolve(entries));
    zip.on('error', reject);
    zip.readEntry();
  });
}

const S_IFMT = 0o170000;
const S_IFLNK = 0o120000;

async function extractZip(file: string, dest: string, limits: ArchiveLimits, label: string): Promise<{ files: number; bytes: number }> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(file);
  } catch (err) {
    throw new DataError(`${label}: not a valid zip archive (${(err as Error).message})`);
  }
  try {
    let entries: yauzl.Entry[];
    try {
      entries = await readEntries(zip, limits, label);
    } catch (err) {
      if (err instanceof DataError) throw err;
      // yauzl refuses "../x", "/x" and "C:\x" names itself; report them the same way as ours.
      throw new DataError(`${label}: unsafe or corrupt zip entry (${(err as Error).message})`);
    }
    const problems: string[] = [];
    let files = 0;
    let total = 0;
    const wanted: yauzl.Entry[] = [];
    for (const entry of entries) {
      const name = entry.fileName;
      if (name.startsWith('__MACOSX/')) continue;
      const reason = unsafePathReason(name);
      if (reason) {
        problems.push(`unsafe entry ${quoteName(name)} (${reason})`);
        continue;
      }
      if (((entry.externalFileAttributes >>> 16) & S_IFMT) === S_IFLNK) {
        problems.push(`symbolic link entry ${quoteName(name)} is not allowed in a zip dataset`);
        continue;
      }
      wanted.push(entry);
      if (!name.endsWith('/')) {
        files++;
        total += entry.uncompressedSize;
      }
    }
    if (problems.length) refuse(label, problems);
    limitProblem(label, files, total, limits);

    let written = 0;
    const made = new Set<string>();
    for (const entry of wanted) {
      const target = join(dest, entry.fileName);
      if (entry.fileName.endsWith('/')) {
        await mkdir(target, { recursive: true });
        continue;
      }
      const dir = dirname(target);
      if (!made.has(dir)) {
        await mkdir(dir, { recursive: true });
        made.add(dir);
      }
      const stream = await new Promise<NodeJS.ReadableStream>((resolve, reject) =>
        zip.openReadStream(entry, (err, s) => (err || !s ? reject(err ?? new Error('no stream')) : resolve(s))),
      );
      const guard = new Transform({
        transform(chunk: Buffer, _enc, done) {
          written += chunk.length;
          if (written > limits.maxBytes) done(new DataError(`${label}: archive expands to more than ${limits.maxBytes} bytes (limit maxArchiveBytes)`));
          else done(null, chunk);
        },
      });
      try {
        await pipeline(stream, guard, createWriteStream(target));
      } catch (err) {
        if (err instanceof DataError) throw err;
        throw new DataError(`${label}: corrupt zip entry ${quoteName(entry.fileName)} (${(err as Error).message})`);
      }
    }
    return { files, bytes: written };
  } finally {
    zip.close();
  }
}

// ---------- tar / tar.gz ----------

interface TarEntryInfo {
  path: string;
  type: string;
  size: number;
  linkpath?: string;
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Strips the `./` that `tar -C dir .` puts in front of every name. */
function tarRel(path: string): string {
  return path.replace(/^(\.\/)+/, '');
}

function scanTar(file: string, limits: ArchiveLimits, label: string): Promise<TarEntryInfo[]> {
  return new Promise((resolve, reject) => {
    const entries: TarEntryInfo[] = [];
    let files = 0;
    let bytes = 0;
    const input = createReadStream(file);
    const parser = new Parser({
      strict: true,
      onReadEntry: (entry: ReadEntry) => {
        entries.push({ path: entry.path, type: entry.type, size: entry.size, linkpath: entry.linkpath });
        if (FILE_TYPES.has(entry.type)) {
          files++;
          bytes += entry.size;
        }
        entry.resume();
        if (files > limits.maxFiles || bytes > limits.maxBytes) {
          input.destroy();
          try {
            limitProblem(label, files, bytes, limits);
          } catch (err) {
            reject(err);
          }
        }
      },
    });
    parser.on('error', (err: Error) => reject(new DataError(`${label}: not a valid tar archive (${err.message})`)));
    parser.on('end', () => resolve(entries));
    input.on('error', reject);
    input.pipe(parser as unknown as NodeJS.WritableStream);
  });
}

function tarEntryProblem(e: TarEntryInfo): string | undefined {
  const rel = tarRel(e.path);
  if (rel === '' || rel === '.' || rel === './') return e.type === 'Directory' ? undefined : `entry ${quoteName(e.path)} has no name`;
  const reason = unsafePathReason(rel);
  if (reason) return `unsafe entry ${quoteName(e.path)} (${reason})`;
  if (FILE_TYPES.has(e.type) || e.type === 'Directory') return undefined;
  if (e.type === 'SymbolicLink') {
    const target = e.linkpath ?? '';
    // A target with no `..` and not absolute can only name something below the link's own folder, even through
    // other such links; allowing `..` would need the real tree to decide, which a link created earlier can fake.
    if (!target || unsafePathReason(tarRel(target))) {
      return `symbolic link ${quoteName(e.path)} -> ${quoteName(target)} points outside the dataset`;
    }
    return undefined;
  }
  if (e.type === 'Link') {
    const target = tarRel(e.linkpath ?? '');
    if (!target || unsafePathReason(target)) return `hard link ${quoteName(e.path)} -> ${quoteName(e.linkpath ?? '')} points outside the dataset`;
    return undefined;
  }
  return `entry ${quoteName(e.path)} of type ${e.type} is not allowed`;
}

async function extractTar(file: string, dest: string, limits: ArchiveLimits, label: string): Promise<{ files: number; bytes: number }> {
  const entries = await scanTar(file, limits, label);
  const problems: string[] = [];
  let files = 0;
  let bytes = 0;
  for (const e of entries) {
    const problem = tarEntryProblem(e);
    if (problem) problems.push(problem);
    else if (FILE_TYPES.has(e.type)) {
      files++;
      bytes += e.size;
    }
  }
  if (problems.length) refuse(label, problems);
  limitProblem(label, files, bytes, limits);
  try {
    await tarExtract({ file, cwd: dest, strict: true, preserveOwner: false, noChmod: true, maxDepth: 256 });
  } catch (err) {
    throw new DataError(`${label}: could not unpack tar archive (${(err as Error).message})`);
  }
  return { files, bytes };
}
