"""AlphaGo's policy and value networks and AlphaGo Zero's residual policy-value network: the Methods'
layers, the per-position bias, the pass move, the skip connections, any board size; binary board planes."""

import keras
import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import BoardPlanes
from keras_landmarks.registry import paper_param_count


def _boards(n, planes, batch=3, seed=0):
    return BoardPlanes().sample(np.random.default_rng(seed), (batch, n, n, planes), "float32")


def test_the_policy_network_is_its_stated_layers_with_a_bias_per_point():
    """5×5 then 3×3 convolutions (same padding, ReLU), a bias-free 1×1 convolution to one filter, a bias
    per board point, a softmax over the points."""
    model = keras_landmarks.build("alphago_policy", board_size=9, filters=16, layers=4)
    boards = _boards(9, 48)
    x = boards
    for i in range(1, 5):
        kernel, bias = model.get_layer(f"conv_{i}").get_weights()
        x = np.maximum(keras.ops.convert_to_numpy(keras.ops.conv(x, kernel, padding="same")) + bias, 0)
    (out_kernel,) = model.get_layer("conv_out").get_weights()
    (position,) = model.get_layer("position_bias").get_weights()
    logits = (x @ out_kernel).reshape(3, 81) + position
    expected = np.exp(logits - logits.max(1, keepdims=True))
    expected /= expected.sum(1, keepdims=True)
    np.testing.assert_allclose(model.predict(boards, verbose=0), expected, rtol=1e-4, atol=1e-6)
    position = np.zeros(81, "float32")
    position[40] = 50.0  # a large bias at the centre point takes the move there
    model.get_layer("position_bias").set_weights([position])
    assert (model.predict(boards, verbose=0).argmax(-1) == 40).all()


def test_the_value_network_ends_in_256_relus_and_a_tanh_unit():
    model = keras_landmarks.build("alphago_value", board_size=9, filters=16, layers=3)
    value = model.predict(_boards(9, 49), verbose=0)
    assert value.shape == (3, 1) and np.all(np.abs(value) < 1)
    assert model.get_layer("hidden").units == 256 and model.get_layer("conv_4").kernel.shape == (1, 1, 16, 1)


def test_alphago_zero_has_a_pass_move_and_identity_skip_connections():
    """The policy covers the N² points and the pass; with the second batch normalisation of a block at zero
    (γ = β = 0) the block passes its input through unchanged (the skip connection, then a ReLU of a
    non-negative input)."""
    model = keras_landmarks.build("alphago_zero", board_size=9, filters=16, blocks=3)
    out = model.predict(_boards(9, 17), verbose=0)
    assert out["policy"].shape == (3, 82) and np.allclose(out["policy"].sum(-1), 1, atol=1e-5)
    assert out["value"].shape == (3, 1) and np.all(np.abs(out["value"]) < 1)
    bn = model.get_layer("block_2_b_bn")
    gamma, beta, mean, variance = bn.get_weights()
    bn.set_weights([np.zeros_like(gamma), np.zeros_like(beta), mean, variance])
    probe = keras.Model(model.input, [model.get_layer("block_1_out").output, model.get_layer("block_2_out").output])
    before, after = probe.predict(_boards(9, 17), verbose=0)
    np.testing.assert_allclose(after, before, rtol=1e-6)
    # The papers' count leaves batch normalisation's moving statistics out.
    moving = sum(2 * layer.gamma.shape[0] for layer in model.layers
                 if isinstance(layer, keras.layers.BatchNormalization))
    assert paper_param_count(model) == model.count_params() - moving


def test_board_planes_are_binary():
    planes = _boards(5, 17, batch=4)
    assert set(np.unique(planes)) == {0.0, 1.0}
    with pytest.raises(ValueError, match="binary board feature planes. Received: 0.5"):
        BoardPlanes().check("board", np.full((1, 5, 5, 17), 0.5, "float32"))


def test_bad_options_are_one_clear_error():
    with pytest.raises(ConfigError, match="'head'"):
        keras_landmarks.build("alphago_policy", head="q")
    with pytest.raises(ConfigError, match="'blocks'"):
        keras_landmarks.build("alphago_zero", blocks=-1)
    with pytest.raises(ConfigError, match="'board_size'"):
        keras_landmarks.build("alphago_zero", board_size=0)


def test_a_rectangular_board_and_a_game_of_other_moves():
    """Connect Four: 6 × 7 points, 7 moves (the columns)."""
    model = keras_landmarks.build("alphago_zero", board_size=(6, 7), planes=3, filters=8, blocks=1, moves=7)
    out = model.predict(np.zeros((2, 6, 7, 3), "float32"), verbose=0)
    assert out["policy"].shape == (2, 7) and out["value"].shape == (2, 1)
    with pytest.raises(ConfigError, match="'board_size'"):
        keras_landmarks.build("alphago_zero", board_size=(6, 0))
