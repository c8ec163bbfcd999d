"""Inputs to check artifacts with: valid for the model, reproducible from a seed.

Float inputs are standard normal. Int inputs follow their names: `*padding_mask` is 1 for real
tokens (examples after the first have their last two positions padded, so masks are exercised),
`segment_ids` marks a second segment, and token ids are drawn from the model's vocabulary (id 0 is
padding and is not drawn).
"""

import keras
import numpy as np


def vocabulary_size(model):
    """The smallest token vocabulary among the model's embeddings (segment tables excluded)."""
    sizes = [layer.input_dim for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.Embedding) and "segment" not in layer.name]
    return min(sizes) if sizes else 2


def has_dynamic_length(model):
    """Token models: an input with an unknown dimension after the batch."""
    return any(d is None for t in model.inputs for d in t.shape[1:])


def sample_inputs(model, batch=2, seed=0, length=6):
    """{input name: np.ndarray} for `model`; unknown (dynamic) dimensions take `length`."""
    rng = np.random.default_rng(seed)
    vocab = None
    data = {}
    for tensor in model.inputs:
        shape = tuple(length if d is None else d for d in (batch, *tensor.shape[1:]))
        name = tensor.name
        if "int" not in str(tensor.dtype):
            data[name] = rng.standard_normal(shape).astype(tensor.dtype)
        elif name.endswith("padding_mask"):
            mask = np.ones(shape, tensor.dtype)
            mask[1:, -2:] = 0
            data[name] = mask
        elif name == "segment_ids":
            data[name] = (np.arange(shape[1]) >= shape[1] // 2).astype(tensor.dtype)[None].repeat(shape[0], 0)
        else:
            vocab = vocab or vocabulary_size(model)
            data[name] = rng.integers(1, max(vocab, 2), shape).astype(tensor.dtype)
    return data
