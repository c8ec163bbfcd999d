"""The DQN networks: the papers' layers on four stacked frames, raw grey values scaled inside, one
Q-value per action, Torch's default initialisation."""

import keras
import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.errors import ConfigError
from keras_landmarks.registry import paper_param_count


def test_the_nature_network_computes_its_stated_layers():
    """conv 32 8×8/4, conv 64 4×4/2, conv 64 3×3/1, 512, actions (all ReLU but the last), on frames / 255."""
    model = keras_landmarks.build("dqn_nature", actions=4)
    assert paper_param_count(model) == 1_686_180  # the reference for Breakout's 4 actions
    plain = keras.Sequential([keras.Input((84, 84, 4)),
                              keras.layers.Conv2D(32, 8, strides=4, activation="relu"),
                              keras.layers.Conv2D(64, 4, strides=2, activation="relu"),
                              keras.layers.Conv2D(64, 3, strides=1, activation="relu"),
                              keras.layers.Flatten(), keras.layers.Dense(512, activation="relu"),
                              keras.layers.Dense(4)])
    plain.set_weights(model.get_weights())
    frames = np.random.default_rng(0).integers(0, 256, (3, 84, 84, 4)).astype("float32")
    np.testing.assert_allclose(model.predict(frames, verbose=0), plain.predict(frames / 255.0, verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_weights_start_uniform_in_one_over_root_fan_in():
    model = keras_landmarks.build("dqn_nips")
    for layer, fan_in in (("conv_1", 8 * 8 * 4), ("conv_2", 4 * 4 * 16), ("hidden", 9 * 9 * 32), ("q_values", 256)):
        kernel, bias = (np.asarray(w) for w in model.get_layer(layer).weights)
        bound = fan_in**-0.5
        assert np.abs(kernel).max() <= bound and np.abs(kernel).max() > 0.9 * bound, layer
        assert np.abs(bias).max() <= bound and np.abs(bias).std() > 0, layer


def test_bad_options_are_one_clear_error():
    with pytest.raises(ConfigError, match="height and width of at least 36"):
        keras_landmarks.build("dqn_nature", input_shape=(32, 32, 4))
    with pytest.raises(ConfigError, match="'actions'"):
        keras_landmarks.build("dqn_nips", actions=0)
    with pytest.raises(ConfigError, match="filters, kernel size, stride"):
        keras_landmarks.build("dqn_nature", convolutions=((32, 8),))
