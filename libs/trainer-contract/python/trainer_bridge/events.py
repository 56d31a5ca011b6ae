"""The event channel to the TypeScript side: one JSON object per line.

The channel is fd 3 (`TRAINER_EVENTS_FD` names another), or the file or FIFO at `TRAINER_EVENTS_PATH`: under
torchrun the workers do not inherit the parent's descriptors, so the path travels in the environment instead. Only
rank 0 (`RANK` unset or 0) writes, so a distributed run reports each epoch once.
"""

import json
import math
import os
import sys
import threading

_DROP = object()


def log(msg):
    """A line on stderr, which the trainer passes through to its log."""
    sys.stderr.write(f"[bridge] {msg}\n")
    sys.stderr.flush()


def is_rank0(env):
    return env.get("RANK", "").strip() in ("", "0")


def _clean(value):
    """JSON cannot carry NaN/inf: such numbers are left out (in a list they become null)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else _DROP
    if isinstance(value, dict):
        cleaned = ((str(k), _clean(v)) for k, v in value.items())
        return {k: v for k, v in cleaned if v is not _DROP}
    if isinstance(value, (list, tuple)):
        return [None if v is _DROP else v for v in map(_clean, value)]
    if value is None or isinstance(value, (str, int)):
        return value
    # numpy and torch scalars: numbers, not the strings json's default=str would make of them.
    if hasattr(value, "__float__"):
        try:
            return _clean(float(value))
        except (TypeError, ValueError):
            return str(value)
    return value


class EventWriter:
    """Thread-safe (frameworks call hooks from their own threads). A failure to report never aborts training: the
    first one is said on stderr, and later events are still tried."""

    def __init__(self, env=None):
        env = os.environ if env is None else env
        self._lock = threading.Lock()
        self._out = None
        self._failed = False
        self.enabled = is_rank0(env)
        if not self.enabled:
            return
        path = env.get("TRAINER_EVENTS_PATH")
        where = path or f"fd {env.get('TRAINER_EVENTS_FD', '3')}"
        try:
            if path:
                self._out = open(path, "a", buffering=1, encoding="utf-8")
            else:
                fd = int(env.get("TRAINER_EVENTS_FD", "3"))
                self._out = os.fdopen(fd, "w", buffering=1, encoding="utf-8", closefd=False)
        except (OSError, ValueError) as e:
            log(f"the event channel ({where}) cannot be opened ({type(e).__name__}: {e}); bridge events are discarded")

    def emit(self, event, **fields):
        """Writes one event; returns whether it was written."""
        if self._out is None:
            return False
        try:
            line = json.dumps({"event": event, **_clean(fields)}, allow_nan=False, default=str)
            with self._lock:
                self._out.write(line + "\n")
                self._out.flush()
            return True
        except Exception as e:  # noqa: BLE001 - reporting must never take training down
            with self._lock:
                first, self._failed = not self._failed, True
            if first:
                log(f"could not send the {event} event (training continues): {type(e).__name__}: {e}")
            return False
