"""Memory: what a model's weights take, what is available, and whether the TFLite converter fits.

The TFLite converter holds about 4.6x a model's float32 weights (measured on GPT-2 large, 3.1 GB of
weights: 15.1 GB). Before any work the plan compares that with the memory available; where it does not
fit, the float TFLite file is written with streamed weights (`tflite_streamed.py`, about 2.3x), and
quantized TFLite variants that do not fit are refused with an error that says how to leave them out.
"""

import gc

from keras_landmarks.errors import ConfigError, ExportError

# Models with more weight bytes than this convert and check their artifacts in child processes (auto).
ISOLATE_BYTES = 256 << 20
# Measured peak of a TFLite conversion: about 4.6x the float32 weights plus the converter's own ~0.7 GB
# (GPT-2 large, 3.1 GB of weights: 15.1 GB; a 2.56 GB embedding table: 10.9 GB).
TFLITE_MEMORY_FACTOR = 4.6
TFLITE_MEMORY_BASE = 0.75e9
# A float TFLite conversion with streamed weights holds about two copies, at the end (GPT-2 large:
# 7.6 GB; GPT-2 XL, 6.2 GB of weights: 14.5 GB).
STREAMED_MEMORY_FACTOR = 2.3
STREAMED_MEMORY_BASE = 0.75e9


def weight_bytes(model):
    """The bytes of the model's variables (each counted once)."""
    from keras_landmarks.export.signature import variable_bytes

    return variable_bytes(model.variables)


def available_memory():
    """Bytes of memory available to a new process (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def release_memory():
    """Collect garbage and hand freed heap pages back to the system (glibc's malloc_trim, where present)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def tflite_streamed(name, weights, tflite_variants, check_memory, stream):
    """Whether the float TFLite file streams its weights; raises when TFLite cannot fit in memory.

    `tflite_variants`: the TFLite variants planned ("none", "fp16", ...)."""
    quantized = [v for v in tflite_variants if v != "none"]
    if stream is not None:
        if stream and quantized:
            raise ConfigError("Streamed weights apply to the float TFLite file only (--quantize none).",
                              key="quantize", value=tuple(tflite_variants))
        return bool(stream)
    available = available_memory() if check_memory else None
    needed = TFLITE_MEMORY_FACTOR * weights + TFLITE_MEMORY_BASE
    if available is None or needed <= available:
        return False
    streamed = STREAMED_MEMORY_FACTOR * weights + STREAMED_MEMORY_BASE
    advice = ("Leave TFLite out (--formats saved_model,onnx), convert on a machine with more memory, or try anyway "
              "with --skip-memory-check.")
    if streamed > available:
        raise ExportError(
            f"{name}: converting to TFLite needs about {needed / 1e9:.1f} GB of memory (the converter holds about "
            f"{TFLITE_MEMORY_FACTOR:g}x the {weights / 1e9:.2f} GB of weights; {streamed / 1e9:.1f} GB with streamed "
            f"weights), and {available / 1e9:.1f} GB is available with the model loaded. {advice}")
    if quantized:
        raise ExportError(
            f"{name}: converting to TFLite needs about {needed / 1e9:.1f} GB of memory (the converter holds about "
            f"{TFLITE_MEMORY_FACTOR:g}x the {weights / 1e9:.2f} GB of weights), and {available / 1e9:.1f} GB is "
            f"available with the model loaded. The float TFLite file can be written with streamed weights "
            f"(about {streamed / 1e9:.1f} GB), the quantized variants {quantized} cannot: leave them out "
            f"(--quantize none). {advice}")
    return "none" in tflite_variants
