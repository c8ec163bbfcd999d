"""Registry-wide tests: every registered model builds, runs, trains and saves (timm's test_models.py)."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_landmarks
from keras_landmarks.export.signature import output_names
from keras_landmarks.registry import get_spec, info, paper_param_count
from tests.helpers import feed, random_inputs, tiny_model

ALL_MODELS = keras_landmarks.list_models()


def _as_list(outputs):
    if isinstance(outputs, dict):
        return [outputs[k] for k in sorted(outputs)]
    return list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]


def test_registry_is_populated():
    # The families of the foundation issue, each with its variants.
    for name in ("lenet5", "alexnet", "vgg16", "vgg19_bn", "inception_v1", "resnet50", "resnet50_v2",
                 "resnet110", "plain56", "highway_mlp", "dropout_mlp", "snn_mlp", "glorot_mlp"):
        assert name in ALL_MODELS


@pytest.mark.parametrize("name", ALL_MODELS)
def test_forward_matches_io_spec(name):
    spec = get_spec(name)
    model = tiny_model(name)
    io = spec.io(spec.full_config(**spec.test_config))  # the I/O spec info() reports, at the tiny config
    assert sorted(t.name for t in model.inputs) == sorted(io["inputs"])
    assert sorted(output_names(model)) == sorted(io["outputs"])
    outputs = model(feed(model, random_inputs(model)), training=False)
    outputs = outputs if isinstance(outputs, dict) else dict(zip(output_names(model), _as_list(outputs)))
    for out_name, shape in io["outputs"].items():
        out = outputs[out_name]
        expected = tuple(6 if d is None else d for d in (2, *shape[1:]))  # random_inputs: length 6
        assert tuple(out.shape) == expected, out_name
        assert np.all(np.isfinite(out)), f"{name}: non-finite values in {out_name}"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_weight_gets_a_gradient(name):
    model = tiny_model(name)
    for layer in model._flatten_layers():
        if hasattr(layer, "lod"):  # progressive growing: mid-way through every blend, so both branches train
            layer.lod.assign(layer.level + 0.5)
    inputs = feed(model, random_inputs(model, batch=4, seed=1))
    with tf.GradientTape() as tape:
        outputs = _as_list(model(inputs, training=True))
        # A random projection of the outputs: sum(softmax) is constant and would give zero gradients.
        loss = sum(
            tf.reduce_sum(out * tf.random.stateless_normal(tf.shape(out), seed=(i, 7)))
            for i, out in enumerate(outputs)
        )
    grads = tape.gradient(loss, model.trainable_weights)
    # An attention key bias adds q·b_k to every score of a row, which softmax cancels: its gradient is 0
    # by construction (kept for weight compatibility with the papers' and Keras's layers).
    dead = [w.path for w, g in zip(model.trainable_weights, grads)
            if (g is None or not np.any(tf.convert_to_tensor(g).numpy() != 0)) and not w.path.endswith("key_bias")]
    assert not dead, f"{name}: weights without gradient: {dead}"


# The deepest ResNets differ from resnet50 / resnet56 in depth only: their round trip runs with `-m large`.
DEEP_ROUND_TRIP = {"resnet101", "resnet101_v2", "resnet110", "resnet152", "resnet152_v2"}


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.large) if n in DEEP_ROUND_TRIP else n
                                  for n in ALL_MODELS])
def test_keras_file_round_trip(name, tmp_path):
    model = tiny_model(name)
    inputs = feed(model, random_inputs(model, seed=2))
    before = _as_list(model.predict(inputs, verbose=0))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    after = _as_list(restored.predict(inputs, verbose=0))
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


# Building these takes minutes and several GB (gpt2_xl: 6.2 GB of float32 weights): `pytest -m large`.
LARGE = {"gpt2_large", "gpt2_xl", "bert_large", "transformer_big", "word2vec_skipgram", "word2vec_cbow", "glove",
         "transformer_xl_enwik8"}
REFERENCE = [pytest.param(name, marks=pytest.mark.large) if name in LARGE else name
             for name in ALL_MODELS if get_spec(name).params is not None]


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_parameter_count(name):
    model = keras_landmarks.build(name)
    assert paper_param_count(model) == get_spec(name).params


def test_io_spec_at_default_config_matches_the_model():
    for name in ("lenet5", "inception_v1", "resnet18", "highway_mlp"):
        model = keras_landmarks.build(name)
        spec = info(name)
        assert {t.name: [None, *t.shape[1:]] for t in model.inputs} == spec["inputs"]
        assert {n: [None, *t.shape[1:]] for n, t in zip(output_names(model), model.outputs)} == spec["outputs"]
        keras.backend.clear_session()


def test_reload_in_a_fresh_process(tmp_path):
    """`import keras_landmarks` alone registers the custom layers a saved model needs."""
    model = tiny_model("alexnet")  # uses LocalResponseNormalization
    x = random_inputs(model, seed=3)["images"]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", model.predict(x, verbose=0))
    model.save(tmp_path / "alexnet.keras")
    script = textwrap.dedent(f"""
        import numpy as np, keras, keras_landmarks
        model = keras.saving.load_model({str(tmp_path / 'alexnet.keras')!r})
        y = model.predict(np.load({str(tmp_path / 'x.npy')!r}), verbose=0)
        np.testing.assert_array_equal(y, np.load({str(tmp_path / 'y.npy')!r}))
        print("reloaded", type(model.get_layer('conv1_lrn')).__name__)
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "reloaded LocalResponseNormalization" in result.stdout
