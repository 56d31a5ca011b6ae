import type { Logger } from '../log/index.js';

export type ProgressListener = (p: { files: number; totalFiles: number; bytes: number; totalBytes: number }) => void;

/**
 * Counts files and bytes and logs them every `intervalMs` as `{progress:{label,done,total,unit}}`, which the
 * pretty logger renders as a bar on a TTY and which stays one JSON line per tick elsewhere.
 */
export class Progress {
  private files = 0;
  private bytes = 0;
  private readonly started = Date.now();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly logger: Logger,
    private readonly label: string,
    private readonly totalFiles: number,
    private readonly totalBytes: number,
    intervalMs = 2000,
    private readonly listener?: ProgressListener,
  ) {
    if (intervalMs > 0) {
      this.timer = setInterval(() => this.log(), intervalMs);
      this.timer.unref();
    }
  }

  add(files: number, bytes: number): void {
    this.files += files;
    this.bytes += bytes;
    this.listener?.({ files: this.files, totalFiles: this.totalFiles, bytes: this.bytes, totalBytes: this.totalBytes });
  }

  log(): void {
    const seconds = Math.max(0.001, (Date.now() - this.started) / 1000);
    const mbps = this.bytes / 1e6 / seconds;
    this.logger.info(
      {
        progress: { label: this.label, done: this.files, total: this.totalFiles, unit: 'files', rate: `${mbps.toFixed(1)} MB/s` },
        bytes: this.bytes,
        totalBytes: this.totalBytes,
        filesPerSecond: Math.round(this.files / seconds),
        mbPerSecond: Number(mbps.toFixed(2)),
      },
      this.label,
    );
  }

  stop(): { seconds: number } {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    return { seconds: (Date.now() - this.started) / 1000 };
  }
}
