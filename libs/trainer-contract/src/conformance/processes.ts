import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** pid → parent pid and state, for every process we may read (Linux /proc). */
function processTable(): Map<number, { ppid: number; state: string }> {
  const table = new Map<number, { ppid: number; state: string }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // `pid (comm) state ppid …`: comm may hold spaces and parentheses, so read after the last ')'.
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), { ppid: Number(ppid), state: state ?? '' });
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** Every live descendant of `pid`: for a trainer, its framework process and whatever that started. */
export function descendantsOf(pid: number): number[] {
  const table = processTable();
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const parent = queue.shift()!;
    for (const [child, info] of table) {
      if (info.ppid === parent && info.state !== 'Z') {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

export function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface Launched {
  child: ChildProcess;
  exited(): boolean;
  done: Promise<Exited>;
}

/** Starts a command with exactly `env`, collecting its output; kills it (and its descendants) after `timeoutMs`. */
export function launch(command: readonly string[], args: readonly string[], opts: { env: NodeJS.ProcessEnv; cwd: string; timeoutMs: number }): Launched {
  const child = spawn(command[0]!, [...command.slice(1), ...args], { cwd: opts.cwd, env: opts.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let exited = false;
  let timedOut = false;
  child.stdout!.setEncoding('utf8').on('data', (c: string) => (stdout += c));
  child.stderr!.setEncoding('utf8').on('data', (c: string) => (stderr += c));
  const timer = setTimeout(() => {
    timedOut = true;
    if (child.pid) for (const pid of descendantsOf(child.pid)) killQuietly(pid, 'SIGKILL');
    child.kill('SIGKILL');
  }, opts.timeoutMs);
  const done = new Promise<Exited>((resolve) => {
    child.on('error', (err) => {
      stderr += `\n(conformance: could not start ${command.join(' ')}: ${err.message})`;
    });
    child.on('close', (code, signal) => {
      exited = true;
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
  return { child, exited: () => exited, done };
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
