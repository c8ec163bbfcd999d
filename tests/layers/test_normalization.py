"""LocalResponseNormalization against a NumPy transcription of AlexNet §3.3."""

import keras
import numpy as np
import pytest

from keras_landmarks.layers import LocalResponseNormalization


def lrn_reference(a, size=5, k=2.0, alpha=1e-4, beta=0.75):
    """b^i = a^i / (k + alpha * sum_{j=max(0, i-n/2)}^{min(N-1, i+n/2)} (a^j)^2)^beta, written as in the paper."""
    n_channels = a.shape[-1]
    b = np.empty_like(a, dtype=np.float64)
    for i in range(n_channels):
        lo, hi = max(0, i - size // 2), min(n_channels - 1, i + size // 2)
        total = np.sum(a[..., lo : hi + 1].astype(np.float64) ** 2, axis=-1)
        b[..., i] = a[..., i] / (k + alpha * total) ** beta
    return b


@pytest.mark.parametrize("size, k, alpha, beta", [(5, 2.0, 1e-4, 0.75), (3, 1.0, 0.5, 0.5), (7, 0.5, 0.1, 1.0)])
def test_matches_the_paper_formula(size, k, alpha, beta):
    rng = np.random.default_rng(0)
    a = (rng.standard_normal((2, 5, 4, 9)) * 4).astype("float32")
    layer = LocalResponseNormalization(size=size, k=k, alpha=alpha, beta=beta)
    np.testing.assert_allclose(layer(a).numpy(), lrn_reference(a, size, k, alpha, beta), rtol=1e-5, atol=1e-6)


def test_agrees_with_tensorflow_lrn():
    tf = pytest.importorskip("tensorflow")
    a = np.random.default_rng(1).standard_normal((1, 3, 3, 16)).astype("float32") * 10
    expected = tf.nn.local_response_normalization(a, depth_radius=2, bias=2.0, alpha=1e-4, beta=0.75)
    np.testing.assert_allclose(LocalResponseNormalization()(a).numpy(), expected.numpy(), rtol=1e-5)


def test_config_round_trip_and_serialization(tmp_path):
    layer = LocalResponseNormalization(size=3, k=1.0, alpha=2e-4, beta=0.5, name="lrn")
    config = layer.get_config()
    assert LocalResponseNormalization.from_config(config).get_config() == config
    inputs = keras.Input((4, 4, 6))
    model = keras.Model(inputs, LocalResponseNormalization(size=3, k=1.0, alpha=0.1, beta=0.5)(inputs))
    x = np.random.default_rng(2).standard_normal((2, 4, 4, 6)).astype("float32")
    model.save(tmp_path / "lrn.keras")
    np.testing.assert_array_equal(keras.saving.load_model(tmp_path / "lrn.keras")(x), model(x))


def test_symbolic_call_mixed_precision_and_fit():
    inputs = keras.Input((4, 4, 6))
    outputs = LocalResponseNormalization()(inputs)
    assert tuple(outputs.shape) == (None, 4, 4, 6)
    half = LocalResponseNormalization(dtype="mixed_float16")(np.full((1, 2, 2, 6), 300.0, "float16"))
    assert half.dtype == "float16" and np.all(np.isfinite(half.numpy()))  # 300² · 5 overflows float16
    x = keras.layers.Conv2D(6, 1)(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(keras.layers.Flatten()(LocalResponseNormalization()(x))))
    model.compile("sgd", "mse")
    history = model.fit(np.ones((4, 4, 4, 6), "float32"), np.ones((4, 1)), epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


@pytest.mark.parametrize("kwargs, message", [({"size": 4}, "odd"), ({"size": 0}, "odd"), ({"beta": -1}, ">= 0")])
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        LocalResponseNormalization(**kwargs)
