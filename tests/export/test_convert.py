"""The conversion tool: artifacts, manifest, parity gates, failures, verify, and TF Serving layout."""

import json
import os
import pathlib
import stat

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_landmarks
from keras_landmarks import ConfigError, ExportError
from keras_landmarks.cli import main
from keras_landmarks.export import convert, verify
from keras_landmarks.export.parity import FLOAT_TOLERANCE, FP16_TOLERANCE, INT8_ACCURACY_DROP, INT8_AGREEMENT
from keras_landmarks.registry import get_spec, paper_param_count

SMALL_RESNET = get_spec("resnet20").test_config


@pytest.fixture(scope="module")
def lenet_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    manifest = convert("lenet5", quantize=("none", "fp16", "dynamic", "int8"), out=out, progress=False)
    return out / "lenet5", manifest


def test_artifacts_and_manifest(lenet_export):
    folder, manifest = lenet_export
    assert json.loads((folder / "manifest.json").read_text())["model"] == "lenet5"
    names = {a["path"] for a in manifest["artifacts"]}
    # --quantize applies to every family that offers the variant: TFLite's four, ONNX's float16 and int8.
    assert names == {"saved_model/1", "lenet5.tflite", "lenet5_fp16.tflite", "lenet5_dynamic.tflite",
                     "lenet5_int8.tflite", "lenet5.onnx", "lenet5_fp16.onnx", "lenet5_int8.onnx"}
    assert manifest["paper"]["year"] == 1998 and manifest["parameters"] == 61_706
    for art in manifest["artifacts"]:
        assert art["parity"]["passed"] and art["sha256"] and art["size_bytes"] > 0 and all(ms > 0 for ms in art["latency_ms"].values())
        assert [o["name"] for o in art["outputs"]] == ["predictions"]  # the model's own names, never output_0
        assert art["inputs"] == [{"name": "images", "shape": [None, 32, 32, 1], "dtype": "float32"}]
    by_path = {a["path"]: a for a in manifest["artifacts"]}
    assert by_path["lenet5.tflite"]["parity"]["max_error"] <= FLOAT_TOLERANCE
    assert by_path["lenet5_fp16.tflite"]["parity"]["tolerance"] == FP16_TOLERANCE
    assert by_path["lenet5.tflite"]["builtin_ops_only"] and "CONV_2D" in by_path["lenet5.tflite"]["ops"]
    int8 = by_path["lenet5_int8.tflite"]
    assert "sqnr_db" in int8["parity"] and "float_ops_left" in int8 and int8["calibration"].startswith("real")
    assert by_path["lenet5.onnx"]["opset"] == 17
    assert set(manifest["fastest_verified"]) == {"tensorflow", "litert", "onnxruntime"}
    assert manifest["peak_memory_mb"] > 0
    cases = manifest["parity_inputs"]["cases"]
    assert len(cases) == 6 and any("batch1" in c for c in cases) and any("batch4" in c for c in cases)


def test_tf_serving_layout(lenet_export):
    folder, _ = lenet_export
    version = folder / "saved_model" / "1"
    assert (version / "saved_model.pb").is_file() and (version / "variables").is_dir()
    assert 'base_path: "/models/lenet5/saved_model"' in (folder / "models.config").read_text()
    assert "tensorflow/serving" in (folder / "README.md").read_text()
    kserve = (folder / "kserve.yaml").read_text()
    assert "InferenceService" in kserve and "batcher:\n      maxBatchSize: 32\n      maxLatency: 5" in kserve
    from tensorflow_serving.apis import prediction_log_pb2

    records = list(tf.data.TFRecordDataset(str(version / "assets.extra" / "tf_serving_warmup_requests")))
    log = prediction_log_pb2.PredictionLog.FromString(records[0].numpy())
    assert log.predict_log.request.model_spec.name == "lenet5"
    assert list(log.predict_log.request.inputs) == ["images"]
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    assert list(signature.structured_outputs) == ["predictions"]
    assert signature.structured_input_signature[1]["images"].shape.as_list() == [None, 32, 32, 1]
    assert oct(stat.S_IMODE(folder.stat().st_mode)) != oct(0o700)


def test_saved_model_loads_with_hub_and_tfsmlayer(lenet_export):
    import tensorflow_hub as hub

    folder, _ = lenet_export
    x = np.random.default_rng(0).standard_normal((2, 32, 32, 1)).astype("float32")
    hub_out = hub.load(str(folder / "saved_model" / "1")).signatures["serving_default"](images=tf.constant(x))
    layer = keras.layers.TFSMLayer(str(folder / "saved_model" / "1"), call_endpoint="serving_default")
    np.testing.assert_allclose(layer(x)["predictions"].numpy(), hub_out["predictions"].numpy(), rtol=1e-6)


def test_saved_model_stores_weights_once(tmp_path):
    manifest = convert("resnet20", formats=("saved_model",), out=tmp_path, progress=False)
    variables = tmp_path / "resnet20" / "saved_model" / "1" / "variables"
    size = sum(f.stat().st_size for f in variables.iterdir())
    weights = sum(int(np.prod(w.shape)) for w in keras_landmarks.build("resnet20").weights)
    assert size / weights < 4.5, size / weights  # float32, once (Keras's own export: ≈ 8 bytes)
    assert manifest["parameters"] == 269_722


def test_verify_detects_a_changed_file(lenet_export, tmp_path):
    import shutil

    folder, _ = lenet_export
    copy = tmp_path / "lenet5"
    shutil.copytree(folder, copy)
    assert len(verify(copy, quiet=True)) == 8
    data = bytearray((copy / "lenet5.onnx").read_bytes())
    data[-10] ^= 0xFF
    (copy / "lenet5.onnx").write_bytes(bytes(data))
    with pytest.raises(ExportError, match=r"onnx: lenet5.onnx has changed"):
        verify(copy, quiet=True)
    assert main(["verify", str(copy)]) == 1


# ---------------------------------------------------------------------------------------------------
# Failures leave nothing behind.


def _leftovers(out):
    return sorted(p.name for p in pathlib.Path(out).iterdir()) if pathlib.Path(out).exists() else []


def test_parity_miss_fails_and_leaves_nothing(tmp_path):
    with pytest.raises(ExportError, match=r"resnet20: (saved_model|tflite|onnx) does not match the Keras model.*gate: 0"):
        convert("resnet20", overrides=SMALL_RESNET, out=tmp_path, tolerance=0.0, progress=False)
    assert _leftovers(tmp_path) == []
    assert main(["convert", "resnet20", "--set", "stackwise_num_filters=(4,8,8)", "--tolerance", "0",
                 "--out", str(tmp_path)]) == 1
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("kwargs, message", [
    ({"formats": ("saved_model", "tflite", "torchscript")}, r"Unknown format 'torchscript'"),
    ({"quantize": ("int4",)}, r"Unknown quantization 'int4'"),
    ({"quantize": ("dynamic",), "formats": ("onnx",)}, r"'dynamic' applies to tflite, which --formats onnx leaves"),
    ({"quantize": ("fp16",), "formats": ("saved_model",)}, r"'fp16' applies to tflite, onnx"),
    ({"batch_size": 0}, r"Invalid batch size 0"),
    ({"version": 0}, r"Invalid version 0"),
])
def test_bad_options(kwargs, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        convert("lenet5", out=tmp_path, progress=False, **kwargs)
    assert _leftovers(tmp_path) == []


def test_existing_output_needs_overwrite(tmp_path):
    convert("lenet5", formats=("onnx",), out=tmp_path, progress=False)
    with pytest.raises(ConfigError, match=r"already exists; pass --overwrite"):
        convert("lenet5", formats=("onnx",), out=tmp_path, progress=False)
    convert("lenet5", formats=("tflite",), out=tmp_path, overwrite=True, progress=False)
    assert sorted(p.name for p in (tmp_path / "lenet5").glob("*.tflite")) == ["lenet5.tflite"]
    assert not (tmp_path / "lenet5" / "lenet5.onnx").exists()  # replaced, not merged


def test_unwritable_output_folder(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.access(locked, os.W_OK):
            pytest.skip("running as a user who can write anywhere")
        with pytest.raises(ConfigError, match=r"is not writable"):
            convert("lenet5", out=locked / "exports", progress=False)
    finally:
        locked.chmod(0o700)


def test_unwritable_output_folder_as_a_file(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    with pytest.raises(ConfigError, match=r"is not writable"):
        convert("lenet5", out=blocker / "exports", progress=False)


def test_int8_without_data_for_a_keras_file(tmp_path):
    model = keras_landmarks.build("lenet5")
    model.save(tmp_path / "mine.keras")
    with pytest.raises(ConfigError, match=r"int8 quantization needs representative data"):
        convert(str(tmp_path / "mine.keras"), quantize=("int8",), out=tmp_path / "out", progress=False)
    assert main(["convert", str(tmp_path / "mine.keras"), "--quantize", "int8", "--out", str(tmp_path / "out")]) == 2


def test_keras_file_with_representative_data(tmp_path):
    model = keras_landmarks.build("lenet5")
    model.save(tmp_path / "mine.keras")
    np.savez(tmp_path / "calibration.npz", images=np.random.default_rng(0).random((16, 32, 32, 1), "float32"))
    code = main(["convert", str(tmp_path / "mine.keras"), "--formats", "tflite", "--quantize", "int8",
                 "--representative-data", str(tmp_path / "calibration.npz"), "--out", str(tmp_path / "out")])
    assert code == 0
    manifest = json.loads((tmp_path / "out" / "mine" / "manifest.json").read_text())
    assert [a["path"] for a in manifest["artifacts"]] == ["mine_int8.tflite"]
    assert sorted(p.name for p in (tmp_path / "out" / "mine").iterdir()) == ["manifest.json", "mine_int8.tflite",
                                                                           "parity.npz"]


def test_unknown_model_and_bad_override_exit_2(tmp_path, capsys):
    assert main(["convert", "resnet5", "--out", str(tmp_path)]) == 2
    assert "Did you mean" in capsys.readouterr().err
    assert main(["convert", "resnet20", "--set", "depth=21", "--out", str(tmp_path)]) == 2
    assert main(["convert", "lenet5", "--formats", "pt", "--out", str(tmp_path)]) == 2
    assert main(["convert", "lenet5", "--batch-size", "many", "--out", str(tmp_path)]) == 2
    assert _leftovers(tmp_path) == []


def test_fixed_batch_size(tmp_path):
    manifest = convert("lenet5", formats=("tflite", "onnx"), batch_size=2, out=tmp_path, progress=False)
    assert all(a["inputs"][0]["shape"] == [2, 32, 32, 1] for a in manifest["artifacts"])
    assert manifest["parity_inputs"]["cases"] == ["seed0_batch2", "seed1_batch2", "seed2_batch2"]


# ---------------------------------------------------------------------------------------------------
# int8 with trained weights: LeNet-5 on scikit-learn's digits.


@pytest.mark.large  # trains 25 epochs; the run-based int8 gate test in test_training runs by default
def test_int8_lenet_on_digits_keeps_accuracy(tmp_path):
    from keras_landmarks.data import digits

    images, labels = digits()
    keras.utils.set_random_seed(0)
    model = keras_landmarks.build("lenet5")
    model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy", metrics=["accuracy"])
    train, test = slice(0, 1400), slice(1400, None)
    model.fit(images[train], labels[train], epochs=25, batch_size=32, verbose=0)
    accuracy = model.evaluate(images[test], labels[test], verbose=0)[1]
    assert accuracy > 0.9, accuracy  # trained: the int8 gate below is about agreement with these weights
    calibration = [{"images": images[i : i + 1]} for i in range(0, 1400, 7)]
    manifest = convert(model, formats=("tflite",), quantize=("none", "int8"), representative_data=calibration,
                       eval_data=(images[test], labels[test]), out=tmp_path, progress=False)
    int8 = next(a for a in manifest["artifacts"] if a["variant"] == "int8")["parity"]
    assert int8["top1_agreement"] >= INT8_AGREEMENT and int8["accuracy_drop"] <= INT8_ACCURACY_DROP, int8
    assert int8["passed"]
    assert paper_param_count(model) == 61_706


def test_saturated_reference_is_flagged(tmp_path):
    from keras_landmarks.export.manifest import format_table
    from keras_landmarks.export.parity import weak_references

    assert weak_references([{"p": np.array([[0.0, 1.0], [1.0, 0.0]])}]) == ["p"]
    assert weak_references([{"p": np.array([[0.2, 0.8]])}]) == []
    # An untrained 56-layer ResNet saturates its softmax: the manifest says so and suggests logits.
    manifest = convert("resnet56", overrides=get_spec("resnet56").test_config, formats=("onnx",), out=tmp_path,
                       progress=False)
    assert "classifier_activation=None" in manifest["warnings"][0]
    assert "warning:" in format_table(manifest)
    logits = convert("resnet56", overrides={**get_spec("resnet56").test_config, "classifier_activation": None},
                     formats=("onnx",), out=tmp_path, overwrite=True, progress=False)
    assert "warnings" not in logits


def test_fp16_miss_says_when_float16_weights_alone_miss(tmp_path):
    """x·(1 + 1e-4) − x·1: float16 rounds 1 + 1e-4 to 1, so any float16-weight artifact outputs 0; the
    error says the model, not the conversion, is the cause."""
    x = keras.Input((3,), name="x")
    a = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(1.0 + 1e-4))(x)
    b = keras.layers.Dense(1, use_bias=False, kernel_initializer=keras.initializers.Constant(1.0))(x)
    model = keras.Model(x, keras.layers.Subtract()([a, b]), name="cancel")
    from keras_landmarks.export.parity import float16_weights_error

    assert float16_weights_error(model, [{"x": np.ones((2, 3), "float32")}]) == pytest.approx(1.0)
    with pytest.raises(ExportError, match=r"onnx \(fp16\) does not match.*rounded to float16 alone give 1\.00e\+00 in "
                                          r"Keras: the model is too sensitive for float16"):
        convert(model, formats=("onnx_fp16",), out=tmp_path, progress=False)
    assert _leftovers(tmp_path) == []
