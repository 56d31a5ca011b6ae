import type { SentEvent } from '../callbacks/index.js';
import type { Logger } from '../log/index.js';
import type { OutputStore } from './services.js';

const EVENT_RECORD_FILE = 'events.jsonl';

/** One line of `checkpoints/<job_id>/events.jsonl`. */
interface RecordedEvent {
  /** 1, 2, 3… across every attempt of the job. */
  seq: number;
  webhook_id: string;
  kind: SentEvent['kind'];
  recorded_at: string;
  payload: unknown;
}

/**
 * Every event sent to the backend, in order, next to the checkpoints (CONTRACT §6), so a backend that missed
 * callbacks can reconcile from one object. S3 cannot append, so the whole file is rewritten after each event; writes
 * run one at a time in the background and coalesce, so sending never waits for S3. An event whose webhook-id is
 * already recorded (a resumed job redoing an epoch) is not recorded twice: the backend dedupes on the same id.
 * Events sent before the output store is known (staging) are held and written once it is.
 */
export class EventRecord {
  private readonly lines: string[] = [];
  private readonly ids = new Set<string>();
  private seq = 0;
  private store?: OutputStore;
  private disabled = false;
  private dirty = false;
  private writing?: Promise<void>;

  constructor(private readonly logger: Logger) {}

  add(event: SentEvent): void {
    if (this.disabled || this.ids.has(event.webhookId)) return;
    this.ids.add(event.webhookId);
    const line: RecordedEvent = { seq: ++this.seq, webhook_id: event.webhookId, kind: event.kind, recorded_at: new Date().toISOString(), payload: event.payload };
    this.lines.push(JSON.stringify(line));
    if (this.store) this.schedule();
  }

  /** Continues the record an earlier attempt left in `store`, then writes what was held. */
  async open(store: OutputStore): Promise<void> {
    if (this.store || this.disabled) return;
    let earlier: string | null;
    try {
      earlier = await store.getText(EVENT_RECORD_FILE);
    } catch (err) {
      // Never overwrite a record that could not be read: a backend reconciling from it would lose the earlier events.
      this.disabled = true;
      this.logger.warn(`event record: could not read ${store.uriFor(EVENT_RECORD_FILE)} (${(err as Error).message}); not recording events this attempt`);
      return;
    }
    const held = this.lines.splice(0);
    this.ids.clear();
    this.seq = 0;
    for (const text of (earlier ?? '').split('\n')) {
      if (!text.trim()) continue;
      try {
        const e = JSON.parse(text) as RecordedEvent;
        this.ids.add(e.webhook_id);
        this.seq = Math.max(this.seq, e.seq);
        this.lines.push(text);
      } catch {
        this.logger.warn('event record: skipped a line of the earlier record that is not JSON');
      }
    }
    for (const text of held) {
      const e = JSON.parse(text) as RecordedEvent;
      if (this.ids.has(e.webhook_id)) continue;
      this.ids.add(e.webhook_id);
      this.lines.push(JSON.stringify({ ...e, seq: ++this.seq }));
    }
    this.store = store;
    if (this.lines.length) this.schedule();
  }

  get opened(): boolean {
    return this.store !== undefined;
  }

  private schedule(): void {
    this.dirty = true;
    if (this.writing) return;
    this.writing = (async () => {
      while (this.dirty) {
        this.dirty = false;
        const text = this.lines.join('\n') + '\n';
        try {
          await this.store!.putText(EVENT_RECORD_FILE, text);
        } catch (err) {
          this.logger.warn(`event record: ${(err as Error).message}`);
        }
      }
    })().finally(() => {
      this.writing = undefined;
    });
  }

  /** Waits until the newest state is written (or `timeoutMs` passes). */
  async flush(timeoutMs = 60_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, timeoutMs);
      timer.unref();
    });
    try {
      while (this.writing) {
        const done = await Promise.race([this.writing.then(() => true), timeout.then(() => false)]);
        if (!done) {
          this.logger.warn('event record: not fully written before exit');
          return;
        }
      }
    } finally {
      clearTimeout(timer);
    }
  }
}
