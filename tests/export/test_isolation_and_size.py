"""What lets big models convert: TFLite in a child process, ONNX external data, the memory check.

The mechanisms are exercised on small models (forced on); the full-size conversions that need them
(GPT-2 large: 3.1 GB of weights) are in `test_full_size.py` behind the `large` marker.
"""

import importlib
import importlib.util
import json
import pathlib
import shutil

import keras
import numpy as np
import onnx
import pytest
import tensorflow as tf

import keras_landmarks
from keras_landmarks import ExportError
from keras_landmarks.cli import main
from keras_landmarks.export import convert_onnx, onnx as onnx_export
from keras_landmarks.export import convert, memory
from keras_landmarks.inputs import sample_inputs
from keras_landmarks.export.onnx import OnnxRunner
from keras_landmarks.export.parity import FLOAT_TOLERANCE
from keras_landmarks.export.saved_model import write_saved_model
from keras_landmarks.export.signature import keras_outputs, relative_error
from keras_landmarks.export.tflite import TFLiteRunner, convert_tflite_file
from keras_landmarks.export.verification import verify

GPT2_SMALL = keras_landmarks.registry.get_spec("gpt2").test_config


def test_tflite_in_a_child_process(tmp_path):
    manifest = convert("lenet5", formats=("saved_model", "tflite"), quantize=("none", "int8"), out=tmp_path,
                       isolate=True, progress=False)
    tflite = [a for a in manifest["artifacts"] if a["format"] == "tflite"]
    assert [a["variant"] for a in tflite] == ["none", "int8"]
    for art in tflite:
        assert art["process"] == "child" and art["peak_memory_mb"] > 50
        assert art["parity"]["passed"] and art["builtin_ops_only"]
    for art in manifest["artifacts"]:  # each artifact was loaded and run in a child process too
        assert art["parity_peak_memory_mb"] > 50 and all(ms > 0 for ms in art["latency_ms"].values())
        assert art["parity"]["cases"] == 6
    assert max(a["parity"]["max_error"] for a in manifest["artifacts"] if a["variant"] == "none") < 1e-5
    assert FLOAT_TOLERANCE < tflite[1]["parity"]["max_error"] < 1  # int8 differs, measurably: real outputs came back
    assert manifest["peak_memory_mb_child_processes"] == max(a["peak_memory_mb"] for a in tflite)
    assert [p.name for p in tmp_path.iterdir()] == ["lenet5"]  # no scratch SavedModel or calibration file left


def test_small_models_convert_in_process(tmp_path):
    manifest = convert("lenet5", formats=("tflite",), out=tmp_path, progress=False)
    assert "process" not in manifest["artifacts"][0] and "peak_memory_mb_child_processes" not in manifest


def _needs_flex():
    inputs = keras.Input((3, 3), name="matrices")
    outputs = keras.layers.Lambda(lambda m: tf.linalg.det(m), name="det")(inputs)
    return keras.Model(inputs, outputs, name="determinant")


def test_child_process_reports_the_converter_error(tmp_path):
    model = _needs_flex()
    saved = write_saved_model(model, tmp_path / "sm")
    target = tmp_path / "det.tflite"
    with pytest.raises(ExportError, match=r"TFLite conversion \(none\) failed \(only TFLite built-in ops are allowed"):
        convert_tflite_file(saved, target, ["matrices"], isolate=True)
    assert not target.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sm"]  # the child's scratch folder is gone


def test_child_process_writes_a_working_file(tmp_path):
    model = keras_landmarks.build("lenet5")
    saved = write_saved_model(model, tmp_path / "sm")
    peak = convert_tflite_file(saved, tmp_path / "m.tflite", ["images"], isolate=True)
    assert peak > 50e6
    x = np.random.default_rng(0).normal(size=(1, 32, 32, 1)).astype("float32")
    got = TFLiteRunner(path=tmp_path / "m.tflite")({"images": x})["predictions"]
    assert relative_error(got, model(x).numpy()) < 1e-5


def test_onnx_external_data(tmp_path, monkeypatch):
    model = keras_landmarks.build("gpt2", **GPT2_SMALL)
    inputs = sample_inputs(model, batch=2, seed=0, length=8)
    expected = keras_outputs(model, inputs)
    path = convert_onnx(model, path=tmp_path / "g.onnx", external_data=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.onnx", "g.onnx.data"]
    proto = onnx.load(str(path), load_external_data=False)
    external = [t for t in proto.graph.initializer if t.data_location == onnx.TensorProto.EXTERNAL]
    assert external and all({e.key: e.value for e in t.external_data}["location"] == "g.onnx.data" for t in external)
    got = OnnxRunner(path)(inputs)
    assert max(relative_error(got[k], v) for k, v in expected.items()) < 1e-5
    # A ModelProto cannot hold weights past the protobuf limit: the threshold forces a path.
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 1000)
    with pytest.raises(ExportError, match=r"need ONNX's external-data format: pass a path"):
        convert_onnx(model)


def test_convert_with_external_data_and_verify(tmp_path, monkeypatch):
    monkeypatch.setattr(onnx_export, "EXTERNAL_DATA_BYTES", 1000)  # as if the weights were over 1 GiB
    manifest = convert("lenet5", formats=("onnx",), out=tmp_path, progress=False)
    art = manifest["artifacts"][0]
    data = tmp_path / "lenet5" / "lenet5.onnx.data"
    assert art["external_data"][0]["path"] == "lenet5.onnx.data" and data.is_file()
    assert art["size_bytes"] == (tmp_path / "lenet5" / "lenet5.onnx").stat().st_size + data.stat().st_size
    assert art["parity"]["max_error"] < 1e-5
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "lenet5", copy)
    assert len(verify(copy, quiet=True)) == 1
    # Big artifacts are re-run in a child process; the same numbers come back from there.
    monkeypatch.setattr(importlib.import_module("keras_landmarks.export.verification"), "ISOLATE_BYTES", 0)
    [result] = verify(copy, quiet=True)
    assert result["passed"] and result["max_error"] == pytest.approx(art["parity"]["max_error"], rel=1e-6)
    blob = bytearray((copy / "lenet5.onnx.data").read_bytes())
    blob[100] ^= 0xFF
    (copy / "lenet5.onnx.data").write_bytes(bytes(blob))
    with pytest.raises(ExportError, match=r"onnx: lenet5.onnx.data has changed"):
        verify(copy, quiet=True)


def test_memory_check_refuses_before_any_work(tmp_path, monkeypatch, capsys):
    weights = memory.weight_bytes(keras_landmarks.build("lenet5"))
    assert weights == 61_706 * 4
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000_000)
    with pytest.raises(ExportError, match=r"lenet5: converting to TFLite needs about 0\.8 GB .* and 0\.0 GB is "
                                          r"available.*--formats saved_model,onnx"):
        convert("lenet5", out=tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()
    assert main(["convert", "lenet5", "--out", str(tmp_path / "out")]) == 1
    assert "--skip-memory-check" in capsys.readouterr().err
    # Without TFLite there is nothing to check; with the check skipped, it converts.
    convert("lenet5", formats=("onnx",), out=tmp_path / "out", progress=False)
    assert main(["convert", "lenet5", "--formats", "tflite", "--skip-memory-check", "--out", str(tmp_path / "out"),
                 "--overwrite"]) == 0
    manifest = json.loads(pathlib.Path(tmp_path / "out" / "lenet5" / "manifest.json").read_text())
    assert [a["format"] for a in manifest["artifacts"]] == ["tflite"]


def _tool(name):
    path = pathlib.Path(__file__).resolve().parents[2] / "tools" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"tools_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_convert_all_tool(tmp_path, monkeypatch):
    tool = _tool("convert_all")
    monkeypatch.chdir(tmp_path)
    output = tmp_path / "conversions.md"
    monkeypatch.setattr("sys.argv", ["convert_all.py", "--models", "lenet5", "--output", str(output)])
    assert tool.main() == 0
    rows = json.loads(output.with_suffix(".json").read_text())
    assert [r["model"] for r in rows] == ["lenet5"] and rows[0]["ok"] and rows[0]["parameters"] == 61_706
    assert set(rows[0]["artifacts"]) == {"saved_model", "tflite", "onnx"}
    assert max(a["max_error"] for a in rows[0]["artifacts"].values()) < FLOAT_TOLERANCE
    assert "| lenet5 | 61,706 |" in output.read_text()
    assert sorted(tmp_path.iterdir()) == sorted([output, output.with_suffix(".json")])  # no exports left behind
    # The tool retries without TFLite when the memory check refuses it: it recognises the message.
    monkeypatch.setattr(memory, "available_memory", lambda: 10_000_000)
    with pytest.raises(ExportError) as error:
        convert("lenet5", out=tmp_path / "out", progress=False)
    assert tool.REFUSED in str(error.value)


# ---------------------------------------------------------------------------------------------------
# Float TFLite with streamed weights: for models whose weights the converter cannot hold four times.


def test_streamed_tflite_weights_match_keras(tmp_path):
    model = keras_landmarks.build("gpt2", **GPT2_SMALL)
    manifest = convert(model, formats=("tflite",), out=tmp_path, stream_tflite_weights=True, isolate=True,
                       progress=False)
    [art] = manifest["artifacts"]
    assert art["weights"].startswith("streamed") and art["process"] == "child"
    assert art["parity"]["passed"] and art["parity"]["max_error"] < 1e-5 and art["builtin_ops_only"]
    # The file holds the real weights, byte for byte, where the converter saw fills.
    content = (tmp_path / model.name / f"{model.name}.tflite").read_bytes()
    embedding = next(v for v in model.variables if len(v.shape) == 2 and v.shape[0] == GPT2_SMALL["vocabulary_size"])
    assert np.asarray(embedding.numpy(), np.float32).tobytes() in content
    assert sorted(p.name for p in (tmp_path / model.name).iterdir()) == ["gpt2.tflite", "manifest.json", "parity.npz"]


def test_memory_check_chooses_streamed_weights(tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "STREAMED_MEMORY_BASE", 0.1e9)
    monkeypatch.setattr(memory, "available_memory", lambda: int(0.5e9))  # < 0.75 GB: the converter's base
    manifest = convert("gpt2", overrides=GPT2_SMALL, formats=("tflite",), out=tmp_path, progress=False)
    assert manifest["artifacts"][0]["weights"].startswith("streamed")
    assert manifest["artifacts"][0]["parity"]["max_error"] < 1e-5
    with pytest.raises(ExportError, match=r"the quantized variants \['fp16'\] cannot: leave them out"):
        convert("gpt2", overrides=GPT2_SMALL, formats=("tflite",), quantize=("none", "fp16"), out=tmp_path / "q",
                progress=False)
    assert not (tmp_path / "q").exists()


def test_streamed_weights_refuse_folded_weights(tmp_path):
    # Batch normalization is folded into the convolutions: those weights have no buffer of their own.
    overrides = {**keras_landmarks.registry.get_spec("resnet20").test_config, "classifier_activation": None}
    with pytest.raises(ExportError, match=r"folded them into other constants"):
        convert("resnet20", overrides=overrides, formats=("tflite",), out=tmp_path, stream_tflite_weights=True,
                isolate=False, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_streamed_layouts():
    from keras_landmarks.export.tflite_streamed import layout

    w = np.arange(24, dtype=np.float32).reshape(2, 3, 4)  # e.g. an attention output kernel (heads, dim, out)
    fc = layout([4, 6], w.shape, {("FULLY_CONNECTED", 1)})
    np.testing.assert_array_equal(fc(w), w.reshape(6, 4).T)
    tied = layout([6, 4], (6, 4), {("FULLY_CONNECTED", 1), ("GATHER", 0)})  # x @ table^T uses the table as is
    np.testing.assert_array_equal(tied(w.reshape(6, 4)), w.reshape(6, 4))
    k = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)  # Keras (h, w, in, out)
    np.testing.assert_array_equal(layout([5, 2, 3, 4], k.shape, {("CONV_2D", 1)})(k), k.transpose(3, 0, 1, 2))
    assert layout([7], (2, 3), set()) is None
