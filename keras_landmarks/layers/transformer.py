"""Transformer blocks shared by the Transformer, BERT and GPT, and the tied input/output embedding.

Post-LN (Vaswani et al. 2017; BERT; GPT): $x = \\mathrm{LN}(x + \\mathrm{Sublayer}(x))$.
Pre-LN (GPT-2, after He et al.'s identity mappings): $x = x + \\mathrm{Sublayer}(\\mathrm{LN}(x))$.
The position-wise feed-forward network is $\\mathrm{FFN}(x) = f(x W_1 + b_1) W_2 + b_2$ (§3.3), with
$f$ = ReLU (Transformer) or GELU (BERT: exact; GPT, GPT-2: tanh approximation).
"""

import keras
from keras import ops

from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.activations import gelu, gelu_tanh
from keras_landmarks.layers.attention import MultiHeadAttention

ACTIVATIONS = ("relu", "gelu", "gelu_tanh")


def _activation(name):
    if name == "gelu":
        return gelu
    if name == "gelu_tanh":
        return gelu_tanh
    return keras.activations.get(name)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ReversibleEmbedding(keras.layers.Embedding):
    r"""An embedding whose table also maps hidden states back to vocabulary logits:
    `layer(ids)` looks up $E_{x}$ and `layer(h, reverse=True)` computes $h E^\top$ — the weight tying
    of Press & Wolf (2017) that the Transformer (§3.4), GPT and BERT's MLM head use."""

    def call(self, inputs, reverse=False):
        if reverse:
            return ops.matmul(inputs, ops.cast(ops.transpose(self.embeddings), inputs.dtype))  # (B, T, V)
        return super().call(inputs)

    def compute_output_shape(self, input_shape, reverse=False):
        if reverse:
            return (*input_shape[:-1], self.input_dim)
        return super().compute_output_shape(input_shape)

    def compute_output_spec(self, inputs, reverse=False):
        shape = self.compute_output_shape(inputs.shape, reverse=reverse)
        return keras.KerasTensor(shape, dtype=self.compute_dtype)


class _Block(keras.layers.Layer):
    def __init__(self, num_heads, intermediate_dim, dropout=0.1, activation="relu", layer_norm_epsilon=1e-5,
                 normalize_first=False, kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if activation not in ACTIVATIONS:
            raise ValueError(f"`activation` must be one of {ACTIVATIONS}. Received: activation={activation!r}")
        self.num_heads = int(num_heads)
        self.intermediate_dim = int(intermediate_dim)
        self.dropout = float(dropout)
        self.activation = activation
        self.layer_norm_epsilon = float(layer_norm_epsilon)
        self.normalize_first = bool(normalize_first)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.supports_masking = True

    def _init(self):
        return fresh(self.kernel_initializer)

    def _norm(self, name):
        return keras.layers.LayerNormalization(epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=name)

    def _make_attention(self, hidden, name):
        if hidden % self.num_heads:
            raise ValueError(f"The hidden size ({hidden}) must be divisible by num_heads ({self.num_heads}).")
        return MultiHeadAttention(self.num_heads, hidden // self.num_heads, dropout=self.dropout,
                                  kernel_initializer=self._init(), dtype=self.dtype_policy, name=name)

    def _make_ffn(self, hidden, input_shape):
        self.ffn_norm = self._norm("ffn_norm")
        self.ffn_intermediate = keras.layers.Dense(self.intermediate_dim, kernel_initializer=self._init(),
                                                   dtype=self.dtype_policy, name="ffn_intermediate")
        self.ffn_output = keras.layers.Dense(hidden, kernel_initializer=self._init(), dtype=self.dtype_policy,
                                             name="ffn_output")
        self.ffn_dropout = keras.layers.Dropout(self.dropout)
        self.ffn_norm.build(input_shape)
        self.ffn_intermediate.build(input_shape)
        self.ffn_output.build((*input_shape[:-1], self.intermediate_dim))
        self._act = _activation(self.activation)

    def _residual(self, x, norm, sublayer, dropout, training):
        """Post-LN: LN(x + Sublayer(x)); pre-LN: x + Sublayer(LN(x)). `sublayer` may return (y, extra)."""
        out = sublayer(norm(x) if self.normalize_first else x)
        y, extra = out if isinstance(out, tuple) else (out, None)
        y = x + dropout(y, training=training)
        return (y if self.normalize_first else norm(y)), extra

    def _feed_forward(self, x, training):
        y, _ = self._residual(x, self.ffn_norm, lambda h: self.ffn_output(self._act(self.ffn_intermediate(h))),
                              self.ffn_dropout, training)
        return y

    def compute_output_shape(self, input_shape, *args, **kwargs):
        return input_shape

    def get_config(self):
        return {
            **super().get_config(), "num_heads": self.num_heads, "intermediate_dim": self.intermediate_dim,
            "dropout": self.dropout, "activation": self.activation, "layer_norm_epsilon": self.layer_norm_epsilon,
            "normalize_first": self.normalize_first,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
        }


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TransformerEncoderBlock(_Block):
    r"""Self-attention then the feed-forward network, each wrapped in a residual and LayerNorm.

    `causal=True` makes it the block of a decoder-only language model (GPT, GPT-2). Call as
    `block(x, padding_mask=None)`; for incremental decoding pass fixed-size `key_value_cache=(k, v)`
    buffers and `cache_index`, and the block returns `(x, new_cache)`.
    """

    def __init__(self, num_heads, intermediate_dim, causal=False, **kwargs):
        super().__init__(num_heads, intermediate_dim, **kwargs)
        self.causal = bool(causal)

    def build(self, input_shape):
        hidden = input_shape[-1]
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention = self._make_attention(hidden, "self_attention")
        self.self_attention_dropout = keras.layers.Dropout(self.dropout)
        self.self_attention_norm.build(input_shape)
        self.self_attention.build(input_shape, input_shape)
        self._make_ffn(hidden, input_shape)

    def call(self, x, padding_mask=None, key_value_cache=None, cache_index=None, training=None):
        def attend(h):
            return self.self_attention(h, h, padding_mask=padding_mask, use_causal_mask=self.causal,
                                       key_value_cache=key_value_cache, cache_index=cache_index, training=training)

        x, cache = self._residual(x, self.self_attention_norm, attend, self.self_attention_dropout, training)
        x = self._feed_forward(x, training)
        return (x, cache) if key_value_cache is not None else x

    def get_config(self):
        return {**super().get_config(), "causal": self.causal}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TransformerDecoderBlock(_Block):
    r"""The Transformer's decoder layer (§3.1): masked self-attention, attention over the encoder
    output, then the feed-forward network, each with a residual and LayerNorm. Call as
    `block(x, encoder_outputs, decoder_padding_mask=None, encoder_padding_mask=None)`."""

    def build(self, x_shape, encoder_outputs_shape=None):
        input_shape = x_shape
        hidden = input_shape[-1]
        encoder_shape = encoder_outputs_shape or input_shape
        self.self_attention_norm = self._norm("self_attention_norm")
        self.self_attention = self._make_attention(hidden, "self_attention")
        self.self_attention_dropout = keras.layers.Dropout(self.dropout)
        self.cross_attention_norm = self._norm("cross_attention_norm")
        self.cross_attention = self._make_attention(hidden, "cross_attention")
        self.cross_attention_dropout = keras.layers.Dropout(self.dropout)
        self.self_attention_norm.build(input_shape)
        self.self_attention.build(input_shape, input_shape)
        self.cross_attention_norm.build(input_shape)
        self.cross_attention.build(input_shape, encoder_shape)
        self._make_ffn(hidden, input_shape)

    def call(self, x, encoder_outputs, decoder_padding_mask=None, encoder_padding_mask=None, training=None):
        x, _ = self._residual(
            x, self.self_attention_norm,
            lambda h: self.self_attention(h, h, padding_mask=decoder_padding_mask, use_causal_mask=True,
                                          training=training),
            self.self_attention_dropout, training)
        x, _ = self._residual(
            x, self.cross_attention_norm,
            lambda h: self.cross_attention(h, encoder_outputs, padding_mask=encoder_padding_mask, training=training),
            self.cross_attention_dropout, training)
        return self._feed_forward(x, training)
