"""Every registered model, at its small test configuration, converts to SavedModel, TFLite and ONNX and
matches Keras: the test that keeps the zoo deployable as it grows."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.config import builder_parameters
from keras_landmarks.export import convert, verify
from keras_landmarks.export.parity import FLOAT_TOLERANCE, FP16_TOLERANCE, cases, float16_weights_error
from keras_landmarks.inputs import input_kinds
from keras_landmarks.registry import get_spec


def _small(name):
    spec = get_spec(name)
    config = dict(spec.test_config)
    if "classifier_activation" in builder_parameters(spec.builder):
        # Logits, not probabilities: an untrained deep net saturates its softmax to exact 0/1 outputs,
        # which any runtime reproduces exactly and which would hide a real difference.
        config["classifier_activation"] = None
    return config


# The default run converts every family and every builder path; these variants differ from one it
# converts only in depth or width, and run with `pytest -m large` (CI runs them too).
DEEPER = {"resnet34", "resnet34_v2", "resnet101", "resnet101_v2", "resnet152", "resnet152_v2", "resnet44",
          "resnet56", "resnet110", "plain44", "plain56", "vgg13", "vgg13_bn", "vgg19", "vgg19_bn", "bert_base",
          "bert_large", "gpt2_medium", "gpt2_large", "gpt2_xl", "transformer_big",
          # the DCGAN builders again, in other configurations (dcgan and wgan_gp_critic run by default)
          "dcgan_lsun", "wgan", "wgan_critic", "wgan_gp", "dcgan_discriminator", "stylegan_256", "stylegan_32",
          "lstm_lm_large",
          # transformer_xl's builder without the adaptive softmax (its training test builds and saves this path)
          "transformer_xl_enwik8",
          # xlnet_base's builder at another size
          "xlnet_large",
          # dqn_nature's builder with fewer layers
          "dqn_nips",
          # alphago_zero's builder with more blocks
          "alphago_zero_40"}
# Every format of the table that needs no option: servers (SavedModel, Triton) and edge files, float and
# quantized ONNX.
ALL_FORMATS = ("saved_model", "tflite", "onnx", "onnx_fp16", "onnx_int8", "triton")
MODELS = [pytest.param(n, marks=pytest.mark.large) if n in DEEPER else n for n in keras_landmarks.list_models()]


@pytest.mark.parametrize("name", MODELS)
def test_converts_to_every_format_with_parity(name, tmp_path):
    model = keras_landmarks.build(name, **_small(name))
    for weight in model.weights:  # a matrix that starts at zero by design (word2vec's output vectors) gets values,
        if len(weight.shape) == 2 and not np.any(weight.numpy()):  # so the outputs compared are not all zero
            weight.assign(np.random.default_rng(0).normal(0, 0.1, weight.shape).astype(weight.dtype))
    # A fresh deep network can be past the fp16 gate on float16 storage alone (its weights rounded to
    # float16, computed in float32: ResNet-152 v2 2.0e-2, ResNet-110 9.5e-3 here), which no conversion can
    # help: the fp16 artifact may add FP16_TOLERANCE to that, no more. Float artifacts are held to
    # FLOAT_TOLERANCE below.
    floor = float16_weights_error(model, [inputs for _, inputs in cases(model, input_kinds(model))])
    manifest = convert(model, formats=ALL_FORMATS, out=tmp_path, progress=False, tolerance=FP16_TOLERANCE + floor)
    assert [a["artifact"] for a in manifest["artifacts"]] == list(ALL_FORMATS)
    for art in manifest["artifacts"]:
        assert art["parity"]["passed"], (art["path"], art["parity"])
        if art["variant"] == "none":
            assert art["parity"]["max_error"] <= FLOAT_TOLERANCE, (art["path"], art["parity"])
        if art["format"] == "tflite":
            assert art["builtin_ops_only"], art["ops"]
    int8 = next(a for a in manifest["artifacts"] if a["artifact"] == "onnx_int8")
    assert int8["parity"]["max_error"] > 0 and np.isfinite(int8["parity"]["sqnr_db"])  # really quantized
    assert (tmp_path / name / "triton" / name / "config.pbtxt").is_file()
    # The Keras outputs the artifacts were compared against are not degenerate (a discriminator's one
    # logit for a batch of one is a single number).
    outputs = [v for k, v in np.load(tmp_path / name / "parity.npz").items() if "/output/" in k]
    assert all(np.std(v) > 0 for v in outputs if v.size > 1) and any(v.size > 1 for v in outputs)
    assert len(verify(tmp_path / name, quiet=True)) == len(ALL_FORMATS)


@pytest.mark.large
@pytest.mark.parametrize("name", ["resnet50", "bert_base", "vgg19", "gpt2_large"])
def test_full_size_conversion(name, tmp_path):
    """Full size, in its own process (as a user runs it), so the manifest's peak memory is this
    conversion's alone: VGG-19 (575 MB of weights) must stay under 8 GB. GPT-2 large (3.1 GB of
    weights) is past both 2 GB limits: its TFLite file keeps the weights after the flatbuffer, and its
    ONNX model stores them as external data."""
    exe = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable))
    logits = ["--set", "classifier_activation=None"] if name in ("resnet50", "vgg19") else []  # a softmax saturates
    result = subprocess.run([exe, "convert", name, *logits, "--out", str(tmp_path)], capture_output=True, text=True,
                            timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((tmp_path / name / "manifest.json").read_text())
    assert all(a["parity"]["passed"] and a["parity"]["max_error"] <= FLOAT_TOLERANCE for a in manifest["artifacts"])
    assert "warnings" not in manifest, manifest["warnings"]
    peaks = [manifest["peak_memory_mb"], manifest.get("peak_memory_mb_child_processes", 0)]
    if name == "vgg19":
        assert max(peaks) < 8192, peaks
    artifacts = {a["format"]: a for a in manifest["artifacts"]}
    if name == "gpt2_large":
        assert artifacts["tflite"]["size_bytes"] > 2**31 and artifacts["tflite"]["process"] == "child"
        assert artifacts["onnx"]["external_data"][0]["path"] == "gpt2_large.onnx.data"
        assert max(peaks) < 16 * 1024, peaks  # on a 24 GB machine
        assert len(verify(tmp_path / name, quiet=True)) == 3
