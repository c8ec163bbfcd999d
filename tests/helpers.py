"""Helpers shared by the tests."""

from keras_landmarks.inputs import sample_inputs as random_inputs  # noqa: F401
from keras_landmarks.export.signature import feed_inputs
from keras_landmarks.registry import get_spec


def feed(model, data):
    """`data` in the structure the model was built with."""
    return feed_inputs(model, data)


def tiny_model(name, **overrides):
    from keras_landmarks import build

    return build(name, **{**get_spec(name).test_config, **overrides})
