import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createLogger } from '../log/index.js';
import { InterruptedError, OutOfMemoryError, TrainingFailedError } from '../errors/index.js';
import { failureOf } from '../testing/failure.js';
import { runPythonBridge, checkPythonModule, type BridgeEvent } from './index.js';

const PYTHON = '/usr/bin/python3';
let dir: string;

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l));
      done();
    },
  });
  return { logger: createLogger({ stream, pretty: false, level: 'debug' }), lines };
}

function script(name: string, body: string): string {
  const path = join(dir, name);
  writeFileSync(path, `import json, os, sys, signal, time\nout = os.fdopen(3, "w", buffering=1)\ndef emit(**e):\n    out.write(json.dumps(e) + "\\n")\n${body}\n`);
  return path;
}

async function run(path: string, opts: { signal?: AbortSignal; killGraceMs?: number; stallTimeoutMs?: number; env?: NodeJS.ProcessEnv; onEvent?: (e: BridgeEvent) => void } = {}) {
  const { logger, lines } = capture();
  const events: BridgeEvent[] = [];
  const promise = runPythonBridge({
    python: PYTHON,
    script: path,
    args: ['--flag', 'x'],
    env: { PATH: process.env.PATH, ...opts.env },
    cwd: dir,
    signal: opts.signal ?? new AbortController().signal,
    logger,
    killGraceMs: opts.killGraceMs,
    stallTimeoutMs: opts.stallTimeoutMs,
    onEvent: (e) => {
      events.push(e);
      opts.onEvent?.(e);
    },
  });
  return { promise, events, lines };
}


beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bridge-spec-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('runPythonBridge', () => {
  it('delivers valid events in order, ignores malformed ones and forwards cleaned output', async () => {
    const path = script(
      'ok.py',
      `
assert sys.argv[1:] == ["--flag", "x"], sys.argv
emit(event="train_start", epochs=2, start_epoch=0, save_dir="/r")
out.write("not json\\n")
emit(event="epoch_end", epoch="one")
print("\\x1b[34mEpoch\\x1b[0m 1/2 " + "\\r  10%" + "\\r 100% done\\x1b[K")
emit(event="epoch_end", epoch=1, metrics={"a": 0.5}, lr={"lr/pg0": 0.01}, epoch_time=1.5)
emit(event="checkpoint", kind="last", path="/r/last.pt", epoch=1)
sys.stderr.write("a warning\\n")
emit(event="train_end", best_epoch=1, final_metrics={"a": 0.5}, save_dir="/r")
`,
    );
    const { promise, events, lines } = await run(path);
    const result = await promise;
    expect(result.trainEnd).toMatchObject({ best_epoch: 1, final_metrics: { a: 0.5 }, save_dir: '/r' });
    expect(events.map((e) => e.event)).toEqual(['train_start', 'epoch_end', 'checkpoint', 'train_end']);
    expect(events[1]).toEqual({ event: 'epoch_end', epoch: 1, metrics: { a: 0.5 }, lr: { 'lr/pg0': 0.01 }, epoch_time: 1.5 });
    const msgs = lines.map((l) => l['msg']);
    expect(msgs).toContain('100% done');
    expect(msgs.some((m) => String(m).includes('\x1b') || String(m).includes('\r'))).toBe(false);
    expect(msgs).toContain('a warning');
    expect(lines.filter((l) => l['msg'] === 'ignored malformed bridge event')).toHaveLength(2);
  });

  it('keeps training when the event handler throws', async () => {
    const path = script('handler.py', `emit(event="epoch_end", epoch=1, metrics={})\nemit(event="train_end", best_epoch=1, final_metrics={}, save_dir="/r")`);
    const { promise, lines } = await run(path, {
      onEvent: () => {
        throw new Error('consumer bug');
      },
    });
    await expect(promise).resolves.toMatchObject({ events: 2 });
    expect(lines.filter((l) => l['msg'] === 'bridge event handler failed')).toHaveLength(2);
  });

  it('maps an error event to TrainingFailedError with the message and the traceback as detail', async () => {
    const path = script(
      'crash.py',
      `emit(event="error", type="RuntimeError", message="boom at epoch 2", traceback="Traceback (most recent call last):\\n  File x\\nRuntimeError: boom at epoch 2")\nsys.exit(1)`,
    );
    const err = await failureOf((await run(path)).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toBe('boom at epoch 2');
    expect(err.exitCode).toBe(1);
    expect(err.detail).toContain('RuntimeError: boom at epoch 2');
  });

  it('maps CUDA OOM to OutOfMemoryError', async () => {
    const path = script(
      'oom.py',
      `emit(event="error", type="OutOfMemoryError", message="CUDA out of memory. Tried to allocate 2.00 GiB", traceback="...")\nsys.exit(1)`,
    );
    const err = await failureOf((await run(path)).promise);
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.code).toBe('OUT_OF_MEMORY');
    expect(err.message).toContain('CUDA out of memory');
  });

  it('maps a ModelUnavailableError event to MODEL_UNAVAILABLE (exit 3)', async () => {
    const path = script('badmodel.py', `emit(event="error", type="ModelUnavailableError", message="cannot load model /m/w.pt: UnpicklingError: bad", traceback="")\nsys.exit(1)`);
    const err = await failureOf((await run(path)).promise);
    expect(err.code).toBe('MODEL_UNAVAILABLE');
    expect(err.exitCode).toBe(3);
    expect(err.message).toBe('cannot load model /m/w.pt: UnpicklingError: bad');
  });

  it('maps a network failure before train_start (the model download) to MODEL_SOURCE_UNAVAILABLE, retriable', async () => {
    const early = script('hubdown.py', `emit(event="error", type="ConnectionError", message="HTTPSConnectionPool(host='github.com'): Max retries exceeded", traceback="")\nsys.exit(1)`);
    const err = await failureOf((await run(early)).promise);
    expect(err.code).toBe('MODEL_SOURCE_UNAVAILABLE');
    expect(err.exitCode).toBe(1);
    expect(err.retriable).toBe(true);
    expect(err.message).toBe("the model could not be fetched (ConnectionError): HTTPSConnectionPool(host='github.com'): Max retries exceeded");
    const explicit = script('explicit.py', `emit(event="train_start", epochs=1, start_epoch=0, save_dir="/r")\nemit(event="error", type="ModelSourceUnavailableError", message="hub down", traceback="")\nsys.exit(1)`);
    expect((await failureOf((await run(explicit)).promise)).code).toBe('MODEL_SOURCE_UNAVAILABLE');
    const late = script('late.py', `emit(event="train_start", epochs=1, start_epoch=0, save_dir="/r")\nemit(event="error", type="ConnectionError", message="reset", traceback="")\nsys.exit(1)`);
    expect((await failureOf((await run(late)).promise)).code).toBe('TRAINING_FAILED');
  });

  // The kernel's OOM killer cannot be made to strike on cue here, so a file of the cgroup's `oom_kill N` form stands
  // in for memory.events; the child bumps the count just before it dies, as the kernel would.
  it('maps a SIGKILL to OUT_OF_MEMORY when the cgroup oom_kill count went up meanwhile', async () => {
    const events = join(dir, 'memory.events.oom');
    writeFileSync(events, 'low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n');
    const path = script('oomkilled.py', `open(${JSON.stringify(events)}, "w").write("oom 2\\noom_kill 2\\n")\nos.kill(os.getpid(), signal.SIGKILL)`);
    const err = await failureOf((await run(path, { env: { TRAINER_OOM_EVENTS_FILE: events } })).promise);
    expect(err).toBeInstanceOf(OutOfMemoryError);
    expect(err.message).toBe("out of memory: the kernel's OOM killer killed the framework (cgroup oom_kill 1 → 2)");
    expect(err.exitCode).toBe(1);
    expect(err.retriable).toBe(true);
  });

  it('maps a SIGKILL that the OOM killer did not send to TRAINING_FAILED', async () => {
    const events = join(dir, 'memory.events.quiet');
    writeFileSync(events, 'oom 0\noom_kill 0\n');
    const path = script('killed.py', `os.kill(os.getpid(), signal.SIGKILL)`);
    const err = await failureOf((await run(path, { env: { TRAINER_OOM_EVENTS_FILE: events } })).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toBe('the framework was killed by SIGKILL (not by the OOM killer: the cgroup oom_kill count did not change)');
    const unreadable = await failureOf((await run(path, { env: { TRAINER_OOM_EVENTS_FILE: join(dir, 'absent') } })).promise);
    expect(unreadable.code).toBe('TRAINING_FAILED');
    expect(unreadable.message).toMatch(/cannot be told apart/);
  });

  it('stops a child that sends nothing for stallTimeoutMs (SIGSTOPped) and fails STALLED', async () => {
    const pidFile = join(dir, 'frozen.pid');
    const path = script(
      'frozen.py',
      `open(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\nemit(event="train_start", epochs=5, start_epoch=0, save_dir="/r")\nos.kill(os.getpid(), signal.SIGSTOP)\ntime.sleep(60)`,
    );
    const started = Date.now();
    const err = await failureOf((await run(path, { stallTimeoutMs: 800, killGraceMs: 500 })).promise);
    expect(err.code).toBe('STALLED');
    expect(err.exitCode).toBe(1);
    expect(err.retriable).toBe(true);
    expect(err.message).toMatch(/no heartbeat or epoch from the framework for 0.8 s/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(800);
    const { readFileSync } = await import('node:fs');
    expect(() => process.kill(Number(readFileSync(pidFile, 'utf8')), 0)).toThrow();
  });

  it('keeps a child alive while its heartbeats arrive within stallTimeoutMs', async () => {
    const path = script(
      'beating.py',
      `emit(event="train_start", epochs=1, start_epoch=0, save_dir="/r")\nfor i in range(8):\n    time.sleep(0.2)\n    emit(event="heartbeat", step=i)\nemit(event="train_end", best_epoch=1, final_metrics={}, save_dir="/r")`,
    );
    const { promise, events } = await run(path, { stallTimeoutMs: 1000 });
    await promise;
    expect(events.filter((e) => e.event === 'heartbeat')).toHaveLength(8);
  });

  it('maps a silent non-zero exit to TrainingFailedError naming the code and the last stderr line', async () => {
    const path = script('exit3.py', `sys.stderr.write("first\\nSegmentation fault in foo\\n")\nsys.exit(7)`);
    const err = await failureOf((await run(path)).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toBe('the framework exited with code 7: Segmentation fault in foo');
    expect(err.detail).toContain('first');
  });

  it('treats a clean exit without train_end as a failure', async () => {
    const path = script('noend.py', `emit(event="train_start", epochs=1, start_epoch=0, save_dir="/r")`);
    const err = await failureOf((await run(path)).promise);
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toMatch(/without finishing/);
  });

  it('on abort sends SIGTERM and reports InterruptedError when the child stops itself', async () => {
    const marker = join(dir, 'got-term');
    const path = script(
      'term.py',
      `
def on_term(*_):
    open(${JSON.stringify(marker)}, "w").write("term")
    os._exit(143)
signal.signal(signal.SIGTERM, on_term)
emit(event="train_start", epochs=5, start_epoch=0, save_dir="/r")
time.sleep(60)
`,
    );
    const ac = new AbortController();
    const { promise } = await run(path, {
      signal: ac.signal,
      onEvent: (e) => {
        if (e.event === 'train_start') ac.abort();
      },
    });
    const err = await failureOf(promise);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(err.exitCode).toBe(143);
    const { readFileSync } = await import('node:fs');
    expect(readFileSync(marker, 'utf8')).toBe('term');
  });

  it('SIGKILLs a child that ignores SIGTERM after the grace period', async () => {
    const pidFile = join(dir, 'stubborn.pid');
    const path = script(
      'stubborn.py',
      `signal.signal(signal.SIGTERM, signal.SIG_IGN)\nopen(${JSON.stringify(pidFile)}, "w").write(str(os.getpid()))\nemit(event="train_start", epochs=5, start_epoch=0, save_dir="/r")\ntime.sleep(60)`,
    );
    const ac = new AbortController();
    const { promise } = await run(path, {
      signal: ac.signal,
      killGraceMs: 300,
      onEvent: (e) => {
        if (e.event === 'train_start') ac.abort();
      },
    });
    const err = await failureOf(promise);
    expect(err).toBeInstanceOf(InterruptedError);
    const { readFileSync } = await import('node:fs');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    expect(() => process.kill(pid, 0)).toThrow();
  });

  it('does not start when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const path = script('never.py', `open(${JSON.stringify(join(dir, 'ran'))}, "w")`);
    await expect((await run(path, { signal: ac.signal })).promise).rejects.toBeInstanceOf(InterruptedError);
    const { existsSync } = await import('node:fs');
    expect(existsSync(join(dir, 'ran'))).toBe(false);
  });

  it('reports a missing interpreter as a training failure', async () => {
    const { logger } = capture();
    const err = await failureOf(
      runPythonBridge({
        python: join(dir, 'no-such-python'),
        script: 'x.py',
        args: [],
        env: {},
        cwd: dir,
        signal: new AbortController().signal,
        logger,
        onEvent: () => undefined,
      }),
    );
    expect(err).toBeInstanceOf(TrainingFailedError);
    expect(err.message).toMatch(/could not start the framework/);
  });
});

describe('checkPythonModule', () => {
  it('returns the version of an importable module', async () => {
    writeFileSync(join(dir, 'fakemod.py'), '__version__ = "1.2.3"\n');
    const r = await checkPythonModule(PYTHON, 'fakemod', { PYTHONPATH: dir });
    expect(r).toEqual({ ok: true, version: '1.2.3' });
  });

  it('returns the import error of a missing module', async () => {
    const r = await checkPythonModule(PYTHON, 'no_such_module_xyz', {});
    expect(r.ok).toBe(false);
    expect(r.error).toBe("ModuleNotFoundError: No module named 'no_such_module_xyz'");
  });

  it('reports an interpreter that cannot run', async () => {
    const r = await checkPythonModule(join(dir, 'nope', 'python'), 'json', {});
    expect(r.ok).toBe(false);
    expect(r.error).toMatch(/^cannot run /);
  });
});
