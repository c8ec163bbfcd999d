"""A fresh copy of an initializer for each weight.

A Keras 3 initializer instance without a seed draws its seed once, at construction, and returns the
same values at every call: one instance shared by several weights of one shape gives them identical
values (the query, key, value and output projections of an attention layer, say), and correlated
values across shapes. `fresh` returns a new instance of the same configuration, which draws a new
seed; a seeded initializer stays seeded (as in Keras's own `MultiHeadAttention`).
"""

import keras


def fresh(initializer):
    """A new instance of `initializer` (an instance, a name or a config)."""
    return keras.initializers.get(keras.initializers.serialize(keras.initializers.get(initializer)))
