"""The `keras-landmarks` command: list, info, and one-line errors with exit code 2."""

import os
import pathlib
import re
import shutil
import subprocess
import sys

import pytest

from keras_landmarks import cli
from keras_landmarks.claims import list_claims

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_list(capsys):
    assert cli.main(["list", "vgg1*"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn",
                                                   "vgg19", "vgg19_bn"]
    assert "138,357,544" in next(line for line in lines if line.startswith("vgg16 "))


def test_info(capsys):
    assert cli.main(["info", "googlenet"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("inception_v1 (alias: googlenet)")
    assert "Going Deeper with Convolutions" in out and "6,998,552" in out
    assert "images (None, 224, 224, 3)" in out and "predictions (None, 1000)" in out


def test_info_summary_builds_with_overrides(capsys):
    assert cli.main(["info", "lenet5", "--summary", "--set", "c3_connections=paper", "--set", "num_classes=3"]) == 0
    out = capsys.readouterr().out
    assert "built    60,211 parameters" in out  # 60,806 - (850 - 255): a 3-way output layer instead of 10
    assert "SparseC3Conv" in out and "predictions (None, 3)" in out


@pytest.mark.parametrize("argv, message", [
    (["info", "resnet5"], r"Unknown model 'resnet5'"),
    (["info", "resnet50", "--set", "depth=37"], r"Received: depth=37"),
    (["info", "resnet50", "--set", "depth"], r"Expected --set key=value"),
    (["info", "vgg16", "--set", "foo=1"], r"Unknown option 'foo'"),
])
def test_errors_are_one_line_with_exit_code_2(argv, message, capsys):
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in err
    assert re.search(message, err)


def test_console_script_exit_codes():
    """The installed command prints a single line on stderr, no TensorFlow start-up noise."""
    exe = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable)) or shutil.which("keras-landmarks")
    assert exe, "the keras-landmarks console script is not installed"
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    bad = subprocess.run([exe, "info", "alexnet", "--set", "dropout=1.5"], capture_output=True, text=True, env=env)
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "keras-landmarks: error: Invalid value for option 'dropout' of model 'alexnet': expected a rate in [0, 1). "
        "Received: dropout=1.5"]
    ok = subprocess.run([exe, "list", "lenet*"], capture_output=True, text=True, env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("lenet5") and ok.stderr == ""
    usage = subprocess.run([exe, "frobnicate"], capture_output=True, text=True, env=env)
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def test_readme_model_table_matches_registry():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start, end = "<!-- model-table:start -->\n", "<!-- model-table:end -->"
    assert start in readme and end in readme, "README.md lacks the model-table markers"
    table = readme.split(start, 1)[1].split(end, 1)[0]
    assert table == cli.model_table(), "README's model table is stale: run `python tools/update_readme.py`"


def test_registry_index_is_current():
    """`list`, `info NAME` and option checks read the index: it must say what the registry says."""
    import json

    from keras_landmarks import index

    assert json.loads(index.dumps(index.build())) == index.load(), (
        "keras_landmarks/registry_index.json is stale: run `python tools/update_readme.py`")


FAST = """
import contextlib, io, sys
sys.argv[0] = "keras-landmarks"  # as the console script runs
from keras_landmarks import cli
for argv in {argvs!r}:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except SystemExit as stop:  # argparse: --help, usage errors
            code = stop.code
    print(code, repr(out.getvalue()[:60]), repr(err.getvalue()[-300:]))
print("tensorflow" in sys.modules, "keras" in sys.modules)
"""


def test_help_list_info_and_option_errors_answer_without_tensorflow():
    argvs = [["--help"], ["convert", "--help"], ["list", "resnet1*"], ["info", "googlenet"], ["frobnicate"],
             ["convert", "resnt50"], ["convert", "lenet5", "--opset", "0"], ["convert", "lenet5", "--formats", "caffe"],
             ["convert", "lenet5", "--batch-size", "0"], ["convert", "lenet5", "--tolerance", "nan"],
             ["serve", "exports/x", "--port", "0"], ["reproduce", "--list"], ["reproduce", "vae-elbow"]]
    result = subprocess.run([sys.executable, "-c", FAST.format(argvs=argvs)], capture_output=True, text=True,
                            cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "False False", result.stdout + result.stderr  # neither TensorFlow nor Keras was imported
    codes = [int(line.split()[0]) for line in lines[:-1]]
    assert codes == [0, 0, 0, 0, 2, 2, 2, 2, 2, 2, 2, 0, 2], result.stdout
    assert "resnet18" in lines[2] and "inception_v1 (alias: googlenet)" in lines[3]
    assert "you mean: resnet50" in lines[5] and "Invalid ONNX opset 0" in lines[6]
    assert "Unknown format 'caffe'" in lines[7] and "Invalid port 0" in lines[10]
    assert list_claims()[0] in lines[11] and "Unknown claim 'vae-elbow'. Did you mean: vae-elbo?" in lines[12]
