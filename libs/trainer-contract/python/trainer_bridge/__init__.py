"""The Python half of every trainer (CONTRACT section 8), written once.

A framework's bridge.py holds only framework code:

    from trainer_bridge import run

    def train(ctx):
        ctx.train_start(epochs=..., start_epoch=0, save_dir=...)
        for epoch in ...:
            for step in ...:
                ctx.raise_if_stopped()      # SIGTERM: stop here, at a step boundary
                ctx.heartbeat(step)         # throttled liveness signal
            ctx.checkpoint("last", path, epoch)   # published atomically, then announced
            ctx.epoch_end(epoch, metrics, lr=..., epoch_time=...)
        ctx.train_end(best_epoch, final_metrics, save_dir, best=..., last=...)

    if __name__ == "__main__":
        run(train)

`run` reads `--spec`, opens the event channel, installs the SIGTERM/SIGINT flag, calls `train(ctx)` and maps
whatever happens to an exit code and, for failures, an `error` event the TypeScript side turns into a TrainerError.
Standard library only; Python 3.11.
"""

from .checkpoints import publish
from .distributed import World
from .errors import EXIT_FAILED, EXIT_INTERRUPTED, BridgeInterrupted, ModelSourceUnavailableError, ModelUnavailableError
from .events import log
from .hooks import safe
from .numbers import numbers, to_float
from .results import read_results, write_results
from .threads import use_cpu_threads
from .runtime import Context, run

__all__ = [
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "BridgeInterrupted",
    "Context",
    "ModelSourceUnavailableError",
    "ModelUnavailableError",
    "World",
    "log",
    "numbers",
    "publish",
    "read_results",
    "run",
    "safe",
    "to_float",
    "use_cpu_threads",
    "write_results",
]
