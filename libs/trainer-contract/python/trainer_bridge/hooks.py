"""Guarding the bridge's own code that runs inside the framework's loop."""

import functools
import threading

from .errors import BridgeInterrupted
from .events import log

_failed = set()
_lock = threading.Lock()


def safe(fn, name=None):
    """Wraps a hook so that a bug in it never aborts training: the first failure of each hook is logged, later ones
    are silent, and the hook returns None. A stop request (BridgeInterrupted) still goes through."""
    label = name or getattr(fn, "__name__", "hook")

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except BridgeInterrupted:
            raise
        except Exception as e:  # noqa: BLE001
            with _lock:
                first = label not in _failed
                _failed.add(label)
            if first:
                log(f"hook {label} failed (training continues): {type(e).__name__}: {e}")
            return None

    return wrapper
