import { createWriteStream, type WriteStream } from 'node:fs';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { once } from 'node:events';

export interface ManifestEntry {
  size: number;
  etag?: string;
}

/**
 * What a previous run already downloaded, keyed by relative path: one JSON line per completed object, appended
 * as it completes, so a run killed half-way still lets the next one skip what finished. The last line for a
 * path wins. Compacted to one line per path when the run ends.
 */
export class Manifest {
  private out?: WriteStream;
  private constructor(
    private readonly path: string,
    readonly entries: Map<string, ManifestEntry>,
  ) {}

  static async open(path: string): Promise<Manifest> {
    const entries = new Map<string, ManifestEntry>();
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch {
      // No manifest yet: a first run.
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const rec = JSON.parse(line) as { p: string; s: number; e?: string };
        if (typeof rec.p === 'string' && typeof rec.s === 'number') entries.set(rec.p, { size: rec.s, etag: rec.e });
      } catch {
        // A line torn by a kill mid-write; the object is simply fetched again.
      }
    }
    return new Manifest(path, entries);
  }

  record(rel: string, entry: ManifestEntry): void {
    this.entries.set(rel, entry);
    this.out ??= createWriteStream(this.path, { flags: 'a' });
    this.out.write(`${JSON.stringify({ p: rel, s: entry.size, e: entry.etag })}\n`);
  }

  async close(keep?: Set<string>): Promise<void> {
    if (this.out) {
      this.out.end();
      await once(this.out, 'close');
      this.out = undefined;
    }
    const lines: string[] = [];
    for (const [p, e] of this.entries) if (!keep || keep.has(p)) lines.push(JSON.stringify({ p, s: e.size, e: e.etag }));
    const tmp = `${this.path}.tmp`;
    await writeFile(tmp, lines.length ? `${lines.join('\n')}\n` : '');
    await rename(tmp, this.path);
  }
}
