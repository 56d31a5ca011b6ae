import { pino, type Logger as PinoLogger, type LevelWithSilent } from 'pino';
import { Writable } from 'node:stream';
import { redact } from './redact.js';

export type Logger = PinoLogger;
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'];

export interface LoggerOptions {
  level?: LogLevel;
  /** Human-readable lines with a live progress line instead of JSON; default: whether `stream` is a TTY. */
  pretty?: boolean;
  /** Where lines go; default stdout. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean };
  name?: string;
}

/**
 * JSON lines for machines, readable text for people. Every line passes through the redactor after
 * serialisation, so a secret cannot leak through any field, nested object or error message.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const stream = options.stream ?? process.stdout;
  const pretty = options.pretty ?? Boolean(stream.isTTY);
  const destination = pretty ? new PrettyStream(stream) : new RedactingStream(stream);
  return pino(
    {
      level: (options.level ?? 'info') as LevelWithSilent,
      name: options.name,
      base: undefined,
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  );
}

class RedactingStream extends Writable {
  constructor(private readonly out: NodeJS.WritableStream) {
    super({ decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.out.write(redact(chunk.toString()));
    done();
  }
}

const LEVEL_TAGS: Record<string, string> = {
  trace: '\x1b[90mTRACE\x1b[0m',
  debug: '\x1b[90mDEBUG\x1b[0m',
  info: '\x1b[32m INFO\x1b[0m',
  warn: '\x1b[33m WARN\x1b[0m',
  error: '\x1b[31mERROR\x1b[0m',
  fatal: '\x1b[41mFATAL\x1b[0m',
};

/**
 * Renders pino's JSON as `12:00:01  INFO message key=value`. A line with a `progress` object
 * ({label, done, total, unit?}) becomes a single self-overwriting progress bar instead.
 */
class PrettyStream extends Writable {
  private barShown = false;
  constructor(private readonly out: NodeJS.WritableStream) {
    super({ decodeStrings: false });
  }
  override _write(chunk: string | Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    for (const line of redact(chunk.toString()).split('\n')) {
      if (line) this.render(line);
    }
    done();
  }
  private render(line: string): void {
    let rec: Record<string, unknown>;
    try {
      rec = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.out.write(line + '\n');
      return;
    }
    const { time, level, msg, progress, name: _name, ...rest } = rec;
    if (progress && typeof progress === 'object') {
      this.out.write('\r\x1b[K' + renderBar(progress as ProgressInfo, String(msg ?? '')));
      this.barShown = true;
      return;
    }
    if (this.barShown) {
      this.out.write('\n');
      this.barShown = false;
    }
    const clock = typeof time === 'string' ? time.slice(11, 19) : '';
    const fields = Object.entries(rest)
      .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
      .join(' ');
    this.out.write(`${clock} ${LEVEL_TAGS[String(level)] ?? String(level)} ${String(msg ?? '')}${fields ? '  \x1b[90m' + fields + '\x1b[0m' : ''}\n`);
  }
}

interface ProgressInfo {
  label?: string;
  done: number;
  total: number;
  unit?: string;
  rate?: string;
}

function renderBar(p: ProgressInfo, msg: string): string {
  const width = 30;
  const ratio = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(ratio * width);
  const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
  const pct = (ratio * 100).toFixed(0).padStart(3);
  return `${p.label ?? msg} ${bar} ${pct}% ${p.done}/${p.total}${p.unit ? ' ' + p.unit : ''}${p.rate ? ' ' + p.rate : ''}`;
}
