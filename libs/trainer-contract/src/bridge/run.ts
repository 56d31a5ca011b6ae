import { execa } from 'execa';
import { writeFileSync } from 'node:fs';
import type { Logger } from '../log/index.js';
import {
  InterruptedError,
  ModelSourceUnavailableError,
  ModelUnavailableError,
  OutOfMemoryError,
  StalledError,
  TrainingFailedError,
  type TrainerError,
} from '../errors/index.js';
import { parseBridgeLine, type BridgeEvent, type ErrorBridgeEvent, type TrainEndBridgeEvent } from './events.js';
import { cleanLine, LineSplitter, Tail } from './lines.js';
import { oomKillCount } from './oom.js';
import { tailFile } from './tail-file.js';

/** The exit code a bridge uses after a clean SIGTERM stop (128 + 15, what a shell reports too). */
export const BRIDGE_INTERRUPTED_EXIT = 143;
const TAIL_LINES = 40;
/**
 * Python's network failures (builtins, urllib, http.client, requests, urllib3, huggingface_hub). Before
 * train_start they come from fetching the model (a hub, a weights URL): MODEL_SOURCE_UNAVAILABLE, retriable.
 */
const NETWORK_ERROR_TYPES = new Set([
  'ConnectionError',
  'ConnectionRefusedError',
  'ConnectionResetError',
  'ConnectionAbortedError',
  'BrokenPipeError',
  'TimeoutError',
  'timeout',
  'URLError',
  'HTTPError',
  'RemoteDisconnected',
  'IncompleteRead',
  'ReadTimeout',
  'ConnectTimeout',
  'ChunkedEncodingError',
  'MaxRetryError',
  'ProtocolError',
  'NewConnectionError',
  'LocalEntryNotFoundError',
]);
// torchrun's failure summary for a worker the kernel killed: "exitcode  : -9 (pid: 123)".
const TORCHRUN_WORKER_KILLED = /exitcode\s*:\s*-9\b/;
const OOM_TEXT = /out of memory|OutOfMemoryError|\bMemoryError\b|Cannot allocate memory|std::bad_alloc/i;

export interface RunPythonBridgeOptions {
  python: string;
  script: string;
  args: string[];
  /** The child's whole environment (the parent's is not added implicitly). */
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** Abort = stop at the next safe point: SIGTERM now, SIGKILL after `killGraceMs`. */
  signal: AbortSignal;
  logger: Logger;
  onEvent(event: BridgeEvent): void;
  /** Default 30 s: a checkpoint write of a large model can take that long. */
  killGraceMs?: number;
  /**
   * The stall watchdog (config `stall_timeout_s`): when no event at all (heartbeat, epoch, checkpoint) arrives for
   * this long, the child is stopped (SIGTERM and SIGCONT, SIGKILL after `killGraceMs`) and the run fails STALLED.
   * Unset or 0: no watchdog.
   */
  stallTimeoutMs?: number;
  /**
   * Run the script as `python -m torch.distributed.run <torchrun…> script`: in its own process group, so a stop
   * reaches every rank (and a late SIGKILL every worker), with events read from `eventsPath`.
   */
  torchrun?: string[];
  /** Read events from this file (TRAINER_EVENTS_PATH in the child) instead of fd 3; required with `torchrun`. */
  eventsPath?: string;
  /** A child already started with `--preload` for these options (not with torchrun): it is used instead of a new one. */
  warm?: AdoptableBridge;
}

type SpawnOptions = Pick<RunPythonBridgeOptions, 'python' | 'script' | 'args' | 'env' | 'cwd' | 'killGraceMs' | 'torchrun' | 'eventsPath'>;

/** The bridge child: fd 3 for events (or `eventsPath`), stdin a pipe when it waits there for the go-ahead. */
export function spawnBridge(opts: SpawnOptions, withStdin: boolean) {
  const group = opts.torchrun !== undefined;
  const argv = group ? ['-m', 'torch.distributed.run', ...opts.torchrun!, opts.script, ...opts.args] : ['-u', opts.script, ...opts.args];
  return execa(opts.python, argv, {
    cwd: opts.cwd,
    env: { ...opts.env, PYTHONUNBUFFERED: '1', ...(opts.eventsPath ? { TRAINER_EVENTS_PATH: opts.eventsPath } : {}) },
    extendEnv: false,
    stdio: [withStdin ? 'pipe' : 'ignore', 'pipe', 'pipe', 'pipe'],
    buffer: false,
    reject: false,
    encoding: 'utf8',
    detached: group,
    forceKillAfterDelay: group ? false : (opts.killGraceMs ?? 30_000),
  });
}

export type BridgeChild = ReturnType<typeof spawnBridge>;

/** A bridge started ahead of training (`--preload`), handed to runPythonBridge once its spec is written. */
export interface AdoptableBridge {
  readonly child: BridgeChild;
  /** Routes the child's output to the runner (first what was buffered) and gives it the go-ahead. */
  adopt(sinks: { stdout(c: string): void; stderr(c: string): void; events(c: string): void }): void;
}

export interface PythonBridgeResult {
  trainEnd: TrainEndBridgeEvent;
  events: number;
}

/**
 * Runs one framework bridge (CONTRACT §8) as a child: JSON events on fd 3, its stdout/stderr
 * forwarded as log lines, and every way it can end mapped to one TrainerError.
 */
export async function runPythonBridge(opts: RunPythonBridgeOptions): Promise<PythonBridgeResult> {
  const { logger, signal } = opts;
  if (signal.aborted) throw new InterruptedError('interrupted before training started');

  const tail = new Tail(TAIL_LINES);
  let trainEnd: TrainEndBridgeEvent | undefined;
  let errorEvent: ErrorBridgeEvent | undefined;
  let trainStarted = false;
  let events = 0;
  let stalled: string | undefined;
  const oomBefore = oomKillCount(opts.env);

  const group = opts.torchrun !== undefined;
  const graceMs = opts.killGraceMs ?? 30_000;
  if (opts.eventsPath) writeFileSync(opts.eventsPath, '');
  const warm = opts.warm;
  const child = warm ? warm.child : spawnBridge(opts, false);

  const forward = (stream: 'stdout' | 'stderr') =>
    new LineSplitter((raw) => {
      const line = cleanLine(raw);
      if (!line) return;
      if (stream === 'stderr') tail.push(line);
      logger.info({ src: `python:${stream}` }, line);
    });
  const out = forward('stdout');
  const err = forward('stderr');
  let stallTimer: NodeJS.Timeout | undefined;
  const armWatchdog = () => {
    if (!opts.stallTimeoutMs || stalled) return;
    clearTimeout(stallTimer);
    stallTimer = setTimeout(onStall, opts.stallTimeoutMs);
  };
  const onStall = () => {
    const seconds = Math.round(opts.stallTimeoutMs! / 100) / 10;
    stalled = `no heartbeat or epoch from the framework for ${seconds} s (stall_timeout_s); stopped it`;
    logger.error({ stallTimeoutS: seconds }, `the framework stalled: ${stalled}`);
    if (group) {
      signalGroup('SIGTERM');
      signalGroup('SIGCONT');
      forceKill = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      return;
    }
    child.kill('SIGTERM');
    // A stopped process (SIGSTOP, a debugger) only acts on SIGTERM once continued; SIGKILL follows regardless.
    if (child.pid) {
      try {
        process.kill(child.pid, 'SIGCONT');
      } catch {
        // Already gone.
      }
    }
  };
  const fd3 = new LineSplitter((line) => {
    if (!line.trim()) return;
    armWatchdog();
    const parsed = parseBridgeLine(line);
    if (!parsed.ok) {
      logger.warn({ reason: parsed.reason, line: line.slice(0, 500) }, 'ignored malformed bridge event');
      return;
    }
    events++;
    const event = parsed.event;
    if (event.event === 'train_end') trainEnd = event;
    if (event.event === 'error') errorEvent = event;
    if (event.event === 'train_start') trainStarted = true;
    try {
      opts.onEvent(event);
    } catch (e) {
      // A consumer bug must not take the training down with it; it is logged and training goes on.
      logger.error({ err: e, event: event.event }, 'bridge event handler failed');
    }
  });
  if (warm) {
    // What the waiting child wrote (import warnings, `ready`) is replayed, then the child reads its spec.
    warm.adopt({ stdout: (c) => out.push(c), stderr: (c) => err.push(c), events: (c) => fd3.push(c) });
  } else {
    child.stdout?.setEncoding('utf8').on('data', (c: string) => out.push(c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => err.push(c));
    const eventStream = child.stdio[3] as NodeJS.ReadableStream | undefined;
    eventStream?.setEncoding('utf8');
    eventStream?.on('data', (c: string) => fd3.push(c));
  }
  const eventFile = opts.eventsPath ? tailFile(opts.eventsPath, (c) => fd3.push(c)) : undefined;

  // torchrun and its workers share one process group: the whole group gets the stop, and a late SIGKILL.
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      if (child.pid) process.kill(-child.pid, sig);
    } catch {
      // The group is gone already.
    }
  };
  let forceKill: NodeJS.Timeout | undefined;
  const onAbort = () => {
    logger.info('stopping the framework at its next safe point (SIGTERM)');
    if (!group) {
      child.kill('SIGTERM');
      return;
    }
    signalGroup('SIGTERM');
    forceKill = setTimeout(() => signalGroup('SIGKILL'), graceMs);
  };
  signal.addEventListener('abort', onAbort, { once: true });

  armWatchdog();
  let result;
  try {
    result = await child;
  } finally {
    signal.removeEventListener('abort', onAbort);
    clearTimeout(stallTimer);
    if (forceKill) clearTimeout(forceKill);
    // A worker that outlived torchrun (killed from outside) must not keep the pod alive.
    if (group) signalGroup('SIGKILL');
  }
  await eventFile?.stop();
  out.end();
  err.end();
  fd3.end();

  const exitCode = result.exitCode;
  const killedBy = result.signal;
  if (exitCode === 0 && trainEnd && !stalled) return { trainEnd, events };
  if (stalled) throw new StalledError(`training stalled: ${stalled}`, { detail: tail.all.join('\n') });
  const oomAfter = killedBy === 'SIGKILL' || exitCode === 137 ? oomKillCount(opts.env) : undefined;

  throw outcomeError({
    aborted: signal.aborted,
    exitCode,
    killedBy,
    errorEvent,
    trainStarted,
    tail: tail.all,
    spawnError: exitCode === undefined && !killedBy ? result.message : undefined,
    oomKills: oomBefore !== undefined && oomAfter !== undefined ? { before: oomBefore, after: oomAfter } : undefined,
  });
}

interface Outcome {
  aborted: boolean;
  exitCode?: number;
  killedBy?: string;
  errorEvent?: ErrorBridgeEvent;
  trainStarted?: boolean;
  tail: string[];
  spawnError?: string;
  /** The cgroup's OOM-kill count before the child started and after it died, when readable. */
  oomKills?: { before: number; after: number };
}

function outcomeError(o: Outcome): TrainerError {
  if (o.aborted || o.exitCode === BRIDGE_INTERRUPTED_EXIT || o.killedBy === 'SIGTERM' || o.killedBy === 'SIGINT') {
    return new InterruptedError('training interrupted by signal; the last complete checkpoint is kept');
  }
  if (o.spawnError) return new TrainingFailedError(`could not start the framework: ${firstLine(o.spawnError)}`);

  const tailText = o.tail.join('\n');
  if (o.errorEvent) {
    const { type, message, traceback } = o.errorEvent;
    const text = message.trim() || type;
    const detail = tailLines(traceback || tailText);
    if (type === 'OutOfMemoryError' || type === 'MemoryError' || OOM_TEXT.test(message)) {
      return new OutOfMemoryError(`out of memory: ${firstLine(text)}`, { detail });
    }
    // A bridge that can tell a bad model file from a failed run says so with this type name.
    if (type === 'ModelUnavailableError') return new ModelUnavailableError(firstLine(text));
    if (type === 'ModelSourceUnavailableError' || (!o.trainStarted && NETWORK_ERROR_TYPES.has(type))) {
      return new ModelSourceUnavailableError(`the model could not be fetched (${type}): ${firstLine(text)}`, { detail });
    }
    return new TrainingFailedError(firstLine(text), { detail });
  }
  if (o.killedBy === 'SIGKILL' || o.exitCode === 137 || TORCHRUN_WORKER_KILLED.test(tailText)) {
    const k = o.oomKills;
    if (k && k.after > k.before) {
      return new OutOfMemoryError(`out of memory: the kernel's OOM killer killed the framework (cgroup oom_kill ${k.before} → ${k.after})`, { detail: tailText });
    }
    const why = k ? 'not by the OOM killer: the cgroup oom_kill count did not change' : 'the cgroup memory events are not readable, so an OOM kill cannot be told apart';
    return new TrainingFailedError(`the framework was killed by SIGKILL (${why})`, { detail: tailText });
  }
  if (OOM_TEXT.test(tailText)) {
    const line = [...o.tail].reverse().find((l) => OOM_TEXT.test(l)) ?? 'out of memory';
    return new OutOfMemoryError(`out of memory: ${line}`, { detail: tailText });
  }
  if (o.exitCode === 0) {
    return new TrainingFailedError('the framework exited without finishing training (no train_end event)', {
      detail: tailText,
    });
  }
  const how = o.killedBy ? `was killed by ${o.killedBy}` : `exited with code ${o.exitCode}`;
  const last = o.tail.length ? `: ${o.tail[o.tail.length - 1]}` : '';
  return new TrainingFailedError(`the framework ${how}${last}`, { detail: tailText });
}

function firstLine(text: string): string {
  return text.split('\n').find((l) => l.trim())?.trim() ?? text;
}

function tailLines(text: string): string {
  return text.split('\n').slice(-TAIL_LINES).join('\n');
}
