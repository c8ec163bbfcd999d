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


def test_lstm_lm_drops_out_non_recurrent_connections_only_and_counts_the_papers_models():
    """Zaremba et al.: dropout on the embedding's output, between layers and before the softmax; none on
    h_{t-1} → h_t. Medium 19,775,200 and large 66,022,000 (untied, one bias per gate)."""
    model = keras_landmarks.build("lstm_lm", vocabulary_size=30, hidden_dim=6)
    order = [type(layer).__name__ for layer in model.layers[1:]]
    assert order == ["Embedding", "Dropout", "LSTM", "Dropout", "LSTM", "Dropout", "Dense"], order
    for layer in model.layers:
        if isinstance(layer, keras.layers.LSTM):
            assert layer.cell.dropout == 0 and layer.cell.recurrent_dropout == 0
    ids = np.arange(12, dtype="int32").reshape(2, 6)
    np.testing.assert_allclose(model(ids, training=False), model(ids, training=False))  # no dropout at test time
    assert not np.allclose(model(ids, training=True), model(ids, training=False))
    assert paper_param_count(keras_landmarks.build("lstm_lm")) == 19_775_200
    assert paper_param_count(keras_landmarks.build("lstm_lm_large")) == 66_022_000
    # the 1997 cell: three gate blocks, no forget gate
    assert paper_param_count(keras_landmarks.build("lstm_lm", forget_gate=False)) == 19_775_200 - 2 * (650 * 1300 + 650)


def test_original_lstm_cell_carries_its_state_unchanged():
    """No forget gate: c_t = c_{t−1} + i_t ⊙ g_t, so ∂c_T/∂c_0 = 1 whatever the inputs (the constant error
    carousel), where a forget gate multiplies it by f_t < 1 at each step."""
    import tensorflow as tf

    cell = keras_landmarks.layers.OriginalLSTMCell(3)
    x = tf.constant(np.random.default_rng(1).normal(size=(2, 20, 4)).astype("float32"))
    c0 = tf.Variable(np.zeros((2, 3), "float32"))
    cell.build((2, 4))
    # c_0 would also reach c_T through h and the gates; with the recurrent kernel at zero only the
    # carousel remains, and the derivative is exactly one after twenty steps
    cell.recurrent_kernel.assign(np.zeros(cell.recurrent_kernel.shape, "float32"))
    with tf.GradientTape() as tape:
        h, c = tf.zeros((2, 3)), c0
        for t in range(20):
            _, (h, c) = cell(x[:, t], [h, c])
        total = tf.reduce_sum(c)
    np.testing.assert_allclose(tape.gradient(total, c0).numpy(), np.ones((2, 3)), rtol=1e-6)


def test_elmo_layers_read_each_direction_only_and_count_the_released_model():
    """h_0 = [x; x]; the forward LM at k reads tokens ≤ k only and the backward one tokens ≥ k only;
    93,600,864 parameters without the softmax; scalar_mix adds eq. 1's four weights."""
    from keras_landmarks.registry import get_spec

    config = dict(get_spec("elmo").test_config)
    model = keras_landmarks.build("elmo", **config)
    rng = np.random.default_rng(0)
    chars = rng.integers(1, 30, (2, 6, 7)).astype("int32")
    changed = chars.copy()
    changed[:, 3] = rng.integers(1, 30, (2, 7))
    before, after = (keras.ops.convert_to_numpy(model(c)["layers"]) for c in (chars, changed))
    p = config["projection_dim"]
    assert before.shape == (2, 3, 6, 2 * p)
    np.testing.assert_array_equal(before[:, 0, :, :p], before[:, 0, :, p:])  # [x; x]
    for j in (1, 2):
        np.testing.assert_allclose(before[:, j, :3, :p], after[:, j, :3, :p], atol=1e-6)  # forward: past only
        np.testing.assert_allclose(before[:, j, 4:, p:], after[:, j, 4:, p:], atol=1e-6)  # backward: future only
        assert not np.allclose(before[:, j, 3:, :p], after[:, j, 3:, :p])
        assert not np.allclose(before[:, j, :4, p:], after[:, j, :4, p:])
    assert paper_param_count(keras_landmarks.build("elmo")) == 93_600_864
    mixed = keras_landmarks.build("elmo", **config, scalar_mix=True)
    assert paper_param_count(mixed) == paper_param_count(model) + 4
    assert tuple(mixed(chars)["elmo"].shape) == (2, 6, 2 * p)
