"""The language landmarks against their equations: Bengio et al.'s NNLM."""

import keras
import numpy as np

import keras_landmarks
from keras_landmarks.registry import paper_param_count


def test_nnlm_computes_equation_one_and_counts_both_configurations():
    """y = b + Wx + U tanh(d + Hx) over the concatenated features of the n−1 previous words, softmax."""
    config = {"vocabulary_size": 40, "order": 4, "embedding_dim": 5, "hidden_dim": 7}
    model = keras_landmarks.build("nnlm", **config)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # non-zero biases, so b and d are exercised
        weight.assign(rng.normal(0, 0.3, weight.shape).astype("float32"))
    ids = rng.integers(0, 40, (3, 3)).astype("int32")
    C = keras.ops.convert_to_numpy(model.get_layer("C").embeddings)
    H, d = (keras.ops.convert_to_numpy(w) for w in model.get_layer("H").weights)
    U, b = (keras.ops.convert_to_numpy(w) for w in model.get_layer("U").weights)
    W = keras.ops.convert_to_numpy(model.get_layer("W").kernel)
    x = C[ids].reshape(3, -1)  # (C(w_{t-1}), C(w_{t-2}), C(w_{t-3}))
    y = b + x @ W + np.tanh(d + x @ H) @ U
    expected = np.exp(y - y.max(-1, keepdims=True))
    expected /= expected.sum(-1, keepdims=True)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model(ids)), expected, rtol=1e-5, atol=1e-7)
    # §2: |V|(1 + nm + h) + h(1 + (n−1)m), and |V|(1 + m + h) + h(1 + (n−1)m) without W
    v, n, m, h = 16_383, 5, 30, 100
    assert paper_param_count(keras_landmarks.build("nnlm")) == v * (1 + n * m + h) + h * (1 + (n - 1) * m) == 4_124_233
    without = keras_landmarks.build("nnlm", direct_connections=False)
    assert paper_param_count(without) == v * (1 + m + h) + h * (1 + (n - 1) * m) == 2_158_273
