import { readFileSync } from 'node:fs';

/**
 * How many times the kernel's OOM killer has killed a process in our memory cgroup, or undefined when that cannot
 * be read. A SIGKILLed child is an OOM kill when this count went up while it ran: the only trace the kernel leaves
 * that the trainer can read without privileges. cgroup v2 keeps it in `memory.events`, v1 in `memory.oom_control`;
 * inside a container both are mounted at the cgroup's own root. `TRAINER_OOM_EVENTS_FILE` names another file of
 * the same `oom_kill N` form.
 */
export function oomKillCount(env: NodeJS.ProcessEnv = process.env): number | undefined {
  for (const file of candidates(env)) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    const m = /^oom_kill\s+(\d+)\s*$/m.exec(text);
    if (m) return Number(m[1]);
  }
  return undefined;
}

function candidates(env: NodeJS.ProcessEnv): string[] {
  if (env['TRAINER_OOM_EVENTS_FILE']) return [env['TRAINER_OOM_EVENTS_FILE']];
  const out: string[] = [];
  let own: { v2?: string; v1?: string } = {};
  try {
    own = parseProcCgroup(readFileSync('/proc/self/cgroup', 'utf8'));
  } catch {
    // Not Linux: only the fixed paths below, which will not exist either.
  }
  if (own.v2 && own.v2 !== '/') out.push(`/sys/fs/cgroup${own.v2}/memory.events`);
  out.push('/sys/fs/cgroup/memory.events');
  if (own.v1 && own.v1 !== '/') out.push(`/sys/fs/cgroup/memory${own.v1}/memory.oom_control`);
  out.push('/sys/fs/cgroup/memory/memory.oom_control');
  return out;
}

function parseProcCgroup(text: string): { v2?: string; v1?: string } {
  const out: { v2?: string; v1?: string } = {};
  for (const line of text.split('\n')) {
    const [id, controllers, path] = line.split(':');
    if (path === undefined) continue;
    if (id === '0' && controllers === '') out.v2 = path;
    else if (controllers?.split(',').includes('memory')) out.v1 = path;
  }
  return out;
}
