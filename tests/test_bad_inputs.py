"""Bad input gets one line naming the value and what is allowed, the documented exit code, and no
traceback; nothing half-written is left in `--out`.

Exit codes: 0 success; 1 a check failed (parity, `verify`) or the machine failed (a full disk);
2 bad input; 130 interrupted. The cases, by where they enter:

- sizes: an override beyond a tensor dimension (`--set num_classes=100000000000`), one whose weights
  cannot be allocated (`num_classes=1000000000`: 336 GB), a batch size beyond `MAX_BATCH_SIZE`
  (`--batch-size 100000000`);
- options: `--opset 0` (outside `OPSETS`), `--tolerance -1` and `nan`, `--representative-data` when no
  int8 is asked for, `serve --port 70000`, a port already taken, `serve` of a folder without a
  SavedModel, `train --out` naming a file, `list --family` / `--task` naming none there is, a `--judge`
  for a model that is not a generator, with no quantized format, or that is not a classifier run; a
  recipe option of the wrong kind or out of range (`train --option segment=-5`, `initial_accumulator=abc`,
  `critic_steps=0`), refused before the run folder is made;
- calibration data: an empty set, arrays of the wrong shape, NaN values, a pickle, a single `.npy` array, a missing file;
- model files: an empty, a text and a truncated `.keras` file;
- the API: `formats="onnx"` as a string, `version=True`, `batch_size=True`;
- the machine: a full disk (ENOSPC) mid-conversion; Ctrl-C mid-conversion (exit 130); a conversion
  killed with SIGKILL, whose temporary files (autograph's sources) the next conversion removes.

`verify`'s cases (damaged manifests, parity files, paths that leave the folder) are in
tests/export/test_verify_damaged.py.
"""

import errno
import pickle
import socket

import numpy as np
import pytest

from keras_landmarks import ConfigError
from keras_landmarks.cli import main
from keras_landmarks.export import convert, plan


def _run(capsys, argv):
    code = main(argv)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    return code, err


def _npz(tmp_path, name="cal.npz", **arrays):
    path = tmp_path / name
    np.savez(path, **arrays)
    return str(path)


def _cases(tmp_path):
    images = np.zeros((4, 32, 32, 1), "float32")
    pickled = tmp_path / "cal.pkl"
    pickled.write_bytes(pickle.dumps({"images": images}))
    npy = tmp_path / "cal.npy"
    np.save(npy, images)
    out = ["--out", str(tmp_path / "out")]
    int8 = ["convert", "lenet5", "--formats", "tflite", "--quantize", "int8", *out, "--representative-data"]
    return [
        (["info", "lenet5", "--set", "num_classes=100000000000"], 2, "beyond the largest size a tensor dimension"),
        (["info", "lenet5", "--set", "num_classes=1000000000"], 2, "num_classes=1000000000 does not fit in memory"),
        (["convert", "lenet5", "--batch-size", "100000000", *out], 2, "expected an integer from 1 to 4,096"),
        (["convert", "lenet5", "--opset", "0", *out], 2, "Invalid ONNX opset 0: expected 13 to 18"),
        (["convert", "lenet5", "--tolerance", "-1", *out], 2, "Invalid tolerance -1.0"),
        (["convert", "lenet5", "--tolerance", "nan", *out], 2, "Invalid tolerance nan"),
        (["convert", "lenet5", "--representative-data", "nope.npz", *out], 2, "calibrates int8 artifacts"),
        ([*int8, _npz(tmp_path, "empty.npz", images=images[:0])], 2, "holds no sample"),
        ([*int8, _npz(tmp_path, images=np.zeros((4, 28, 28, 1), "float32"))], 2,
         "array 'images' has samples of shape [28, 28, 1] (float32); lenet5 takes [32, 32, 1]"),
        ([*int8, _npz(tmp_path, "nan.npz", images=np.full((2, 32, 32, 1), np.nan, "float32"))], 2,
         "sample 0: Input 'images' has values that are not finite numbers"),
        ([*int8, str(pickled)], 2, "is not a readable .npz file"),
        ([*int8, str(npy)], 2, "is a single .npy array"),
        ([*int8, str(tmp_path / "missing.npz")], 2, "No such representative data file"),
        (["serve", str(tmp_path), "--port", "70000"], 2, "Invalid port 70000: expected 1 to 65535"),
        (["serve", str(tmp_path)], 2, "holds no SavedModel (expected saved_model/<version>/saved_model.pb)"),
        (["train", "lenet5", "--data", "digits", "--out", str(npy)], 2, f"Run folder {str(npy)!r} is not writable"),
        (["list", "--family", "resnets"], 2,
         "Unknown family 'resnets'. Allowed: alexnet, alphago, alphago_zero, bert,"),
        (["list", "--task", "detection"], 2, "Unknown task 'detection'. Allowed: "),
        (["convert", "lenet5", "--formats", "tflite", "--quantize", "int8", "--judge", str(tmp_path), *out], 2,
         "A judge gates generators (a model with a latent input); lenet5's inputs are images."),
        (["convert", "dcgan", "--judge", str(tmp_path), *out], 2,
         "A judge gates quantized generators, and none is asked for"),
        (["convert", "dcgan", "--formats", "tflite", "--quantize", "int8", "--judge", str(tmp_path), *out], 2,
         f"Invalid judge {str(tmp_path)!r}: a folder written by `keras-landmarks train` for a classifier"),
        (["train", "transformer_xl", "--data", "text_corpus", "--option", "segment=-5", *out], 2,
         "Invalid value for recipe option 'segment' of transformer_xl: expected an integer >= 2"),
        (["train", "glove", "--data", "text_corpus", "--option", "initial_accumulator=abc", *out], 2,
         "Invalid value for recipe option 'initial_accumulator' of glove: expected a finite number >= 0"),
        (["train", "wgan_toy", "--data", "gaussians8", "--option", "critic_steps=0", *out], 2,
         "Invalid value for recipe option 'critic_steps' of wgan_toy: expected an integer >= 1"),
    ]


@pytest.mark.parametrize("index", range(24))
def test_cli_bad_input_is_one_line_with_its_exit_code(tmp_path, capsys, index):
    argv, expected_code, message = _cases(tmp_path)[index]
    code, err = _run(capsys, argv)
    assert (code, message in err) == (expected_code, True), err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("content", [b"", b"a text file, not a model\n", "truncated"])
def test_a_keras_file_that_is_not_one(tmp_path, capsys, content):
    import keras_landmarks

    path = tmp_path / "model.keras"
    if content == "truncated":
        keras_landmarks.build("lenet5").save(path)
        path.write_bytes(path.read_bytes()[:2000])
    else:
        path.write_bytes(content)
    code, err = _run(capsys, ["convert", str(path), "--out", str(tmp_path / "out")])
    assert code == 2 and "is not a .keras file Keras can load" in err and "model.keras" in err
    assert "File not found" not in err and err.count("\n") == 1, err


def test_a_port_in_use_is_refused_before_the_model_loads(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, err = _run(capsys, ["serve", str(tmp_path), "--port", str(port)])  # tmp_path holds no model
    assert code == 2 and f"Cannot serve on 127.0.0.1:{port}" in err


def test_api_options(tmp_path):
    assert [f.name for f in plan.select_formats("onnx", "none")] == ["onnx"]
    assert [f.name for f in plan.select_formats("tflite, onnx", "none,int8")] == [
        "tflite", "tflite_int8", "onnx", "onnx_int8"]
    for bad in ({"version": True}, {"batch_size": True}, {"opset": 12}, {"tolerance": float("inf")}):
        with pytest.raises(ConfigError):
            convert("lenet5", formats="onnx", out=tmp_path, progress=False, **bad)
    with pytest.raises(ConfigError, match="holds no sample"):  # not the checkout's exports/, which the main job fills
        convert("lenet5", formats="tflite", quantize="int8", representative_data=[], out=tmp_path, progress=False)


def test_a_full_disk_mid_conversion_is_one_line_and_leaves_nothing(tmp_path, capsys, monkeypatch):
    from keras_landmarks.export import parity

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "out" / "parity.npz"))

    monkeypatch.setattr(parity, "save_cases", no_space)
    code, err = _run(capsys, ["convert", "lenet5", "--formats", "onnx", "--out", str(tmp_path / "out")])
    assert code == 1 and "No space left on device" in err
    assert list((tmp_path / "out").iterdir()) == []  # the conversion's work folder is gone


def test_ctrl_c_stops_the_conversion_and_leaves_nothing(tmp_path):
    """The interrupt is never swallowed by the converter: exit 130, and `--out` holds nothing."""
    import os
    import shutil
    import signal
    import subprocess
    import sys

    exe = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable))
    out = tmp_path / "out"
    process = subprocess.Popen([exe, "convert", "lenet5", "--formats", "saved_model,tflite,onnx", "--out", str(out)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    seen = []
    for line in process.stderr:  # the conversion is under way once its first step is announced
        seen.append(line)
        if line.startswith("[1/"):
            process.send_signal(signal.SIGINT)
            break
    rest = process.stderr.read()
    assert process.wait(timeout=300) == 130, "".join(seen) + rest
    assert "interrupted" in rest and "Traceback" not in rest, rest
    assert not out.exists() or list(out.iterdir()) == []


def test_a_killed_conversion_leaves_temporary_files_the_next_one_removes(tmp_path):
    """SIGKILL skips every exit handler: autograph's generated sources stay in the killed conversion's own
    temporary folder, which the next conversion removes."""
    import os
    import shutil
    import signal
    import subprocess
    import sys

    exe = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable))
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    out = tmp_path / "out"
    process = subprocess.Popen([exe, "convert", "lenet5", "--formats", "saved_model,onnx", "--out", str(out)],
                               stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    for line in process.stderr:
        if line.startswith("[2/"):
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=300)
    own = tmp_path / f"keras_landmarks_tmp.{process.pid}"
    assert own.is_dir() and any(own.rglob("*.py"))  # autograph's sources, in the killed run's folder only
    done = subprocess.run([exe, "convert", "lenet5", "--formats", "onnx", "--out", str(out)], capture_output=True,
                          text=True, env=env)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not own.exists() and not list(tmp_path.glob("keras_landmarks_tmp.*"))  # and its own folder is gone too
