"""Token and position embeddings of the Transformer family."""

import keras
from keras import ops

from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.attention import sinusoid


@keras.saving.register_keras_serializable(package="keras_landmarks")
class SinusoidalPositionEncoding(keras.layers.Layer):
    r"""The fixed positional encoding of Vaswani et al. 2017, §3.5:

    $$PE_{(pos, 2i)} = \sin(pos / 10000^{2i/d_{model}}), \quad PE_{(pos, 2i+1)} = \cos(pos / 10000^{2i/d_{model}})$$

    Called on embeddings (B, T, d), returns the encoding (B, T, d) to add to them, for any T;
    `start_index` offsets the positions (incremental decoding). No weights.
    """

    def __init__(self, max_wavelength=10000.0, **kwargs):
        super().__init__(**kwargs)
        self.max_wavelength = float(max_wavelength)

    def call(self, inputs, start_index=0):
        length, dim = ops.shape(inputs)[1], inputs.shape[-1]
        positions = ops.cast(ops.arange(length) + start_index, "float32")  # (T,)
        encoding = ops.cast(sinusoid(positions, dim, self.max_wavelength), inputs.dtype)  # (T, d)
        return ops.broadcast_to(ops.expand_dims(encoding, 0), ops.shape(inputs))  # (B, T, d)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "max_wavelength": self.max_wavelength}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class PositionEmbedding(keras.layers.Layer):
    r"""Learned absolute position embeddings (BERT, GPT): $P \in \mathbb{R}^{n_{max} \times d}$, row $p$
    for position $p$. Called on (B, T, d), returns $P_{[s:s+T]}$ broadcast to (B, T, d), $s$ = `start_index`."""

    def __init__(self, sequence_length, initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        self.sequence_length = int(sequence_length)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.position_embeddings = self.add_weight(
            name="embeddings", shape=(self.sequence_length, input_shape[-1]), initializer=self.initializer
        )

    def call(self, inputs, start_index=0):
        length = ops.shape(inputs)[1]
        table = ops.cast(self.position_embeddings, inputs.dtype)
        positions = ops.slice(table, (start_index, 0), (length, table.shape[-1]))  # (T, d)
        return ops.broadcast_to(ops.expand_dims(positions, 0), ops.shape(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "sequence_length": self.sequence_length,
                "initializer": keras.initializers.serialize(self.initializer)}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TokenAndPositionEmbedding(keras.layers.Layer):
    r"""Token embedding plus position information: $E_{x_t} \cdot s + P_t$.

    `position="learned"` uses `PositionEmbedding` (BERT, GPT), `"sinusoidal"` the fixed encoding
    (Transformer), `None` none. `scale_embeddings=True` multiplies token embeddings by
    $\sqrt{d_{model}}$ (Vaswani et al. §3.4). `mask_zero=True` propagates a padding mask for id 0.
    The token table is `self.token_embedding.embeddings`, which output layers may tie to.
    """

    def __init__(self, vocabulary_size, sequence_length, embedding_dim, position="learned", scale_embeddings=False,
                 mask_zero=False, embeddings_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if position not in ("learned", "sinusoidal", None):
            raise ValueError(f"`position` must be 'learned', 'sinusoidal' or None. Received: position={position!r}")
        self.vocabulary_size = int(vocabulary_size)
        self.sequence_length = int(sequence_length)
        self.embedding_dim = int(embedding_dim)
        self.position = position
        self.scale_embeddings = bool(scale_embeddings)
        self.mask_zero = bool(mask_zero)
        self.embeddings_initializer = keras.initializers.get(embeddings_initializer)
        self.token_embedding = keras.layers.Embedding(
            vocabulary_size, embedding_dim, embeddings_initializer=fresh(self.embeddings_initializer),
            mask_zero=mask_zero, dtype=self.dtype_policy, name="token_embedding",
        )
        if position == "learned":
            self.position_embedding = PositionEmbedding(
                sequence_length, initializer=fresh(self.embeddings_initializer), dtype=self.dtype_policy,
                name="position_embedding")
        elif position == "sinusoidal":
            self.position_embedding = SinusoidalPositionEncoding(dtype=self.dtype_policy, name="position_encoding")
        else:
            self.position_embedding = None

    def build(self, input_shape):
        self.token_embedding.build(input_shape)
        if self.position_embedding is not None:
            self.position_embedding.build((*input_shape, self.embedding_dim))

    def call(self, token_ids, start_index=0):
        x = self.token_embedding(token_ids)  # (B, T, d)
        if self.scale_embeddings:
            x = x * ops.cast(self.embedding_dim ** 0.5, x.dtype)
        if self.position_embedding is not None:
            x = x + self.position_embedding(x, start_index=start_index)
        return x

    def compute_mask(self, token_ids, mask=None):
        return ops.not_equal(token_ids, 0) if self.mask_zero else None

    def compute_output_shape(self, input_shape):
        return (*input_shape, self.embedding_dim)

    def get_config(self):
        return {
            **super().get_config(), "vocabulary_size": self.vocabulary_size,
            "sequence_length": self.sequence_length, "embedding_dim": self.embedding_dim,
            "position": self.position, "scale_embeddings": self.scale_embeddings, "mask_zero": self.mask_zero,
            "embeddings_initializer": keras.initializers.serialize(self.embeddings_initializer),
        }
