"""Exceptions a bridge raises, and the `error` event type each failure is reported as."""

EXIT_FAILED = 1
# 128 + SIGTERM, what a shell reports too; the TypeScript side reads it as "stopped cleanly, resumable".
EXIT_INTERRUPTED = 143

# Older torch raises a plain RuntimeError for CUDA OOM; newer ones torch.cuda.OutOfMemoryError.
_OOM_TEXT = ("CUDA out of memory", "CUDA error: out of memory", "HIP out of memory", "MPS backend out of memory")


class BridgeInterrupted(Exception):
    """Raised by `ctx.raise_if_stopped()` after SIGTERM/SIGINT; `safe` never swallows it. The bridge exits 143."""


class ModelUnavailableError(Exception):
    """The model cannot be built or loaded (corrupt weights, not this framework's checkpoint). The TypeScript side
    maps this type name to MODEL_UNAVAILABLE (exit 3, not retried); a network failure while downloading should stay
    an ordinary exception (a retryable failure), or a ModelSourceUnavailableError."""


class ModelSourceUnavailableError(Exception):
    """The model's source (a hub, a weights URL) could not be reached after the framework's own retries. The
    TypeScript side maps it to MODEL_SOURCE_UNAVAILABLE (exit 1, retriable): a later retry of the Job may succeed."""


def error_type(exc):
    """The `type` of the error event: the names the TypeScript side maps, else the exception's own class name."""
    if isinstance(exc, ModelUnavailableError):
        return "ModelUnavailableError"
    if isinstance(exc, ModelSourceUnavailableError):
        return "ModelSourceUnavailableError"
    if isinstance(exc, MemoryError):
        return "MemoryError"
    name = type(exc).__name__
    if name == "OutOfMemoryError" or any(t in str(exc) for t in _OOM_TEXT):
        return "OutOfMemoryError"
    return name
