"""Random initial weights are distinct: no two weights of a model start with the same values.

A Keras 3 initializer instance without a seed returns the same values at every call, so sharing one
instance across weights (an attention layer's query, key, value and output kernels, say) would start
them identical: a symmetry the papers' random initialization does not have.
"""

import hashlib

import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.layers import MultiHeadAttention
from keras_landmarks.registry import get_spec


@pytest.mark.parametrize("name", keras_landmarks.list_models())
def test_random_weights_are_distinct(name):
    model = keras_landmarks.build(name, **get_spec(name).test_config)
    seen = {}
    for variable in model.variables:
        value = np.asarray(variable.numpy())
        if value.size < 2 or not np.issubdtype(value.dtype, np.floating) or len(np.unique(value)) <= 2:
            continue  # constants (zeros, ones, a bias of 1.0, StyleGAN's style bias 1…1 0…0) are alike by design
        digest = hashlib.sha256(value.tobytes()).hexdigest()
        assert digest not in seen, f"{variable.path} starts identical to {seen[digest]}"
        seen[digest] = variable.path


def test_attention_projections_are_distinct():
    layer = MultiHeadAttention(num_heads=2, key_dim=4)
    x = np.zeros((1, 3, 8), "float32")
    layer(x, x)
    kernels = [np.asarray(k.numpy()) for k in (layer.query_kernel, layer.key_kernel, layer.value_kernel)]
    assert not np.allclose(kernels[0], kernels[1]) and not np.allclose(kernels[1], kernels[2])
