"""`verify` trusts nothing in the folder it checks.

Each case damages a copy of a real export and expects exit code 1 with one line naming what is wrong,
never a traceback:

- the manifest: not JSON, not an object, no artifact list, an artifact without its hash, an unknown format;
- the parity inputs: missing, not a zip, holding a pickled object, holding no case;
- paths that leave the export folder: an artifact at `../../etc/passwd` (even with that file's real hash),
  parity inputs outside, external data outside, a link out of the folder;
- an artifact its runtime cannot run, whose hash was updated to match.
"""

import hashlib
import json
import shutil

import numpy as np
import pytest

from keras_landmarks.cli import main
from keras_landmarks.export import convert


@pytest.fixture(scope="module")
def export(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    convert("lenet5", formats=("onnx",), out=out, progress=False)
    return out / "lenet5"


def _manifest(folder):
    return json.loads((folder / "manifest.json").read_text())


def _write(folder, manifest):
    (folder / "manifest.json").write_text(json.dumps(manifest))


def _not_json(folder):
    (folder / "manifest.json").write_text("{ nope")
    return "not valid JSON"


def _a_list(folder):
    (folder / "manifest.json").write_text("[1, 2]")
    return "expected a JSON object, found a list"


def _no_artifacts(folder):
    m = _manifest(folder)
    del m["artifacts"]
    _write(folder, m)
    return "no 'artifacts' list"


def _no_hash(folder):
    m = _manifest(folder)
    del m["artifacts"][0]["sha256"]
    _write(folder, m)
    return "artifact 0 lacks or mistypes sha256"


def _unknown_format(folder):
    m = _manifest(folder)
    m["artifacts"][0]["artifact"] = "caffe"
    _write(folder, m)
    return "unknown format 'caffe'"


def _parity_missing(folder):
    (folder / "parity.npz").unlink()
    return "parity inputs are missing"


def _parity_not_a_zip(folder):
    (folder / "parity.npz").write_bytes(b"\x00" * 100)
    return "unreadable parity inputs"


def _parity_pickled(folder):
    np.savez(folder / "parity.npz", **{"seed0_batch1/input/images": np.array([{"a": 1}], dtype=object)})
    return "unreadable parity inputs"


def _parity_empty(folder):
    np.savez(folder / "parity.npz")
    return "holds no complete parity case"


def _artifact_outside(folder):
    target = folder.parent / "passwd"
    target.write_text("root:x:0:0\n")
    m = _manifest(folder)
    m["artifacts"][0]["path"] = "../passwd"
    m["artifacts"][0]["sha256"] = hashlib.sha256(target.read_bytes()).hexdigest()
    _write(folder, m)
    return "artifact '../passwd' leaves the export folder"


def _absolute_artifact(folder):
    m = _manifest(folder)
    m["artifacts"][0]["path"] = "/etc/passwd"
    _write(folder, m)
    return "artifact '/etc/passwd' leaves the export folder"


def _parity_outside(folder):
    m = _manifest(folder)
    m["parity_inputs"]["file"] = "../../parity.npz"
    _write(folder, m)
    return "parity inputs '../../parity.npz' leaves the export folder"


def _external_data_outside(folder):
    m = _manifest(folder)
    m["artifacts"][0]["external_data"] = [{"path": "../weights.data", "sha256": "0" * 64}]
    _write(folder, m)
    return "external data '../weights.data' leaves the export folder"


def _link_out(folder):
    outside = folder.parent / "elsewhere.onnx"
    shutil.copy(folder / "lenet5.onnx", outside)
    (folder / "lenet5.onnx").unlink()
    (folder / "lenet5.onnx").symlink_to(outside)
    return "artifact 'lenet5.onnx' leaves the export folder"


def _cannot_run(folder):
    (folder / "lenet5.onnx").write_bytes(b"not an onnx graph")
    m = _manifest(folder)
    m["artifacts"][0]["sha256"] = hashlib.sha256(b"not an onnx graph").hexdigest()
    _write(folder, m)
    return "onnx: lenet5.onnx does not run in onnxruntime"


@pytest.mark.parametrize("damage", [_not_json, _a_list, _no_artifacts, _no_hash, _unknown_format, _parity_missing,
                                    _parity_not_a_zip, _parity_pickled, _parity_empty, _artifact_outside,
                                    _absolute_artifact, _parity_outside, _external_data_outside, _link_out,
                                    _cannot_run], ids=lambda f: f.__name__.strip("_"))
def test_a_damaged_export_fails_verify_with_one_line(export, tmp_path, capsys, damage):
    folder = tmp_path / "box" / "lenet5"
    shutil.copytree(export, folder)
    assert main(["verify", str(folder)]) == 0  # the copy verifies before it is damaged
    capsys.readouterr()
    expected = damage(folder)
    assert main(["verify", str(folder)]) == 1
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1 and "Traceback" not in err, err
