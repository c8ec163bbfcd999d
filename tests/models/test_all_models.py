"""Registry-wide tests: every registered model builds, runs, trains and saves (timm's test_models.py)."""

import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_landmarks
from keras_landmarks.registry import get_spec, info, paper_param_count
from tests.helpers import random_inputs, tiny_model

ALL_MODELS = keras_landmarks.list_models()


def _as_list(outputs):
    return list(outputs.values()) if isinstance(outputs, dict) else outputs if isinstance(outputs, (list, tuple)) else [outputs]


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
    assert [t.name for t in model.inputs] == list(io["inputs"])
    assert list(model.output_names) == list(io["outputs"])
    outputs = _as_list(model(random_inputs(model), training=False))
    for out, (out_name, shape) in zip(outputs, io["outputs"].items()):
        assert tuple(out.shape) == (2, *shape[1:]), out_name
        assert np.all(np.isfinite(out)), f"{name}: non-finite values in {out_name}"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_every_weight_gets_a_gradient(name):
    model = tiny_model(name)
    inputs = random_inputs(model, batch=4, seed=1)
    with tf.GradientTape() as tape:
        outputs = _as_list(model(inputs, training=True))
        # A random projection of the outputs: sum(softmax) is constant and would give zero gradients.
        loss = sum(
            tf.reduce_sum(out * tf.random.stateless_normal(tf.shape(out), seed=(i, 7)))
            for i, out in enumerate(outputs)
        )
    grads = tape.gradient(loss, model.trainable_weights)
    dead = [w.path for w, g in zip(model.trainable_weights, grads) if g is None or not np.any(g.numpy() != 0)]
    assert not dead, f"{name}: weights without gradient: {dead}"


@pytest.mark.parametrize("name", ALL_MODELS)
def test_keras_file_round_trip(name, tmp_path):
    model = tiny_model(name)
    inputs = random_inputs(model, seed=2)
    before = _as_list(model.predict(inputs, verbose=0))
    path = tmp_path / f"{name}.keras"
    model.save(path)
    restored = keras.saving.load_model(path)
    after = _as_list(restored.predict(inputs, verbose=0))
    for a, b in zip(before, after):
        np.testing.assert_array_equal(a, b)


REFERENCE = [name for name in ALL_MODELS if get_spec(name).params is not None]


@pytest.mark.parametrize("name", REFERENCE)
def test_reference_parameter_count(name):
    model = keras_landmarks.build(name)
    assert paper_param_count(model) == get_spec(name).params


def test_io_spec_at_default_config_matches_the_model():
    for name in ("lenet5", "inception_v1", "resnet18", "highway_mlp"):
        model = keras_landmarks.build(name)
        spec = info(name)
        assert {t.name: [None, *t.shape[1:]] for t in model.inputs} == spec["inputs"]
        assert {n: [None, *t.shape[1:]] for n, t in zip(model.output_names, model.outputs)} == spec["outputs"]
        keras.backend.clear_session()


def test_reload_in_a_fresh_process(tmp_path):
    """`import keras_landmarks` alone registers the custom layers a saved model needs."""
    model = tiny_model("alexnet")  # uses LocalResponseNormalization
    x = random_inputs(model, seed=3)
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
