import type { CheckAnswer, PythonModuleCheck } from './check.js';
import { parseBridgeLine } from './events.js';
import { cleanLine, LineSplitter } from './lines.js';
import { spawnBridge, type AdoptableBridge, type BridgeChild } from './run.js';

/**
 * A bridge started during preflight with `--preload <module>`: it imports the framework while the trainer stages the
 * dataset, and its `ready` event is the import check. Training then starts in the same process, without importing
 * the framework a second time (seconds for torch-based frameworks).
 */
export interface WarmBridge extends AdoptableBridge {
  /** `ok` with the version once the framework imported; the reason otherwise (the child has then exited). */
  readonly ready: Promise<PythonModuleCheck>;
  /** Asks the framework's `check` (python: `run(train, check=…)`) once it has imported; `error` when it cannot. */
  check(args: readonly string[]): Promise<CheckAnswer>;
  /** Whether this child was started for exactly this interpreter and environment. */
  fits(python: string, env: NodeJS.ProcessEnv): boolean;
  /** Ends a child that will not train (the job failed before training, or it does not fit); a no-op once adopted. */
  dispose(): void;
}

interface WarmBridgeOptions {
  python: string;
  script: string;
  specPath: string;
  /** The framework's import name first, then any more to import ahead. */
  modules: readonly string[];
  env: NodeJS.ProcessEnv;
  cwd: string;
  killGraceMs?: number;
}

type Sink = (chunk: string) => void;

export function startWarmBridge(o: WarmBridgeOptions): WarmBridge {
  const child: BridgeChild = spawnBridge({ python: o.python, script: o.script, args: ['--spec', o.specPath, '--preload', o.modules.join(',')], env: o.env, cwd: o.cwd, ...(o.killGraceMs !== undefined ? { killGraceMs: o.killGraceMs } : {}) }, true);
  const envKey = JSON.stringify(o.env);
  // A child that died first makes the go-ahead an EPIPE; its exit says what happened, through runPythonBridge.
  child.stdin?.on('error', () => undefined);
  const streams = { stdout: child.stdout, stderr: child.stderr, events: child.stdio[3] as NodeJS.ReadableStream | null };
  const buffered: Record<keyof typeof streams, string[]> = { stdout: [], stderr: [], events: [] };
  const sinks: Partial<Record<keyof typeof streams, Sink>> = {};
  let lastStderr = '';
  let adopted = false;
  let settle!: (check: PythonModuleCheck) => void;
  const ready = new Promise<PythonModuleCheck>((resolve) => (settle = resolve));
  const asked = new Map<number, (answer: CheckAnswer) => void>();
  let nextId = 1;
  let exited = false;
  const watchEvents = new LineSplitter((line) => {
    const parsed = parseBridgeLine(line);
    if (!parsed.ok) return;
    const e = parsed.event;
    if (e.event === 'ready') settle({ ok: true, ...(e.version ? { version: e.version } : {}) });
    if (e.event === 'error') settle({ ok: false, error: `${e.type}: ${e.message}` });
    if (e.event === 'checked') answered(e.id, { result: e.result, ...(e.error !== undefined ? { error: e.error } : {}) });
  });
  const watchStderr = new LineSplitter((line) => {
    const clean = cleanLine(line);
    if (clean) lastStderr = clean;
  });
  for (const name of Object.keys(streams) as (keyof typeof streams)[]) {
    const stream = streams[name];
    stream?.setEncoding('utf8');
    stream?.on('data', (c: string) => {
      // Watched until it trains: from then on runPythonBridge parses and judges every line, once.
      if (!adopted && name === 'events') watchEvents.push(c);
      if (!adopted && name === 'stderr') watchStderr.push(c);
      const sink = sinks[name];
      if (sink) sink(c);
      else buffered[name].push(c);
    });
  }
  void child.then((r) => {
    watchEvents.end();
    watchStderr.end();
    exited = true;
    for (const id of [...asked.keys()]) answered(id, { error: lastStderr || `the bridge exited (${r.exitCode ?? r.signal}) before it answered` });
    if (r.exitCode === undefined && !r.signal) settle({ ok: false, error: `cannot run ${o.python}: ${String(r.shortMessage ?? r.message).split('\n')[0]}` });
    else settle({ ok: false, error: lastStderr || `import ${o.modules[0]} failed (exit ${r.exitCode ?? r.signal})` });
  });
  // Once it waits, the child must not keep the trainer alive: a job that fails before training just exits, and
  // the child, seeing EOF on its stdin, exits too. (Until then preflight awaits it, so it holds the event loop.)
  const handles = () => [child, child.stdin, child.stdout, child.stderr, child.stdio[3]] as ({ ref?(): void; unref?(): void } | null | undefined)[];
  let isReady = false;
  // A check asked is awaited: its answer must be able to arrive (the handles held) until it has.
  const hold = () => {
    if (adopted) return;
    const idle = isReady && asked.size === 0;
    for (const h of handles()) {
      if (idle) h?.unref?.();
      else h?.ref?.();
    }
  };
  function answered(id: number, answer: CheckAnswer): void {
    const resolve = asked.get(id);
    if (!resolve) return;
    asked.delete(id);
    resolve(answer);
    hold();
  }
  void ready.then(() => {
    isReady = true;
    hold();
  });

  return {
    child,
    ready,
    check(args) {
      if (exited || adopted) return Promise.resolve({ error: 'the bridge takes no more checks' });
      const id = nextId++;
      const answer = new Promise<CheckAnswer>((resolve) => asked.set(id, resolve));
      hold();
      // Read once the framework has imported; until then the pipe holds it.
      child.stdin?.write(`${JSON.stringify({ id, check: args })}\n`);
      return answer;
    },
    fits: (python, env) => python === o.python && JSON.stringify(env) === envKey,
    adopt(target) {
      adopted = true;
      for (const h of handles()) h?.ref?.();
      for (const name of Object.keys(streams) as (keyof typeof streams)[]) {
        for (const c of buffered[name].splice(0)) target[name](c);
        sinks[name] = target[name];
      }
      child.stdin?.end('go\n');
    },
    dispose() {
      // Not yet training, it holds nothing to save: SIGKILL, so one still importing does not outlive the job by
      // seconds. Adopted, it belongs to runPythonBridge, which has waited for it to end.
      if (adopted) return;
      child.stdin?.end();
      child.kill('SIGKILL');
    },
  };
}
