"""Honour TF_CPP_MIN_LOG_LEVEL for the lines TensorFlow writes while its native library loads.

TensorFlow prints several INFO lines (oneDNN, CUDA stubs) on import, before absl logging is
initialized, and so ignores `TF_CPP_MIN_LOG_LEVEL` for them. When that variable asks for quiet (>= 1),
the file descriptor of stderr is pointed at /dev/null while TensorFlow is imported, and restored after.
Python exceptions raised by the import are unaffected. The `keras-landmarks` command sets the level
to 3 unless the user set it (on a machine without a GPU, TensorFlow logs a CUDA error at start).
"""

import contextlib
import os
import sys


def _cli_process():
    return os.path.basename(sys.argv[0] or "") == "keras-landmarks"


@contextlib.contextmanager
def quiet_tensorflow_import():
    if _cli_process():
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        level = int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "0"))
    except ValueError:
        level = 0
    if level < 1 or "tensorflow" in sys.modules:
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
