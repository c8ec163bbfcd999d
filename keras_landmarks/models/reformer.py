"""Reformer: a Transformer language model for long sequences, by LSH attention and reversible layers.

Kitaev, Kaiser & Levskaya. "Reformer: The Efficient Transformer." ICLR 2020.
https://arxiv.org/abs/2001.04451

Each layer is a reversible pair of half-residuals (§3) over two copies of the embedded sequence:

$$Y_1 = X_1 + \\mathrm{Attention}(\\mathrm{LayerNorm}(X_2)), \\qquad
Y_2 = X_2 + \\mathrm{FeedForward}(\\mathrm{LayerNorm}(Y_1))$$

with causal LSH self-attention (`layers.LSHSelfAttention`: shared query-key projection, unit-length
keys, angular LSH by random rotations, sort into chunks that attend to themselves and the chunk before,
several hashing rounds combined by their normalisers, no attention to oneself unless nothing else) and a
ReLU feed-forward (`layers.ReversibleBlock` / `ReversibleStack`: in training, gradients are rebuilt
from the outputs instead of stored activations). Positions are the authors' axial embeddings: two
learned tables of shapes (A₁, 1, d₁) and (1, A₂, d₂), broadcast to an A₁ × A₂ grid and concatenated
(d₁ + d₂ = d), position t being row t of the flattened grid. The two halves are concatenated at the
end, normalised and projected to the vocabulary.

Inputs: `token_ids` (B, T), at most A₁·A₂ long. Output: `logits` (B, T, V), each position's scores for
the next token.

Registered: `reformer_enwik8`, the authors' enwik8 configuration (trax's `reformer_enwik8.gin` at
its larger size, the one its comments give for more memory): 12 layers, d = 1,024 per half, FFN 4,096,
8 heads of 64, LSH chunks of 256 with 2 hashing rounds, axial positions 128 × 512 (dims 256 + 768) for
65,536-byte sequences, 258 symbols (256 bytes, padding, end), dropout 0.2.

Deviations:
- Every layer uses LSH attention. The released enwik8 configuration mixes in local (chunked,
  non-hashed) attention: three layers of it for each LSH layer.
- The hashing rotations are drawn once per layer (from its seed) and kept; the authors draw new ones
  at every step.
- The sequence is not shifted right inside the model (trax's `ShiftRight`); as for every language
  model here, the procedure pairs each position with the next token.
- The feed-forward runs over the whole sequence at once by default, so exported graphs hold no loop;
  `feed_forward_chunk=n` computes it n positions at a time (§3's chunking: the same outputs in less
  memory).
"""

import keras
from keras import ops

from keras_landmarks.config import check_positive, check_rate, fail
from keras_landmarks.inputs import TokenIds
from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.reformer import LSHSelfAttention, ReversibleBlock, ReversibleStack
from keras_landmarks.models._decoding import generate_signature, sample_token
from keras_landmarks.models._text import token_input
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="Reformer: The Efficient Transformer",
    authors="Nikita Kitaev, Łukasz Kaiser, Anselm Levskaya",
    year=2020,
    venue="ICLR 2020",
    url="https://arxiv.org/abs/2001.04451",
    extends=("transformer (Vaswani et al. 2017)", "revnet (Gomez et al. 2017)",
             "angular LSH (Andoni et al. 2015)"),
    adopted_by=("performer / linear-attention line", "longformer, big bird (sparse long-context attention)"),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class AxialPositionEmbedding(keras.layers.Layer):
    """Adds the axial position embedding: tables (A₁, 1, d₁) and (1, A₂, d₂) broadcast to (A₁, A₂, ·),
    concatenated on the last axis and flattened; position t takes row t. `call(x)` with x (B, T, d)."""

    def __init__(self, shape, dims, **kwargs):
        super().__init__(**kwargs)
        self.shape, self.dims = tuple(int(s) for s in shape), tuple(int(d) for d in dims)

    def build(self, input_shape):
        init = keras.initializers.RandomNormal(0.0, 1.0)
        (a1, a2), (d1, d2) = self.shape, self.dims
        self.rows = self.add_weight(name="rows", shape=(a1, 1, d1), initializer=fresh(init))
        self.columns = self.add_weight(name="columns", shape=(1, a2, d2), initializer=fresh(init))

    def call(self, x):
        (a1, a2), (d1, d2) = self.shape, self.dims
        grid = ops.concatenate([ops.broadcast_to(self.rows, (a1, a2, d1)),
                                ops.broadcast_to(self.columns, (a1, a2, d2))], axis=-1)
        table = ops.reshape(grid, (a1 * a2, d1 + d2))
        return x + ops.cast(ops.expand_dims(table[: ops.shape(x)[1]], 0), x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "shape": list(self.shape), "dims": list(self.dims)}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class AttentionHalf(keras.layers.Layer):
    """F of a reversible layer: LayerNorm, causal LSH self-attention, dropout."""

    def __init__(self, num_heads, head_dim, chunk_length, num_hashes, dropout=0.0, seed=0, **kwargs):
        super().__init__(**kwargs)
        self.options = {"num_heads": int(num_heads), "head_dim": int(head_dim), "chunk_length": int(chunk_length),
                        "num_hashes": int(num_hashes), "dropout": float(dropout), "seed": int(seed)}
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.attention = LSHSelfAttention(**self.options, name="attention")
        self.drop = keras.layers.Dropout(self.options["dropout"])

    def build(self, input_shape):
        for layer in (self.norm, self.attention):
            if not layer.built:
                layer.build(input_shape)

    def call(self, x, training=None):
        return self.drop(self.attention(self.norm(x), training=training), training=training)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), **self.options}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class FeedForwardHalf(keras.layers.Layer):
    """G of a reversible layer: LayerNorm, Dense + ReLU, dropout, Dense, dropout.

    `chunk` > 0 computes it `chunk` positions at a time (§3, "Chunking"), one chunk after another in a
    loop (`ops.map`), so the (B, T, d_ff) hidden layer never exists whole: the same outputs in less
    memory. The sequence is padded to a multiple of `chunk` and cut back (the layer is position-wise)."""

    def __init__(self, intermediate_dim, dropout=0.0, chunk=0, **kwargs):
        super().__init__(**kwargs)
        self.intermediate_dim, self.dropout, self.chunk = int(intermediate_dim), float(dropout), int(chunk)
        self.norm = keras.layers.LayerNormalization(epsilon=1e-6, name="norm")
        self.drop = keras.layers.Dropout(self.dropout)
        self.inner = self.outer = None

    def build(self, input_shape):
        if self.inner is not None:  # built already (a loaded model's layers come built)
            return
        init = keras.initializers.GlorotUniform()
        self.inner = keras.layers.Dense(self.intermediate_dim, activation="relu", kernel_initializer=fresh(init),
                                        name="inner")
        self.outer = keras.layers.Dense(input_shape[-1], kernel_initializer=fresh(init), name="outer")
        self.norm.build(input_shape)
        self.inner.build(input_shape)
        self.outer.build((*input_shape[:-1], self.intermediate_dim))

    def _apply(self, x, training):
        h = self.drop(self.inner(self.norm(x)), training=training)
        return self.drop(self.outer(h), training=training)

    def call(self, x, training=None):
        if not self.chunk:
            return self._apply(x, training)
        b, t, d = ops.shape(x)[0], ops.shape(x)[1], x.shape[-1]
        padded = ops.pad(x, [[0, 0], [0, (-t) % self.chunk], [0, 0]])
        chunks = ops.transpose(ops.reshape(padded, (b, -1, self.chunk, d)), (1, 0, 2, 3))  # (C, B, chunk, d)
        out = ops.map(lambda part: self._apply(part, training), chunks)
        return ops.reshape(ops.transpose(out, (1, 0, 2, 3)), (b, -1, d))[:, :t]

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
                "chunk": self.chunk}


def Reformer(*, vocabulary_size: int = 258, num_layers: int = 12, hidden_dim: int = 1_024,
             intermediate_dim: int = 4_096, num_heads: int = 8, head_dim: int = 64, chunk_length: int = 256,
             num_hashes: int = 2, axial_shape: tuple = (128, 512), axial_dims: tuple = (256, 768), dropout: float = 0.2,
             feed_forward_chunk: int = 0, name: str = "reformer_enwik8"):
    """`token_ids` (B, T) → `logits` (B, T, V); see the module docstring."""
    for key, value in (("vocabulary_size", vocabulary_size), ("num_layers", num_layers), ("hidden_dim", hidden_dim),
                       ("intermediate_dim", intermediate_dim), ("num_heads", num_heads), ("head_dim", head_dim),
                       ("chunk_length", chunk_length), ("num_hashes", num_hashes), ("axial_shape", axial_shape),
                       ("axial_dims", axial_dims)):
        check_positive(name, key, value)
    check_rate(name, "dropout", dropout)
    if isinstance(feed_forward_chunk, bool) or not isinstance(feed_forward_chunk, int) or feed_forward_chunk < 0:
        fail(name, "feed_forward_chunk", feed_forward_chunk, "an integer >= 0 (positions per feed-forward chunk; 0: "
                                                             "the whole sequence at once)")
    if len(tuple(axial_shape)) != 2 or len(tuple(axial_dims)) != 2 or sum(axial_dims) != hidden_dim:
        fail(name, "axial_dims", axial_dims, f"two dimensions summing to hidden_dim={hidden_dim} (with two axial_shape "
                                             "sizes)")
    token_ids = token_input("token_ids")
    x = keras.layers.Embedding(vocabulary_size, hidden_dim, embeddings_initializer=fresh(
        keras.initializers.RandomNormal(0.0, 1.0)), name="token_embedding")(token_ids)
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    x = AxialPositionEmbedding(axial_shape, axial_dims, name="axial_positions")(x)
    blocks = [ReversibleBlock(AttentionHalf(num_heads, head_dim, chunk_length, num_hashes, dropout, seed=i,
                                            name=f"attention_{i}"),
                              FeedForwardHalf(intermediate_dim, dropout, chunk=feed_forward_chunk,
                                              name=f"feed_forward_{i}"), name=f"layer_{i}")
              for i in range(num_layers)]
    y1, y2 = ReversibleStack(blocks, name="reversible_layers")((x, x))
    y = keras.layers.Concatenate(name="halves")([y1, y2])
    y = keras.layers.LayerNormalization(epsilon=1e-6, name="final_norm")(y)
    y = keras.layers.Dropout(dropout, name="final_dropout")(y)
    logits = keras.layers.Dense(vocabulary_size, kernel_initializer=fresh(keras.initializers.GlorotUniform()),
                                name="logits")(y)
    return keras.Model(token_ids, logits, name=name)


def make_generator(model):
    """The `generate` serving signature: `max_new_tokens` tokens sampled one at a time (at `temperature`,
    among the `top_k` most likely; 1: greedy), each from the model re-reading the whole prefix (LSH
    attention hashes the sequence as a whole: no cache). Returns the prompt and the new tokens,
    (B, T + max_new_tokens)."""
    import tensorflow as tf

    @tf.function(input_signature=generate_signature())
    def generate(prompt_ids, max_new_tokens, temperature, top_k, seed):
        check = tf.debugging.assert_greater(tf.shape(prompt_ids)[1], 0,
                                            message="the prompt must hold at least one token")
        with tf.control_dependencies([check]):
            prompt_ids = tf.identity(prompt_ids)

        def body(t, ids):
            token = sample_token(model(ids, training=False)[:, -1], temperature, top_k, seed + t)
            return t + 1, tf.concat([ids, token[:, None]], axis=1)

        _, ids = tf.while_loop(lambda t, _: t < max_new_tokens, body, (tf.constant(0), prompt_ids),
                               shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None])))
        return {"token_ids": ids}

    return generate


def _io(config):
    return {"inputs": {"token_ids": (None, None)}, "outputs": {"logits": (None, None, config["vocabulary_size"])}}


def _inputs(config):
    a1, a2 = config["axial_shape"]
    return {"token_ids": TokenIds(config["vocabulary_size"], a1 * a2)}


# The authors' enwik8 run (trax reformer_enwik8.gin): Adam (β₂ 0.98, ε 10⁻⁹) with the rate
# 0.03125 · min(1, step / 2,000) / √max(step, 2,000) (peak 7·10⁻⁴), 100k steps of one 65,536-byte
# sequence per device; next-token cross-entropy.
RECIPE = Recipe(optimizer="adam", learning_rate=7e-4, beta_2=0.98, schedule="rsqrt", warmup=0.02, batch_size=8,
                epochs=1, loss="sparse_categorical_crossentropy", metrics=(), procedure="language_model",
                options={"segment": 512, "sum_over_time": False},
                source="Kitaev et al. 2020 and their trax configuration (reformer_enwik8.gin): Adam β₂ 0.98, linear "
                       "warm-up to 7·10⁻⁴ then decay as 1/√step; sequences of 65,536 bytes there, 512 words here")

register(
    "reformer_enwik8",
    family="reformer",
    builder=Reformer,
    paper=PAPER,
    config={},
    params=120_871_170,
    params_source="Ours for the authors' enwik8 configuration (the paper reports no count): 258·1,024 token "
                  "embedding + axial positions 128·256 + 512·768 + 12 layers × (LayerNorm 2·1,024, shared "
                  "query-key, value and output projections 3·1,024·512, LayerNorm 2·1,024, FFN 1,024·4,096 + 4,096 + "
                  "4,096·1,024 + 1,024) + final LayerNorm 2·2,048 + output 2,048·258 + 258 = 120,871,170. The "
                  "hashing rotations are constants, not parameters.",
    task="language_model",
    io=_io,
    inputs=_inputs,
    signatures=lambda model: {"generate": make_generator(model)},
    test_config={"vocabulary_size": 30, "num_layers": 2, "hidden_dim": 16, "intermediate_dim": 32, "num_heads": 2,
                 "head_dim": 4, "chunk_length": 4, "num_hashes": 2, "axial_shape": (4, 8), "axial_dims": (8, 8),
                 "dropout": 0.0},
    description="Long-sequence Transformer LM: LSH attention and reversible residual layers.",
    training=lambda c: RECIPE,
)
