"""The Reformer's two memory savers (Kitaev, Kaiser & Levskaya 2020): LSH attention and reversible layers.

`LSHSelfAttention` (§2): queries and keys share one projection; each round of hashing draws a random
rotation $R$ and puts vector $x$ in bucket $h(x) = \\arg\\max([xR; -xR])$ (angular LSH). Positions are
sorted by (round, bucket, position), cut into chunks of `chunk_length`, and each chunk attends to itself
and the chunk before it (so a bucket split across a chunk boundary still sees itself). Keys are the
shared vectors normalised to unit length; a position never attends to itself unless nothing else is
allowed (its score is lowered by 10⁴), and never to a later one (causal). Rounds are combined by
their softmax normalisers: with $z_r(i)$ the log-sum-exp of query $i$'s scores in round $r$,
$o_i = \\sum_r \\frac{\\exp z_r(i)}{\\sum_{r'} \\exp z_{r'}(i)}\\, o_{i, r}$, which is attention over
the union of the rounds' key sets (a key found in several rounds counted once per round, as the
authors' code does).

`ReversibleBlock` (§3, after RevNet): the activations are split in two halves,
$Y_1 = X_1 + F(X_2)$, $Y_2 = X_2 + G(Y_1)$, and inverted exactly by $X_2 = Y_2 - G(Y_1)$,
$X_1 = Y_1 - F(X_2)$. `ReversibleStack` runs blocks in order; in training (TensorFlow backend, no
dropout) its gradient is computed from the top block down by reconstructing each block's inputs from
its outputs, so no layer's activations are kept (`reversible_gradients`).
"""

import keras
import numpy as np
from keras import ops

from keras_landmarks.layers._init import fresh

# Score penalties: on a position attending to itself (so it does only when nothing else is allowed) and
# on a later position. The authors' code takes 10⁵ and 10⁹; these keep the same order (a real score ≫
# itself ≫ the future) within float16's range (65,504), so a float16 artifact masks as float32 does.
_SELF = 1e4
_FUTURE = 3e4


def first_argmax(x):
    """argmax over the last axis (the first of equal maxima) by comparisons and a minimum, which lower to
    TFLite built-ins; Keras's float argmax adds a sign-bit test (BitwiseAnd) that TFLite lacks."""
    size = ops.shape(x)[-1]
    below = ops.cast(x < ops.max(x, axis=-1, keepdims=True), "int32")
    return ops.min(ops.arange(size, dtype="int32") + below * size, axis=-1)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LSHSelfAttention(keras.layers.Layer):
    """Causal LSH self-attention (see the module docstring). `call(x)` with x (B, T, d), T a multiple of
    `chunk_length`; buckets per round: T / `chunk_length` (rounded up to an even number), the authors'
    choice of about one chunk per bucket. A length that is not a multiple of `chunk_length` is padded at
    the end (causal: no real position sees the padding). The rotations are drawn once from `seed` and
    kept, so an exported model hashes as the trained one did."""

    def __init__(self, num_heads, head_dim, chunk_length=64, num_hashes=2, max_buckets=1024, dropout=0.0, seed=0,
                 **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim = int(num_heads), int(head_dim)
        self.chunk_length, self.num_hashes = int(chunk_length), int(num_hashes)
        self.max_buckets, self.dropout, self.seed = int(max_buckets), float(dropout), int(seed)
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        # The random rotations, (head_dim, rounds, max_buckets / 2): drawn from `seed`, a constant of the
        # graph rather than a weight (the model's parameters are its projections only).
        self.rotations = np.random.default_rng(self.seed).standard_normal(
            (self.head_dim, self.num_hashes, self.max_buckets // 2)).astype("float32")

    def build(self, input_shape):
        d, h, k = input_shape[-1], self.num_heads, self.head_dim
        init = keras.initializers.GlorotUniform()
        self.w_qk = self.add_weight(name="query_key_kernel", shape=(d, h, k), initializer=fresh(init))
        self.w_v = self.add_weight(name="value_kernel", shape=(d, h, k), initializer=fresh(init))
        self.w_o = self.add_weight(name="output_kernel", shape=(h, k, d), initializer=fresh(init))

    def buckets(self, qk, count):
        """Bucket ids (B, h, rounds, T) in [0, count) of the shared vectors qk (B, h, T, k)."""
        rotations = ops.cast(ops.convert_to_tensor(self.rotations), qk.dtype)[:, :, : count // 2]
        rotated = ops.einsum("bhtk,knr->bhntr", qk, rotations)
        return first_argmax(ops.concatenate([rotated, -rotated], axis=-1))

    def call(self, x, training=None):
        c = self.chunk_length
        length = ops.shape(x)[1]
        padded = (length + c - 1) // c * c  # positions past the end: later than every real one, never attended to
        x = ops.pad(x, [[0, 0], [0, padded - length], [0, 0]])
        return self._attend(x, training)[:, :length]

    def _attend(self, x, training):
        b, t = ops.shape(x)[0], ops.shape(x)[1]
        c, n, h, k = self.chunk_length, self.num_hashes, self.num_heads, self.head_dim
        count = ops.minimum(ops.maximum(2, (t // c + 1) // 2 * 2), self.max_buckets)  # even, ≈ T / c
        qk = ops.einsum("btd,dhk->bhtk", x, ops.cast(self.w_qk, x.dtype))
        v = ops.einsum("btd,dhk->bhtk", x, ops.cast(self.w_v, x.dtype))
        buckets = self.buckets(qk, count)  # (B, h, n, T)
        rounds = ops.reshape(ops.arange(n, dtype="int32"), (1, 1, n, 1))
        positions = ops.reshape(ops.arange(t, dtype="int32"), (1, 1, 1, -1))
        key = (rounds * ops.cast(count, "int32") + ops.cast(buckets, "int32")) * t + positions  # round, bucket, t
        order = ops.argsort(ops.reshape(key, (b, h, n * t)), axis=-1)  # (B, h, nT)
        undo = ops.argsort(order, axis=-1)
        where = order % t  # the position each sorted slot holds
        sqk = ops.take_along_axis(qk, ops.expand_dims(where, -1), axis=2)  # (B, h, nT, k)
        sv = ops.take_along_axis(v, ops.expand_dims(where, -1), axis=2)
        chunks = n * t // c
        q = ops.reshape(sqk, (b, h, chunks, c, k))
        keys = q / ops.sqrt(ops.sum(ops.square(q), axis=-1, keepdims=True) + 1e-12)  # unit length
        values = ops.reshape(sv, (b, h, chunks, c, k))
        at = ops.reshape(where, (b, h, chunks, c))

        def with_previous(z):  # each chunk with the chunk before it (the first with the last: another round's)
            return ops.concatenate([z, ops.concatenate([z[:, :, -1:], z[:, :, :-1]], axis=2)], axis=3)

        keys, values, key_at = with_previous(keys), with_previous(values), with_previous(at)
        scores = ops.einsum("bhcqk,bhcjk->bhcqj", q, keys) / ops.cast(k**0.5, q.dtype)
        qa, ka = ops.expand_dims(at, -1), ops.expand_dims(key_at, -2)
        scores = scores - _FUTURE * ops.cast(ka > qa, scores.dtype) - _SELF * ops.cast(ka == qa, scores.dtype)
        scores = ops.cast(scores, "float32")
        # Softmax and its normaliser z_r(i) from the max-shifted scores (finite by construction: no
        # IsFinite guard, which float16 ONNX cannot run); exp(s − z) would lose the digits of a row whose
        # scores are all near −10⁴ (a position that may only see itself), where z is float32-accurate only.
        peak = ops.stop_gradient(ops.max(scores, axis=-1, keepdims=True))
        shifted = ops.exp(scores - peak)
        total = ops.sum(shifted, axis=-1, keepdims=True)
        normaliser = peak + ops.log(total)
        weights = ops.cast(shifted / total, x.dtype)
        weights = self.dropout_layer(weights, training=training)
        out = ops.einsum("bhcqj,bhcjk->bhcqk", weights, values)
        out = ops.take_along_axis(ops.reshape(out, (b, h, n * t, k)), ops.expand_dims(undo, -1), axis=2)
        normaliser = ops.take_along_axis(ops.reshape(normaliser, (b, h, n * t)), undo, axis=2)
        out = ops.reshape(out, (b, h, n, t, k))
        if n > 1:
            share = ops.softmax(ops.reshape(normaliser, (b, h, n, t)), axis=2)  # exp z_r / Σ exp z_r'
            out = ops.sum(out * ops.cast(ops.expand_dims(share, -1), out.dtype), axis=2)  # (B, h, T, k)
        else:
            out = out[:, :, 0]
        return ops.einsum("bhtk,hkd->btd", out, ops.cast(self.w_o, out.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "chunk_length": self.chunk_length, "num_hashes": self.num_hashes, "max_buckets": self.max_buckets,
                "dropout": self.dropout, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ReversibleBlock(keras.layers.Layer):
    """$Y_1 = X_1 + F(X_2)$, $Y_2 = X_2 + G(Y_1)$ with `f` and `g` layers of (B, T, d) → (B, T, d);
    `inverse(y1, y2)` gives $(X_1, X_2)$ back. `call((x1, x2))` returns `(y1, y2)`."""

    def __init__(self, f, g, **kwargs):
        super().__init__(**kwargs)
        self.f, self.g = f, g

    def build(self, input_shape):
        for layer in (self.f, self.g):  # a loaded block's halves come built from their own configs
            if not layer.built:
                layer.build(input_shape[0])

    def call(self, inputs, training=None):
        x1, x2 = inputs
        y1 = x1 + self.f(x2, training=training)
        return y1, x2 + self.g(y1, training=training)

    def inverse(self, y1, y2, training=None):
        x2 = y2 - self.g(y1, training=training)
        return y1 - self.f(x2, training=training), x2

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "f": keras.saving.serialize_keras_object(self.f),
                "g": keras.saving.serialize_keras_object(self.g)}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        f, g = (keras.saving.deserialize_keras_object(config.pop(k)) for k in ("f", "g"))
        return cls(f, g, **config)


def reversible_gradients(blocks, y1, y2, dy1, dy2, training=False):
    """The backward pass of a reversible stack from its outputs alone (Gomez et al. 2017, Algorithm 1):
    from the top block down, rebuild the block's inputs with `inverse`, re-run it under a tape and take
    the vector-Jacobian product. Returns (dx1, dx2, {variable path: gradient}). Nothing of the forward
    pass is needed but (y1, y2), so memory does not grow with depth."""
    import tensorflow as tf

    grads = {}
    for block in reversed(blocks):
        x1, x2 = block.inverse(y1, y2, training=training)
        x1, x2 = tf.stop_gradient(x1), tf.stop_gradient(x2)
        variables = [v.value for v in block.trainable_variables]
        with tf.GradientTape() as tape:
            tape.watch([x1, x2])
            out1, out2 = block((x1, x2), training=training)
        found = tape.gradient([out1, out2], [x1, x2, *variables], output_gradients=[dy1, dy2])
        dy1, dy2 = found[0], found[1]
        for variable, g in zip(block.trainable_variables, found[2:]):
            grads[variable.path] = g
        y1, y2 = x1, x2
    return dy1, dy2, grads


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ReversibleStack(keras.layers.Layer):
    """`ReversibleBlock`s in order: `call((x1, x2))` → `(y1, y2)`. Training on the TensorFlow backend
    without dropout, the gradient comes from `reversible_gradients` (activations are rebuilt, not
    stored); with dropout the rebuilt blocks would draw other masks, so ordinary back-propagation is
    used (the gradient is the same; the memory is not saved)."""

    def __init__(self, blocks, reversible_backward=True, **kwargs):
        super().__init__(**kwargs)
        self.blocks = list(blocks)
        self.reversible_backward = bool(reversible_backward)

    def build(self, input_shape):
        for block in self.blocks:
            if not block.built:
                block.build(input_shape)

    def _forward(self, x1, x2, training):
        for block in self.blocks:
            x1, x2 = block((x1, x2), training=training)
        return x1, x2

    def call(self, inputs, training=None):
        x1, x2 = inputs
        if not (training and self.reversible_backward and keras.backend.backend() == "tensorflow"):
            return self._forward(x1, x2, training)
        import tensorflow as tf

        @tf.custom_gradient
        def run(a, b):
            y1, y2 = self._forward(a, b, training)

            def backward(dy1, dy2, variables=None):
                da, db, grads = reversible_gradients(self.blocks, y1, y2, dy1, dy2, training)
                by_ref = {v.value.ref(): grads.get(v.path) for v in self.trainable_variables}
                return (da, db), [by_ref.get(v.ref()) for v in variables or ()]

            return (y1, y2), backward

        return run(x1, x2)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        return {**super().get_config(), "blocks": [keras.saving.serialize_keras_object(b) for b in self.blocks],
                "reversible_backward": self.reversible_backward}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        blocks = [keras.saving.deserialize_keras_object(b) for b in config.pop("blocks")]
        return cls(blocks, **config)
