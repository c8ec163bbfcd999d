"""Helpers shared by the tests."""

import numpy as np

from keras_landmarks.registry import get_spec


def random_inputs(model, batch=2, seed=0):
    """Random inputs for `model`: an array for a single input, else a dict keyed by input name."""
    rng = np.random.default_rng(seed)
    data = {}
    for tensor in model.inputs:
        shape = (batch, *tensor.shape[1:])
        data[tensor.name] = rng.standard_normal(shape).astype(tensor.dtype)
    return next(iter(data.values())) if len(data) == 1 else data


def tiny_model(name, **overrides):
    from keras_landmarks import build

    return build(name, **{**get_spec(name).test_config, **overrides})
