"""Run one step of a conversion in a child Python process, so the memory it takes returns at exit.

TensorFlow does not give back what a loaded SavedModel or the TFLite converter allocated (measured:
loading GPT-2 large's SavedModel adds 4.1 GB to a process, and 3.4 GB of it stays after the object is
deleted and collected). A child process gives it all back when it exits. `run` starts
`function(*args)` (given as "module:function", all arguments strings) in a fresh interpreter, waits,
and returns the child's peak resident memory; an error in the child is raised here as ExportError
with the child's message.
"""

import importlib
import os
import pathlib
import subprocess
import sys
import tempfile

from keras_landmarks.errors import ExportError

_ENTRY = "from keras_landmarks.export._child import main; main()"


def run(target, *args, what="a conversion step", scratch=None):
    """Run `target(*args)` in a child process; returns its peak resident memory in bytes."""
    with tempfile.TemporaryDirectory(prefix="keras_landmarks_child_", dir=scratch) as tmp:
        errors, log = os.path.join(tmp, "error.txt"), os.path.join(tmp, "output.txt")
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        with open(log, "wb") as output:
            process = subprocess.Popen([sys.executable, "-c", _ENTRY, errors, target, *map(str, args)],
                                       stdout=output, stderr=subprocess.STDOUT, env=env)
            try:
                _, status, usage = os.wait4(process.pid, 0)
            except BaseException:
                process.kill()
                process.wait()
                raise
            process.returncode = code = os.waitstatus_to_exitcode(status)
        if code == 0:
            return usage.ru_maxrss * 1024
        if os.path.exists(errors):
            raise ExportError(pathlib.Path(errors).read_text().strip())
        if code in (-9, 137):
            raise ExportError(f"{what} was killed in its child process (SIGKILL: most likely out of memory; "
                              f"peak {usage.ru_maxrss / 2**20:,.0f} MB)")
        tail = pathlib.Path(log).read_text(errors="replace").strip().splitlines()[-5:]
        raise ExportError(f"{what} failed in its child process (exit status {code})"
                          + (f": {' | '.join(tail)}" if tail else ""))


def main():
    """The child: `python -c ... ERROR_FILE module:function ARGS...`."""
    error_file, target, *args = sys.argv[1:]
    module, name = target.split(":")
    try:
        getattr(importlib.import_module(module), name)(*args)
    except ExportError as error:
        pathlib.Path(error_file).write_text(str(error))
        sys.exit(3)
    except Exception as error:  # reported to the parent with its type
        pathlib.Path(error_file).write_text(f"{type(error).__name__}: {error}")
        sys.exit(3)
