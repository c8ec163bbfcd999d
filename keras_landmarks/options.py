"""Checks of the options that need no model: the same checks and messages for the Python API and the
command line, which runs them before it imports TensorFlow (so a typo answers at once).

Each function returns the value it checked, or raises `ConfigError` naming it and what is allowed.
"""

import math
import os
import pathlib

from keras_landmarks.errors import ConfigError

MAX_BATCH_SIZE = 4096  # a fixed batch beyond this is a typo, not a deployment: refused before any allocation
# ONNX opsets the converter writes (tf2onnx 1.17: up to 18) and every registry model converts at (13
# brings the axis-as-input reductions and the Split the graphs use).
OPSETS = range(13, 19)


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def batch_size(value):
    """None (a dynamic batch) or an integer from 1 to `MAX_BATCH_SIZE`."""
    if value is not None and (not _is_int(value) or not 1 <= value <= MAX_BATCH_SIZE):
        raise ConfigError(f"Invalid batch size {value!r}: expected an integer from 1 to {MAX_BATCH_SIZE:,} "
                          "or 'dynamic'.", key="batch_size", value=value)
    return value


def version(value):
    if not _is_int(value) or value < 1:
        raise ConfigError(f"Invalid version {value!r}: expected a positive integer (TF Serving's version folder).",
                          key="version", value=value)
    return value


def opset(value):
    """None (the default opset) or one of `OPSETS`."""
    if value is not None and (not _is_int(value) or value not in OPSETS):
        raise ConfigError(f"Invalid ONNX opset {value!r}: expected {OPSETS.start} to {OPSETS.stop - 1}.",
                          key="opset", value=value)
    return value


def tolerance(value):
    """None (each precision's gate) or a finite number >= 0 (0 forces a miss, to test the gate)."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                              or not math.isfinite(value) or value < 0):
        raise ConfigError(f"Invalid tolerance {value!r}: expected a finite number >= 0 (the largest max-abs "
                          "error over the output's scale an artifact may have).", key="tolerance", value=value)
    return value


def positive(key, value):
    """None or a positive integer (`sequence_length`, `bench_length`)."""
    if value is not None and (not _is_int(value) or value < 1):
        raise ConfigError(f"Invalid {key.replace('_', ' ')} {value!r}: expected a positive integer.", key=key,
                          value=value)
    return value


def writable_folder(path, what="Output folder", key="out"):
    """`path` as a `pathlib.Path` when it is, or could be created as, a folder this process can write:
    its nearest existing ancestor must be a writable folder."""
    path = pathlib.Path(path)
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"{what} {str(path)!r} is not writable ({str(probe)!r} is not a writable folder).",
                          key=key, value=str(path))
    return path


def port(value):
    if not _is_int(value) or not 1 <= value <= 65535:
        raise ConfigError(f"Invalid port {value!r}: expected 1 to 65535.", key="port", value=value)
    return value


def names(value):
    """A tuple of names from a comma-separated string ("tflite,onnx") or a sequence of names."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(value)


def check_format_names(formats, quantize, table):
    """Check `formats` (format or family names) and `quantize` (variants) against `table`, {format name:
    (family, variant)}; returns both as tuples."""
    formats, quantize = names(formats), names(quantize)
    known = {}
    for family, variant in table.values():
        known.setdefault(family, []).append(variant)
    unknown = [f for f in formats if f not in table and f not in known]
    if unknown or not formats:
        allowed = ", ".join(dict.fromkeys([*known, *table]))
        raise ConfigError(f"Unknown format {unknown[0] if unknown else '(none)'!r}. Allowed: {allowed}",
                          key="formats", value=formats)
    variants = tuple(dict.fromkeys(variant for _, variant in table.values()))
    bad = [q for q in quantize if q not in variants]
    if bad or not quantize:
        raise ConfigError(f"Unknown quantization {bad[0] if bad else '(none)'!r}. Allowed: {', '.join(variants)}",
                          key="quantize", value=quantize)
    return formats, quantize
