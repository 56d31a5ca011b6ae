import { copyFileSync, linkSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname } from 'node:path';

export type LinkMode = 'hardlink' | 'symlink' | 'copy';

/** Puts source images where the output layout wants them without copying them when the filesystem allows. */
export class ImageLinker {
  private readonly made = new Set<string>();
  files = 0;
  /** Time spent linking, for the report. */
  writeMs = 0;
  linkMode: LinkMode = 'hardlink';

  /** Hard link, else symlink, else copy; the first fallback sticks so a failing link is not retried per image. */
  link(src: string, dest: string): void {
    const t0 = performance.now();
    const dir = dirname(dest);
    if (!this.made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      this.made.add(dir);
    }
    this.files++;
    try {
      for (;;) {
        try {
          if (this.linkMode === 'hardlink') linkSync(src, dest);
          else if (this.linkMode === 'symlink') symlinkSync(src, dest);
          else copyFileSync(src, dest);
          return;
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          const retryable = code === 'EXDEV' || code === 'EPERM' || code === 'ENOTSUP' || code === 'EMLINK' || code === 'EACCES';
          if (!retryable || this.linkMode === 'copy') throw err;
          this.linkMode = this.linkMode === 'hardlink' ? 'symlink' : 'copy';
        }
      }
    } finally {
      this.writeMs += performance.now() - t0;
    }
  }
}
