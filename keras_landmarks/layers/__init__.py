"""Layers the landmark papers need, written in `keras.ops` and registered for serialization.

ReLU, LeakyReLU, ELU and PReLU (and LayerNormalization, GroupNormalization, BatchNormalization) are
Keras's own, re-exported here so a model can take all its layers from one place.
"""

from keras.layers import ELU, PReLU, ReLU, LeakyReLU  # noqa: F401  (Keras's own, not rewritten)
from keras.layers import BatchNormalization, GroupNormalization, LayerNormalization  # noqa: F401

from keras_landmarks.layers.activations import (
    GELU,
    Maxout,
    Mish,
    SoftSign,
    Swish,
    gelu,
    gelu_tanh,
    mish,
    softplus,
    softsign,
    swish,
)
from keras_landmarks.layers.attention import (
    AdditiveAttention,
    LuongAttention,
    MultiHeadAttention,
    RelativeMultiHeadAttention,
    ScaledDotProductAttention,
    TwoStreamRelativeAttention,
    causal_mask,
    masked_softmax,
)
from keras_landmarks.layers.reformer import LSHSelfAttention, ReversibleBlock, ReversibleStack
from keras_landmarks.layers.recurrent import OriginalLSTMCell, ProjectedLSTMCell, ScalarMix
from keras_landmarks.layers.style import (
    Blur2D,
    EqualizedConv2D,
    EqualizedDense,
    MinibatchStandardDeviation,
    NoiseInjection,
    PixelNormalization,
)
from keras_landmarks.layers.embeddings import PositionEmbedding, SinusoidalPositionEncoding, TokenAndPositionEmbedding
from keras_landmarks.layers.normalization import (
    AdaptiveInstanceNormalization,
    InstanceNormalization,
    LocalResponseNormalization,
)

__all__ = [
    "GELU", "Swish", "Mish", "SoftSign", "Maxout", "gelu", "gelu_tanh", "swish", "mish", "softplus", "softsign",
    "ReLU", "LeakyReLU", "ELU", "PReLU",
    "AdditiveAttention", "LuongAttention", "ScaledDotProductAttention", "MultiHeadAttention",
    "RelativeMultiHeadAttention", "TwoStreamRelativeAttention", "LSHSelfAttention", "ReversibleBlock",
    "ReversibleStack", "causal_mask", "masked_softmax",
    "LocalResponseNormalization", "InstanceNormalization", "AdaptiveInstanceNormalization",
    "BatchNormalization", "GroupNormalization", "LayerNormalization",
    "SinusoidalPositionEncoding", "PositionEmbedding", "TokenAndPositionEmbedding",
    "PixelNormalization", "EqualizedDense", "EqualizedConv2D", "NoiseInjection", "Blur2D",
    "MinibatchStandardDeviation", "OriginalLSTMCell", "ProjectedLSTMCell", "ScalarMix",
]
