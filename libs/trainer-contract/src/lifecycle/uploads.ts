import { copyFile, link, mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../log/index.js';
import type { OutputStore } from './services.js';

/**
 * Uploads checkpoints one at a time in the background, so training never waits for S3. A newer
 * `last.pt` replaces one still waiting, and takes its turn after what was announced before it. Each
 * file is first hard-linked aside (drivers replace checkpoint files by rename, never in place, so the
 * linked inode stays as it was); a copy is the fallback where links are not possible.
 */
export class CheckpointUploader {
  private queue = new Map<string, { path: string; epoch: number }>();
  private running: Promise<void> | undefined;
  private seq = 0;
  readonly uploaded = new Map<string, { epoch: number; uri: string }>();
  readonly failures: string[] = [];

  constructor(
    private readonly store: OutputStore,
    private readonly stagingDir: string,
    private readonly logger: Logger,
  ) {}

  async enqueue(name: string, path: string, epoch: number): Promise<void> {
    await mkdir(this.stagingDir, { recursive: true });
    const staged = join(this.stagingDir, `${this.seq++}-${name}`);
    try {
      await link(path, staged).catch(() => copyFile(path, staged));
    } catch (err) {
      this.logger.warn({ file: path }, `checkpoint ${name} could not be staged for upload: ${(err as Error).message}`);
      return;
    }
    const replaced = this.queue.get(name);
    if (replaced) await rm(replaced.path, { force: true });
    // The newer file goes to the back, behind whatever was announced before it: the store then always holds a
    // prefix of the announced sequence, so a `last` there never names a best epoch whose `best` is not.
    this.queue.delete(name);
    this.queue.set(name, { path: staged, epoch });
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      while (this.queue.size) {
        const [name, item] = this.queue.entries().next().value as [string, { path: string; epoch: number }];
        this.queue.delete(name);
        try {
          const { uri, bytes } = await this.store.upload(item.path, name);
          this.uploaded.set(name, { epoch: item.epoch, uri });
          this.logger.info({ checkpoint: name, epoch: item.epoch, uri, bytes }, `uploaded ${name} (epoch ${item.epoch})`);
        } catch (err) {
          this.failures.push(`${name}: ${(err as Error).message}`);
          this.logger.warn({ checkpoint: name }, `upload of ${name} failed: ${(err as Error).message}`);
        } finally {
          await rm(item.path, { force: true });
        }
      }
    })().finally(() => {
      this.running = undefined;
    });
  }

  async drain(): Promise<void> {
    while (this.running) await this.running;
  }
}
