"""Metric values as the events carry them: finite floats under trimmed string keys."""

import math


def to_float(value):
    """A finite float, or None (JSON cannot carry NaN/inf, and a tensor or numpy scalar converts here)."""
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def numbers(mapping):
    """{key: finite float}; keys are trimmed (CSV headers are padded) and values that are not numbers are left out."""
    out = {}
    for key, value in (mapping or {}).items():
        f = to_float(value)
        if f is not None:
            out[str(key).strip()] = f
    return out
