// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*(\x07|\x1b\\)|\x1b[@-Z\\-_]/g;

/**
 * A framework's terminal output → plain log lines. Progress bars redraw one line with `\r`;
 * only the last redraw of each line is worth keeping.
 */
export function cleanLine(raw: string): string {
  const noAnsi = raw.replace(ANSI, '');
  const parts = noAnsi.split('\r').filter((p) => p.trim() !== '');
  return (parts.length ? parts[parts.length - 1]! : '').trim();
}

/** Splits a byte stream into lines, keeping the unfinished tail for the next chunk. */
export class LineSplitter {
  private pending = '';
  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: string): void {
    const text = this.pending + chunk;
    const lines = text.split('\n');
    this.pending = lines.pop() ?? '';
    for (const line of lines) this.onLine(line);
  }

  end(): void {
    if (this.pending) this.onLine(this.pending);
    this.pending = '';
  }
}

/** The last `size` lines seen, for error reports. */
export class Tail {
  private readonly lines: string[] = [];
  constructor(private readonly size: number) {}
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > this.size) this.lines.shift();
  }
  get all(): string[] {
    return [...this.lines];
  }
}
