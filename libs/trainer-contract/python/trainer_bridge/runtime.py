"""`run(train)`: one training job, from `--spec` to the exit code, and the `ctx` the framework's code reports through."""

import argparse
import importlib
import json
import os
import select
import signal
import sys
import time
import traceback
from pathlib import Path

from .checkpoints import publish
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, BridgeInterrupted, error_type
from .events import EventWriter, log
from .hooks import safe
from .numbers import numbers, to_float

CHECKPOINT_KINDS = ("last", "best")
DEFAULT_HEARTBEAT_S = 30.0
TRACEBACK_CHARS = 8000


class StopFlag:
    """SIGTERM/SIGINT only set this flag: the framework's loop stops at its next step boundary, so no checkpoint
    write is cut in half and the previous epoch's checkpoint stays resumable."""

    def __init__(self):
        self.requested = False

    def request(self, signum, _frame):
        if not self.requested:
            log(f"received signal {signum}; stopping at the next step")
        self.requested = True


class Context:
    """What `train(ctx)` gets. Every method is safe to call from any rank; only rank 0 reports."""

    log = staticmethod(log)
    safe = staticmethod(safe)

    def __init__(self, spec, spec_path, events, stop, env):
        self.spec = spec
        self.is_rank0 = events.enabled
        self.snapshot_dir = Path(spec.get("snapshot_dir") or Path(spec_path).resolve().parent / "checkpoint-snapshots")
        self.ended = False
        self._events = events
        self._stop = stop
        self._beat_every = _seconds(env.get("TRAINER_HEARTBEAT_S"), DEFAULT_HEARTBEAT_S)
        self._last_beat = None

    # --- stopping -----------------------------------------------------------------------------------------------

    def should_stop(self):
        return self._stop.requested

    def raise_if_stopped(self, *_args):
        """Call at step boundaries (it takes and ignores arguments, so it can be registered as a framework hook)."""
        if self._stop.requested:
            raise BridgeInterrupted("stopped by signal")

    def raise_if_any_rank_stopped(self, world):
        """`raise_if_stopped` agreed by every rank of `world` (a trainer_bridge.World) at the same step: call it
        where all ranks step together, as DDP's collectives need."""
        if world.any(self._stop.requested):
            raise BridgeInterrupted("stopped by signal")

    def any_rank_stopped(self, world):
        """`should_stop` agreed by every rank of `world` at the same step, for frameworks that stop by returning
        (a final save, then train returns): a rank whose own signal has not come yet stops with the others, and then
        exits 143 like them instead of reporting a finished run."""
        if world.any(self._stop.requested):
            self._stop.requested = True
        return self._stop.requested

    # --- events -------------------------------------------------------------------------------------------------

    def train_start(self, epochs, start_epoch=0, save_dir="", **extra):
        """`start_epoch` is the number of epochs already done (0, or where a resume continues)."""
        self._events.emit("train_start", epochs=int(epochs), start_epoch=int(start_epoch), save_dir=str(save_dir), **extra)

    def epoch_end(self, epoch, metrics, lr=None, epoch_time=None, **extra):
        """Once per epoch, 1-based. `epochs=N` in extra updates the total (time budgets re-estimate it)."""
        self._events.emit(
            "epoch_end", epoch=int(epoch), metrics=numbers(metrics), lr=numbers(lr), epoch_time=to_float(epoch_time), **extra
        )

    def checkpoint(self, kind, path, epoch, replaced_by_rename=False):
        """Publishes a complete copy of the checkpoint file at `path`, then announces it; returns the copy's path
        (None on ranks other than 0). Call it only once the framework has finished writing `path`.
        `replaced_by_rename`: the framework never rewrites `path` in place, it renames a new file over it; the
        snapshot is then a hard link instead of a copy."""
        if kind not in CHECKPOINT_KINDS:
            raise ValueError(f"checkpoint kind must be one of {CHECKPOINT_KINDS}, got {kind!r}")
        if not self.is_rank0:
            return None
        published = publish(path, self.snapshot_dir, kind, link=replaced_by_rename)
        self._events.emit("checkpoint", kind=kind, path=str(published), epoch=int(epoch))
        return published

    def train_end(self, best_epoch, final_metrics, save_dir, best=None, last=None, **extra):
        """`final_metrics` are the best epoch's; `best`/`last` name the finished checkpoint files when known."""
        self.ended = True
        self._events.emit(
            "train_end",
            best_epoch=int(best_epoch),
            final_metrics=numbers(final_metrics),
            save_dir=str(save_dir),
            best=None if best is None else str(best),
            last=None if last is None else str(last),
            **extra,
        )

    def heartbeat(self, step):
        """A liveness signal for the stall watchdog, sent at most every TRAINER_HEARTBEAT_S seconds (default 30):
        cheap enough to call every step."""
        now = time.monotonic()
        if self._last_beat is not None and now - self._last_beat < self._beat_every:
            return False
        self._last_beat = now
        return self._events.emit("heartbeat", step=int(step))


def run(train, argv=None, check=None):
    """Runs `train(ctx)` for the spec named by `--spec` and exits: 0 done, 143 stopped by signal, 1 failed (after an
    `error` event).

    `check(*args)` answers a question the trainer asks the framework before training (is this a model name timm
    has?) with a JSON-able value: in the preloaded bridge, whose import it shares, or with `--check '["arg", ...]'`
    in a bridge of its own (under torchrun there is no preloaded one). Either way the answer is a `checked` event."""
    code = _main(train, sys.argv[1:] if argv is None else argv, check)
    if code == 0 and not _still_working():
        # Everything is reported and written. The interpreter's teardown (torch's modules and finalizers) takes a
        # second or more and reports nothing: the job would only finish later.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    sys.exit(code)


def _still_working():
    """A thread the interpreter would wait for, or a child process (a data-loader worker) only a normal exit shuts
    down: then the bridge exits the slow way."""
    import threading

    if any(t.is_alive() and not t.daemon and t is not threading.main_thread() for t in threading.enumerate()):
        return True
    if "multiprocessing" in sys.modules:
        import multiprocessing

        return bool(multiprocessing.active_children())
    return False


def _main(train, argv, check=None):
    env = os.environ
    events = EventWriter(env)
    stop = StopFlag()
    signal.signal(signal.SIGTERM, stop.request)
    signal.signal(signal.SIGINT, stop.request)
    ctx = None
    try:
        spec_path, preload, check_args = _parse_args(argv)
        if check_args is not None:
            # Its own process: the answer is the one line on stdout.
            sys.stdout.write(json.dumps({"event": "checked", "id": 0, **_answer(check, check_args)}) + "\n")
            return 0
        if preload:
            _preload(preload, events, stop, check)
        ctx = Context(_read_spec(spec_path), spec_path, events, stop, env)
        train(ctx)
    except (BridgeInterrupted, KeyboardInterrupt):
        log("interrupted; the last complete checkpoint is kept")
        return EXIT_INTERRUPTED
    except BaseException as e:  # noqa: BLE001 - every failure must reach the TypeScript side as an event
        if isinstance(e, SystemExit) and e.code in (0, None):
            raise
        # A stop that surfaces as another exception (a data-loader worker killed by the same signal, say).
        if stop.requested:
            log(f"interrupted ({type(e).__name__}: {e})")
            return EXIT_INTERRUPTED
        tb = traceback.format_exc()
        sys.stderr.write(tb)
        events.emit("error", type=error_type(e), message=str(e), traceback=tb[-TRACEBACK_CHARS:])
        return EXIT_FAILED
    if stop.requested and not ctx.ended:
        log("stopped by signal before training finished; the last complete checkpoint is kept")
        return EXIT_INTERRUPTED
    return 0


class _ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise ValueError(f"bridge arguments: {message}")


def _parse_args(argv):
    parser = _ArgumentParser(prog="bridge.py", description="Runs one training job for a trainer (CONTRACT section 8).")
    parser.add_argument("--spec", help="the job's JSON spec, written by the trainer")
    parser.add_argument("--check", help="answer one check (a JSON list of its arguments) on stdout, then exit")
    parser.add_argument(
        "--preload", help="import these modules (comma-separated, the framework first), say `ready`, then wait for a line on stdin before reading the spec"
    )
    args = parser.parse_args(argv)
    if args.check is not None:
        check_args = json.loads(args.check)
        if not isinstance(check_args, list):
            raise ValueError("bridge arguments: --check takes a JSON list")
        return None, None, check_args
    if args.spec is None:
        parser.error("the following arguments are required: --spec")
    return args.spec, args.preload, None


def _answer(check, args):
    if check is None:
        return {"error": "this bridge answers no checks"}
    try:
        return {"result": check(*args)}
    except Exception as e:  # noqa: BLE001 - the trainer decides what a failed check means
        return {"error": f"{type(e).__name__}: {e}"}


def _preload(module, events, stop, check=None):
    """Imports the framework (and the other modules listed) while the trainer still prepares the job (its import check and the dataset), says
    `ready` with its version, then waits for the go-ahead: one line on stdin once the spec is written. Before it, a
    line `{"id": N, "check": [...]}` is a check, answered with a `checked` event. EOF means the trainer is gone (the
    job failed before training): nothing to do."""
    framework, *more = module.split(",")
    m = importlib.import_module(framework)
    for name in more:
        importlib.import_module(name)
    events.emit("ready", module=framework, version=str(getattr(m, "__version__", "") or ""))
    pending = b""
    while True:
        if b"\n" not in pending:
            readable, _, _ = select.select([sys.stdin], [], [], 0.2)
            # A stop wins over whatever came in with it (a trainer that stops closes the pipe too).
            if stop.requested:
                raise BridgeInterrupted("stopped before training started")
            if not readable:
                continue
            # os.read, not readline: a buffered reader could hold a second line where select cannot see it.
            chunk = os.read(sys.stdin.fileno(), 65536)
            if not chunk:
                raise SystemExit(0)
            pending += chunk
            continue
        line, pending = pending.split(b"\n", 1)
        if not line.startswith(b"{"):
            return
        request = json.loads(line)
        events.emit("checked", id=int(request.get("id", 0)), **_answer(check, request.get("check") or []))


def _read_spec(path):
    with open(path, encoding="utf-8") as f:
        spec = json.load(f)
    if not isinstance(spec, dict):
        raise ValueError(f"spec {path}: expected a JSON object, got {type(spec).__name__}")
    return spec


def _seconds(text, default):
    try:
        value = float(text) if text not in (None, "") else default
    except ValueError:
        log(f"TRAINER_HEARTBEAT_S={text!r} is not a number of seconds; using {default}")
        return default
    return max(0.0, value)
