"""Helpers shared by the tests."""

import keras
import numpy as np

from keras_landmarks.registry import get_spec


def _vocabulary(model):
    """The smallest token vocabulary among the model's embeddings (segment tables excluded)."""
    sizes = [layer.input_dim for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.Embedding) and "segment" not in layer.name]
    return min(sizes) if sizes else 2


def random_inputs(model, batch=2, seed=0, length=6):
    """Random inputs for `model`, {input name: array}.

    Float inputs are standard normal. Int inputs follow their names: `*padding_mask` is 1 for real
    tokens with the second example padded at the end, `segment_ids` marks a second segment, and token
    ids are drawn from the model's vocabulary (0 is padding).
    """
    rng = np.random.default_rng(seed)
    data = {}
    for tensor in model.inputs:
        shape = tuple(length if d is None else d for d in (batch, *tensor.shape[1:]))
        name = tensor.name
        if "int" not in str(tensor.dtype):
            data[name] = rng.standard_normal(shape).astype(tensor.dtype)
        elif name.endswith("padding_mask"):
            mask = np.ones(shape, "int32")
            mask[1:, -2:] = 0
            data[name] = mask
        elif name == "segment_ids":
            data[name] = (np.arange(shape[1]) >= shape[1] // 2).astype("int32")[None].repeat(shape[0], 0)
        else:
            data[name] = rng.integers(1, _vocabulary(model), shape).astype("int32")
    return data


def feed(model, data):
    """`data` in the structure the model was built with."""
    from keras_landmarks.export.signature import _feed

    return _feed(model, data)


def tiny_model(name, **overrides):
    from keras_landmarks import build

    return build(name, **{**get_spec(name).test_config, **overrides})
