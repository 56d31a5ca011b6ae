import type { ProgressPayload, ProgressPhase } from '../callbacks/index.js';
import { ConfigError } from '../errors/index.js';

export interface PhaseCounts {
  done: number;
  total: number;
  unit: string;
  bytesDone?: number;
  bytesTotal?: number;
}

/**
 * Progress callbacks for the phases around training (staging, converting, uploading), so the backend always knows
 * where a job is. Each phase sends its start and its end, and in between at most one update per `intervalMs`; the
 * callback client never blocks and keeps only the newest pending one. The seed's fields keep their meaning
 * (status running, epochs as far as known); `phase`, `phase_progress` and `eta_seconds` are added.
 */
export class PhaseProgress {
  private phase?: ProgressPhase;
  private started = 0;
  private lastSent = 0;

  constructor(
    private readonly send: (payload: ProgressPayload) => void,
    private readonly base: () => { job_id: number | string; current_epoch: number; total_epochs: number },
    private readonly intervalMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  update(phase: ProgressPhase, counts: PhaseCounts, opts: { force?: boolean } = {}): void {
    const t = this.now();
    if (phase !== this.phase) {
      this.phase = phase;
      this.started = t;
      this.lastSent = 0;
    }
    const ends = counts.done >= counts.total;
    if (!opts.force && !ends && this.lastSent !== 0 && t - this.lastSent < this.intervalMs) return;
    this.lastSent = t;
    const b = this.base();
    const total = Math.max(1, b.total_epochs);
    this.send({
      job_id: b.job_id,
      status: 'running',
      current_epoch: Math.min(b.current_epoch, total),
      total_epochs: total,
      progress_percent: Math.round((Math.min(b.current_epoch, total) / total) * 10000) / 100,
      metrics: { extra_metrics: {} },
      phase,
      phase_progress: {
        done: counts.done,
        total: counts.total,
        unit: counts.unit,
        ...(counts.bytesDone !== undefined ? { bytes_done: counts.bytesDone } : {}),
        ...(counts.bytesTotal !== undefined ? { bytes_total: counts.bytesTotal } : {}),
      },
      eta_seconds: this.eta(t, counts),
      timestamp: new Date(t).toISOString(),
    });
  }

  /** From the rate so far in this phase (bytes when known, else units); null until there is a rate. */
  private eta(t: number, c: PhaseCounts): number | null {
    if (c.done >= c.total) return 0;
    const elapsed = (t - this.started) / 1000;
    const [done, total] = c.bytesTotal ? [c.bytesDone ?? 0, c.bytesTotal] : [c.done, c.total];
    if (elapsed <= 0 || done <= 0) return null;
    return Math.round(((total - done) * elapsed) / done);
  }
}

/** `PROGRESS_PHASE_INTERVAL_S` (default 10): the least time between two progress callbacks of one phase. */
export function phaseIntervalMs(env: NodeJS.ProcessEnv): number {
  const raw = env['PROGRESS_PHASE_INTERVAL_S'];
  if (raw === undefined || raw === '') return 10_000;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new ConfigError(`PROGRESS_PHASE_INTERVAL_S: expected seconds >= 0, got "${raw}"`);
  return n * 1000;
}
