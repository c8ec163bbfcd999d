"""Honour TF_CPP_MIN_LOG_LEVEL for what TensorFlow's and LiteRT's native code prints regardless of it.

TensorFlow prints several INFO lines (oneDNN, CUDA stubs) while its native library loads, before absl
logging is initialized; LiteRT, which bundles its own runtime, prints them again when it loads, and
the TFLite converter and interpreter print INFO lines of their own ("Created TensorFlow Lite XNNPACK
delegate", the calibrator's settings). None of them obeys `TF_CPP_MIN_LOG_LEVEL`. When that variable
asks for quiet (>= 1), `native_output_muted()` points the stdout/stderr file descriptors at /dev/null
around such calls and restores them after. Python exceptions (and their messages) are unaffected.
The `keras-landmarks` command sets the level to 3 unless the user set it (on a machine without a
GPU, TensorFlow logs a CUDA error at start).
"""

import contextlib
import os
import sys
import warnings


def _cli_process():
    return os.path.basename(sys.argv[0] or "") == "keras-landmarks"


def _quiet_requested():
    if _cli_process():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0")) >= 1
    except ValueError:
        return False


@contextlib.contextmanager
def native_output_muted(fds=(1, 2)):
    """Mute native writes to `fds` (and library Python warnings) while TF_CPP_MIN_LOG_LEVEL >= 1."""
    if not _quiet_requested():
        yield
        return
    sys.stdout.flush()
    sys.stderr.flush()
    saved = {fd: os.dup(fd) for fd in fds}
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in fds:
            os.dup2(devnull, fd)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        os.close(devnull)


@contextlib.contextmanager
def quiet_tensorflow_import():
    if "tensorflow" in sys.modules:
        yield
        return
    with native_output_muted(fds=(2,)):
        yield
