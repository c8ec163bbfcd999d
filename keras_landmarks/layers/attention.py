"""Attention, from Bahdanau's additive alignment to Transformer-XL's relative positions.

Every layer is written in `keras.ops` with matmul / reshape / transpose (no einsum), so that each
converts to TFLite built-in ops (BATCH_MATMUL, SOFTMAX, MUL, ...) and to ONNX. Masks follow
Keras: a boolean mask is True where attention is allowed. Masked scores are replaced by -1e9 before a
float32 softmax, so a float16 model does not overflow and a fully masked row gives uniform weights
rather than NaN.
"""

import math

import keras
from keras import ops

from keras_landmarks.layers._init import fresh

_MASKED = -1e9


def masked_softmax(scores, mask=None):
    r"""Softmax over the last axis in float32, with `scores` replaced by -1e9 where `mask` is False.

    The replacement is arithmetic, $s \cdot m + (1 - m) \cdot (-10^9)$ with $m \in \{0, 1\}$, which is exactly
    `where(m, s, -1e9)` for finite scores but lowers to MUL and ADD: TFLite's XNNPACK delegate takes
    those, where a SELECT would split the graph into a partition per layer (measured on a 4-layer BERT
    at a static [1, 128]: 6 partitions with SELECT_V2, 1 without)."""
    dtype = scores.dtype
    scores = ops.cast(scores, "float32")
    if mask is not None:
        keep = ops.cast(ops.cast(mask, "bool"), "float32")  # any non-zero value allows, as in Keras
        scores = scores * keep + (1.0 - keep) * _MASKED
    return ops.cast(ops.softmax(scores, axis=-1), dtype)


def causal_mask(query_length, key_length, offset=0):
    """(Tq, Tk) boolean: query i sees keys j <= i + offset.

    `offset=0` is Keras's convention (the first query is the first position); a decoder that caches
    `offset` earlier positions' keys passes that count, so query i sits at position offset + i.
    """
    rows = ops.expand_dims(ops.arange(query_length), 1) + offset
    cols = ops.expand_dims(ops.arange(key_length), 0)
    return cols <= rows


def _combine(*masks):
    """The product of the masks that are given, as float32 0/1 (None when none is)."""
    result = None
    for mask in masks:
        if mask is None:
            continue
        mask = ops.cast(ops.cast(mask, "bool"), "float32")
        result = mask if result is None else result * mask
    return result


def _glorot():
    return keras.initializers.GlorotUniform()


def _glorot_vector():
    # A vector (v_a) has no fan-in/fan-out pair; a small uniform range keeps the initial scores near 0.
    return keras.initializers.RandomUniform(-0.1, 0.1)


# ----------------------------------------------------------------------------------------------------
# Recurrent-era attention.


@keras.saving.register_keras_serializable(package="keras_landmarks")
class AdditiveAttention(keras.layers.Layer):
    r"""Additive attention of Bahdanau, Cho & Bengio (2014), Appendix A.1.2.

    $$e_{ij} = v_a^\top \tanh(W_a s_{i-1} + U_a h_j), \quad \alpha_{ij} = \frac{\exp e_{ij}}{\sum_k \exp e_{ik}},
    \quad c_i = \sum_j \alpha_{ij} h_j$$

    Called as `layer(query, keys)`: `query` holds decoder states $s$ (B, Tq, n) and `keys` the
    annotations $h$ (B, Tk, 2n); returns the contexts $c$ (B, Tq, 2n), and $\alpha$ (B, Tq, Tk) with
    `return_attention_scores=True`. `mask` (B, Tk) marks real (non-padding) annotations.

    Keras's `keras.layers.AdditiveAttention` scores $\sum \tanh(q + k)$ with a learned scale and no
    $W_a$, $U_a$ projections; this is the paper's form, with both projections and $v_a$.
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.supports_masking = True  # a Keras mask on the keys is accepted; pass it as `mask`

    def compute_mask(self, *args, **kwargs):
        return None  # outputs are per query, the keys' mask does not apply to them

    def build(self, query_shape, keys_shape=None):
        keys_shape = keys_shape or query_shape
        self.w_a = self.add_weight(name="w_a", shape=(query_shape[-1], self.units), initializer=_glorot())
        self.u_a = self.add_weight(name="u_a", shape=(keys_shape[-1], self.units), initializer=_glorot())
        self.v_a = self.add_weight(name="v_a", shape=(self.units,), initializer=_glorot_vector())

    def precompute_keys(self, keys):
        """$U_a h_j$, which does not depend on the decoder step (Appendix A.1.2 notes this)."""
        return ops.matmul(keys, ops.cast(self.u_a, keys.dtype))  # (B, Tk, units)

    def call(self, query, keys, mask=None, return_attention_scores=False, projected_keys=None):
        uh = self.precompute_keys(keys) if projected_keys is None else projected_keys  # (B, Tk, units)
        ws = ops.matmul(query, ops.cast(self.w_a, query.dtype))  # (B, Tq, units)
        hidden = ops.tanh(ops.expand_dims(ws, 2) + ops.expand_dims(uh, 1))  # (B, Tq, Tk, units)
        scores = ops.sum(hidden * ops.cast(self.v_a, hidden.dtype), axis=-1)  # e_ij, (B, Tq, Tk)
        weights = masked_softmax(scores, None if mask is None else ops.expand_dims(mask, 1))  # α_ij
        context = ops.matmul(weights, keys)  # c_i = Σ_j α_ij h_j, (B, Tq, 2n)
        return (context, weights) if return_attention_scores else context

    def compute_output_shape(self, query_shape, keys_shape=None):
        return (*query_shape[:-1], (keys_shape or query_shape)[-1])

    def get_config(self):
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LuongAttention(keras.layers.Layer):
    r"""Global attention of Luong, Pham & Manning (2015), eq. 8, with its three scores:

    $$\mathrm{score}(h_t, \bar h_s) = \begin{cases} h_t^\top \bar h_s & \text{dot} \\
    h_t^\top W_a \bar h_s & \text{general} \\ v_a^\top \tanh(W_a [h_t; \bar h_s]) & \text{concat}\end{cases}$$

    Called as `layer(query, keys)`; returns the context $c_t = \sum_s a_t(s) \bar h_s$, and the
    alignment $a_t$ with `return_attention_scores=True`. `dot` needs equal query and key widths.
    """

    SCORES = ("dot", "general", "concat")

    def __init__(self, score="general", units=None, **kwargs):
        super().__init__(**kwargs)
        if score not in self.SCORES:
            raise ValueError(f"`score` must be one of {self.SCORES}. Received: score={score!r}")
        if score == "concat" and not units:
            raise ValueError("`score='concat'` needs `units` (the width of W_a).")
        self.score = score
        self.units = units
        self.supports_masking = True

    def compute_mask(self, *args, **kwargs):
        return None

    def build(self, query_shape, keys_shape=None):
        keys_shape = keys_shape or query_shape
        dq, dk = query_shape[-1], keys_shape[-1]
        if self.score == "dot" and dq != dk:
            raise ValueError(f"`score='dot'` needs equal query and key widths. Received: {dq} and {dk}")
        if self.score == "general":
            self.w_a = self.add_weight(name="w_a", shape=(dq, dk), initializer=_glorot())
        elif self.score == "concat":
            # W_a [h_t; h_s] = W_q h_t + W_k h_s: one matrix, split to avoid a (Tq × Tk) concatenation.
            self.w_q = self.add_weight(name="w_a_query", shape=(dq, self.units), initializer=_glorot())
            self.w_k = self.add_weight(name="w_a_keys", shape=(dk, self.units), initializer=_glorot())
            self.v_a = self.add_weight(name="v_a", shape=(self.units,), initializer=_glorot_vector())

    def call(self, query, keys, mask=None, return_attention_scores=False):
        if self.score == "dot":
            scores = ops.matmul(query, ops.swapaxes(keys, 1, 2))  # (B, Tq, Tk)
        elif self.score == "general":
            scores = ops.matmul(ops.matmul(query, ops.cast(self.w_a, query.dtype)), ops.swapaxes(keys, 1, 2))
        else:
            wq = ops.expand_dims(ops.matmul(query, ops.cast(self.w_q, query.dtype)), 2)  # (B, Tq, 1, units)
            wk = ops.expand_dims(ops.matmul(keys, ops.cast(self.w_k, keys.dtype)), 1)  # (B, 1, Tk, units)
            scores = ops.sum(ops.tanh(wq + wk) * ops.cast(self.v_a, query.dtype), axis=-1)  # (B, Tq, Tk)
        weights = masked_softmax(scores, None if mask is None else ops.expand_dims(mask, 1))
        context = ops.matmul(weights, keys)  # (B, Tq, dk)
        return (context, weights) if return_attention_scores else context

    def compute_output_shape(self, query_shape, keys_shape=None):
        return (*query_shape[:-1], (keys_shape or query_shape)[-1])

    def get_config(self):
        return {**super().get_config(), "score": self.score, "units": self.units}


# ----------------------------------------------------------------------------------------------------
# Transformer attention.


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ScaledDotProductAttention(keras.layers.Layer):
    r"""Scaled dot-product attention (Vaswani et al. 2017, eq. 1):

    $$\mathrm{Attention}(Q, K, V) = \mathrm{softmax}\!\left(\frac{QK^\top}{\sqrt{d_k}}\right) V$$

    Called as `layer(query, key, value)` on tensors (..., Tq, d_k), (..., Tk, d_k), (..., Tk, d_v).
    `mask` is broadcastable to (..., Tq, Tk); `padding_mask` (B, Tk) marks real keys; `causal=True`
    (or `use_causal_mask=True` in the call) hides later positions (§3.2.3): query i sees keys
    j <= i + `causal_offset`. No weights.
    """

    def __init__(self, causal=False, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.causal = bool(causal)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(self.dropout)
        self.supports_masking = True

    def call(self, query, key, value, mask=None, padding_mask=None, use_causal_mask=None,
             return_attention_scores=False, training=None, causal_offset=0):
        d_k = query.shape[-1]
        scores = ops.matmul(query, ops.swapaxes(key, -1, -2)) / ops.cast(math.sqrt(d_k), query.dtype)  # (..., Tq, Tk)
        if padding_mask is not None:
            # (B, Tk) → (B, 1, ..., 1, Tk), broadcast over heads and queries.
            padding_mask = ops.reshape(padding_mask, (-1,) + (1,) * (len(scores.shape) - 2) + (ops.shape(key)[-2],))
        causal = None
        if self.causal if use_causal_mask is None else use_causal_mask:
            causal = causal_mask(ops.shape(query)[-2], ops.shape(key)[-2], causal_offset)
        weights = masked_softmax(scores, _combine(mask, padding_mask, causal))
        output = ops.matmul(self.dropout_layer(weights, training=training), value)  # (..., Tq, d_v)
        return (output, weights) if return_attention_scores else output

    def compute_output_shape(self, query_shape, key_shape, value_shape):
        return (*query_shape[:-1], value_shape[-1])

    def get_config(self):
        return {**super().get_config(), "causal": self.causal, "dropout": self.dropout}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class MultiHeadAttention(keras.layers.Layer):
    r"""Multi-head attention (Vaswani et al. 2017, §3.2.2):

    $$\mathrm{MultiHead}(Q, K, V) = \mathrm{Concat}(\mathrm{head}_1, \ldots, \mathrm{head}_h) W^O,
    \quad \mathrm{head}_i = \mathrm{Attention}(Q W_i^Q, K W_i^K, V W_i^V)$$

    Same call and weights as `keras.layers.MultiHeadAttention` (`layer(query, value, key=None,
    attention_mask=None, use_causal_mask=False, return_attention_scores=False)`, kernels (d, h, d_k),
    (h, d_v, d_out), created in the same order), so `set_weights(keras_mha.get_weights())` copies a
    Keras layer across and the outputs agree (tested). Adds a `padding_mask` (B, Tk) argument and a
    key/value cache for incremental decoding — `key_value_cache=(k, v)` of earlier positions, grown by
    concatenation, or fixed (B, h, max_length, d) buffers written at `cache_index` (for graph-mode
    loops) — and computes with matmul/reshape instead of einsum.
    Keras masks carried by the inputs (`Embedding(mask_zero=True)`) are honoured as Keras does.
    """

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        self._output_dim = output_shape
        self.kernel_initializer = keras.initializers.get(kernel_initializer)
        self.bias_initializer = keras.initializers.get(bias_initializer)
        self.attention = ScaledDotProductAttention(dropout=dropout, name="attention")
        self.supports_masking = True

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = key_shape or value_shape
        h, dk, dv = self.num_heads, self.key_dim, self.value_dim
        out_dim = self._output_dim or query_shape[-1]

        def weight(name, shape, bias=False):
            init = self.bias_initializer if bias else self.kernel_initializer
            return self.add_weight(name=name, shape=shape, initializer=fresh(init))  # distinct Q, K, V, O

        self.query_kernel = weight("query_kernel", (query_shape[-1], h, dk))
        self.query_bias = weight("query_bias", (h, dk), True) if self.use_bias else None
        self.key_kernel = weight("key_kernel", (key_shape[-1], h, dk))
        self.key_bias = weight("key_bias", (h, dk), True) if self.use_bias else None
        self.value_kernel = weight("value_kernel", (value_shape[-1], h, dv))
        self.value_bias = weight("value_bias", (h, dv), True) if self.use_bias else None
        self.output_kernel = weight("output_kernel", (h, dv, out_dim))
        self.output_bias = weight("output_bias", (out_dim,), True) if self.use_bias else None

    def _project(self, x, kernel, bias):
        """x W_i for every head i: (B, T, d) → (B, h, T, d_head)."""
        heads, size = kernel.shape[1], kernel.shape[2]
        y = ops.matmul(x, ops.cast(ops.reshape(kernel, (kernel.shape[0], heads * size)), x.dtype))  # (B, T, h·d)
        if bias is not None:
            y = y + ops.cast(ops.reshape(bias, (heads * size,)), x.dtype)
        y = ops.reshape(y, (-1, ops.shape(x)[1], heads, size))  # (B, T, h, d_head)
        return ops.transpose(y, (0, 2, 1, 3))  # (B, h, T, d_head)

    def project_key_value(self, value, key=None):
        """The per-head keys and values of `value` (and `key`): what a decoder caches between steps."""
        key = value if key is None else key
        return self._project(key, self.key_kernel, self.key_bias), self._project(value, self.value_kernel, self.value_bias)

    def call(self, query, value, key=None, attention_mask=None, padding_mask=None, use_causal_mask=False,
             return_attention_scores=False, training=None, query_mask=None, value_mask=None, key_mask=None,
             key_value_cache=None, cache_index=None):
        q = self._project(query, self.query_kernel, self.query_bias)  # Q W^Q, (B, h, Tq, d_k)
        k, v = self.project_key_value(value, key)  # (B, h, Tk, d_k), (B, h, Tk, d_v)
        offset = 0
        if key_value_cache is not None and cache_index is not None:
            # Fixed-size buffers (B, h, max_length, d): write the new positions at `cache_index`; later
            # slots are hidden by the causal mask. Shapes stay constant, as a graph-mode loop needs.
            offset = cache_index
            k = ops.slice_update(key_value_cache[0], (0, 0, cache_index, 0), ops.cast(k, key_value_cache[0].dtype))
            v = ops.slice_update(key_value_cache[1], (0, 0, cache_index, 0), ops.cast(v, key_value_cache[1].dtype))
        elif key_value_cache is not None:  # growing cache: earlier positions' keys and values first
            offset = ops.shape(key_value_cache[0])[2]  # the new queries follow the cached positions
            k = ops.concatenate([key_value_cache[0], k], axis=2)
            v = ops.concatenate([key_value_cache[1], v], axis=2)
        # Keras masks: query (B, Tq) → (B, Tq, 1); value/key (B, Tk) → (B, 1, Tk).
        implicit = _combine(
            None if query_mask is None else ops.expand_dims(query_mask, -1),
            None if value_mask is None else ops.expand_dims(value_mask, 1),
            None if key_mask is None else ops.expand_dims(key_mask, 1),
        )
        mask = _combine(attention_mask, implicit)
        mask = None if mask is None else ops.expand_dims(mask, 1)  # (B, 1, Tq, Tk): same for every head
        context, scores = self.attention(q, k, v, mask=mask, padding_mask=padding_mask,
                                         use_causal_mask=use_causal_mask, return_attention_scores=True,
                                         training=training, causal_offset=offset)  # (B, h, Tq, d_v), (B, h, Tq, Tk)
        context = ops.transpose(context, (0, 2, 1, 3))  # (B, Tq, h, d_v)
        context = ops.reshape(context, (-1, ops.shape(query)[1], self.num_heads * self.value_dim))  # Concat(head_i)
        kernel = ops.reshape(self.output_kernel, (self.num_heads * self.value_dim, self.output_kernel.shape[-1]))
        output = ops.matmul(context, ops.cast(kernel, context.dtype))  # · W^O
        if self.output_bias is not None:
            output = output + ops.cast(self.output_bias, output.dtype)
        if key_value_cache is not None:
            return (output, scores, (k, v)) if return_attention_scores else (output, (k, v))
        return (output, scores) if return_attention_scores else output

    def compute_output_shape(self, query_shape, value_shape, key_shape=None):
        return (*query_shape[:-1], self._output_dim or query_shape[-1])

    def compute_mask(self, query, value, key=None, **kwargs):
        return getattr(query, "_keras_mask", None)

    def get_config(self):
        return {
            **super().get_config(),
            "num_heads": self.num_heads, "key_dim": self.key_dim, "value_dim": self.value_dim,
            "dropout": self.dropout, "use_bias": self.use_bias, "output_shape": self._output_dim,
            "kernel_initializer": keras.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras.initializers.serialize(self.bias_initializer),
        }


def sinusoid(positions, dim, max_wavelength=10000.0):
    r"""$PE_{(p, 2i)} = \sin(p / 10000^{2i/d})$, $PE_{(p, 2i+1)} = \cos(p / 10000^{2i/d})$ for float positions (T,)."""
    inv_freq = 1.0 / ops.power(max_wavelength, ops.arange(0, dim, 2, dtype="float32") / dim)  # (d/2,)
    angles = ops.expand_dims(positions, 1) * ops.expand_dims(inv_freq, 0)  # (T, d/2)
    return ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), (-1, dim))  # (T, d) interleaved


@keras.saving.register_keras_serializable(package="keras_landmarks")
class RelativeMultiHeadAttention(keras.layers.Layer):
    r"""Multi-head attention with relative positions and segment memory (Transformer-XL, Dai et al. 2019, §3.3).

    With the memory $\tilde h = [\mathrm{SG}(m); h]$ of length $L = M + T$, query $i$ (absolute
    position $M + i$) and key $j$, the score is (eq. in §3.3, terms (a)–(d))

    $$A^{rel}_{ij} = \underbrace{q_i^\top k_j}_{(a)} + \underbrace{q_i^\top W_{k,R} R_{M+i-j}}_{(b)}
    + \underbrace{u^\top k_j}_{(c)} + \underbrace{v^\top W_{k,R} R_{M+i-j}}_{(d)}$$

    with $q = h W_q$, $k = \tilde h W_{k,E}$, $R$ the sinusoid encoding of the distance, and $u$, $v$
    learned per head. Keys after the query are masked (the model is causal). Called as
    `layer(inputs, memory=None)` with `inputs` (B, T, d) and `memory` (B, M, d) the previous segment's
    hidden states (gradients are stopped); `update_memory` gives the next segment's memory.
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.dropout = float(dropout)
        self.dropout_layer = keras.layers.Dropout(self.dropout)

    def build(self, inputs_shape, memory_shape=None):
        d, h, dh = inputs_shape[-1], self.num_heads, self.key_dim
        self.model_dim = d
        self.w_q = self.add_weight(name="query_kernel", shape=(d, h * dh), initializer=_glorot())
        self.w_k = self.add_weight(name="key_kernel", shape=(d, h * dh), initializer=_glorot())  # W_{k,E}
        self.w_v = self.add_weight(name="value_kernel", shape=(d, h * dh), initializer=_glorot())
        self.w_r = self.add_weight(name="position_kernel", shape=(d, h * dh), initializer=_glorot())  # W_{k,R}
        self.u = self.add_weight(name="content_bias", shape=(h, dh), initializer="zeros")
        self.v = self.add_weight(name="position_bias", shape=(h, dh), initializer="zeros")
        self.w_o = self.add_weight(name="output_kernel", shape=(h * dh, d), initializer=_glorot())

    def _heads(self, x):
        y = ops.reshape(x, (-1, ops.shape(x)[1], self.num_heads, self.key_dim))  # (B, T, h, dh)
        return ops.transpose(y, (0, 2, 1, 3))  # (B, h, T, dh)

    @staticmethod
    def _rel_shift(x):
        """(B, h, T, L) scores against distances L-1 … 0 → scores against key j: distance M + i - j."""
        b, h, t, l = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2], ops.shape(x)[3]
        x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [1, 0]])  # (B, h, T, L+1)
        x = ops.reshape(x, (b, h, l + 1, t))
        x = x[:, :, 1:, :]  # (B, h, L, T)
        return ops.reshape(x, (b, h, t, l))

    def call(self, inputs, memory=None, training=None, return_attention_scores=False):
        context = inputs if memory is None else ops.concatenate([ops.stop_gradient(memory), inputs], axis=1)  # (B, L, d)
        t, length = ops.shape(inputs)[1], ops.shape(context)[1]
        dtype = inputs.dtype
        q = self._heads(ops.matmul(inputs, ops.cast(self.w_q, dtype)))  # (B, h, T, dh)
        k = self._heads(ops.matmul(context, ops.cast(self.w_k, dtype)))  # (B, h, L, dh)
        v = self._heads(ops.matmul(context, ops.cast(self.w_v, dtype)))  # (B, h, L, dh)
        distances = ops.cast(ops.arange(length - 1, -1, -1), "float32")  # L-1, …, 0
        r = ops.cast(sinusoid(distances, self.model_dim), dtype)  # R, (L, d)
        # W_{k,R} R as (L, h, dh); contracted by einsum, not transposed to (h, dh, L): onnxruntime 1.31
        # crashes creating a session for the float16 graph with that transpose.
        r = ops.reshape(ops.matmul(r, ops.cast(self.w_r, dtype)), (-1, self.num_heads, self.key_dim))
        u = ops.cast(ops.expand_dims(self.u, 1), dtype)  # (h, 1, dh)
        v_bias = ops.cast(ops.expand_dims(self.v, 1), dtype)
        ac = ops.matmul(q + u, ops.swapaxes(k, 2, 3))  # (a) + (c), (B, h, T, L)
        bd = self._rel_shift(ops.einsum("bhtd,lhd->bhtl", q + v_bias, r))  # (b) + (d), (B, h, T, L)
        scores = (ac + bd) / ops.cast(math.sqrt(self.key_dim), dtype)
        weights = masked_softmax(scores, causal_mask(t, length, length - t))  # query i is at position M + i
        weights = self.dropout_layer(weights, training=training)
        out = ops.transpose(ops.matmul(weights, v), (0, 2, 1, 3))  # (B, T, h, dh)
        out = ops.reshape(out, (-1, t, self.num_heads * self.key_dim))
        out = ops.matmul(out, ops.cast(self.w_o, dtype))  # (B, T, d)
        return (out, weights) if return_attention_scores else out

    @staticmethod
    def update_memory(memory, hidden, memory_length):
        """The next segment's memory: the last `memory_length` states of [memory; hidden], no gradient."""
        joined = hidden if memory is None else ops.concatenate([memory, hidden], axis=1)
        return ops.stop_gradient(joined[:, -memory_length:])

    def compute_output_shape(self, inputs_shape, memory_shape=None):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim, "dropout": self.dropout}


def bidirectional_sinusoid(key_length, query_length, dim):
    r"""XLNet's relative encodings $R_p$ for the distances $p = K, K-1, \ldots, -T+1$ ($K$ keys, $T$
    queries), $[\sin(p\,\omega); \cos(p\,\omega)]$ with $\omega_i = 10000^{-2i/d}$ (concatenated halves, as
    the authors' code), shape (K + T, d)."""
    distances = ops.cast(ops.arange(key_length, -query_length, -1), "float32")
    inv_freq = 1.0 / ops.power(10000.0, ops.arange(0, dim, 2, dtype="float32") / dim)
    angles = ops.expand_dims(distances, 1) * ops.expand_dims(inv_freq, 0)
    return ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TwoStreamRelativeAttention(keras.layers.Layer):
    r"""XLNet's two-stream self-attention (Yang et al. 2019, §2.3, with Transformer-XL's relative terms and
    XLNet's relative segment encoding, §2.5).

    The content stream $h$ sees its own token; the query stream $g$ sees the position it predicts but
    not its content. Both attend to the content $[\mathrm{SG}(m); h]$ (keys and values, with memory $m$):

    $$g_{z_t} \leftarrow \mathrm{Attention}(Q = g_{z_t}, KV = h_{z_{<t}}), \qquad
      h_{z_t} \leftarrow \mathrm{Attention}(Q = h_{z_t}, KV = h_{z_{\le t}})$$

    where the factorization order $z$ enters only through the masks. For query $i$ and key $j$ the score
    is Transformer-XL's $(q_i + u)^\top k_j + (q_i + v)^\top W_R R_{i-j}$ (distances both ways) plus the
    segment term $(q_i + b)^\top s_{ij}$, $s_{ij} = s_+$ if $i$ and $j$ are in the same segment and
    $s_-$ otherwise (§2.5), all over $\sqrt{d_h}$.

    Called as `layer(content, query=None, memory=None, content_mask=None, query_mask=None,
    different_segment=None, target_mapping=None)`: `content` (B, T, d); `query` (B, T, d), or (B, P, d)
    with `target_mapping` (B, P, T) one-hot rows picking the P predicted positions (partial prediction,
    §2.3); masks (B, T, M + T), 1 where query i may attend key j; `different_segment` (B, T, M + T),
    1 where i and j are in different segments. Returns the content stream's output, and the query
    stream's when `query` is given. Weights: $W_q, W_k, W_v, W_R, W_o$ without biases, $u, v, b$ and
    $s_\pm$ per head (the names and shapes of keras-hub's `TwoStreamRelativeAttention` plus the biases
    its encoder layer holds).
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, initializer_range=0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.dropout = float(dropout)
        self.initializer_range = float(initializer_range)
        self.dropout_layer = keras.layers.Dropout(self.dropout)

    def build(self, content_shape, *args, **kwargs):
        d, h, dh = content_shape[-1], self.num_heads, self.key_dim
        self.model_dim = d

        def normal():
            return keras.initializers.TruncatedNormal(stddev=self.initializer_range)

        for name in ("query", "key", "value", "position"):
            setattr(self, f"w_{name[0] if name != 'position' else 'r'}",
                    self.add_weight(name=f"{name}_kernel", shape=(d, h, dh), initializer=normal()))
        self.w_o = self.add_weight(name="output_kernel", shape=(d, h, dh), initializer=normal())
        self.content_bias = self.add_weight(name="content_bias", shape=(h, dh), initializer="zeros")  # u
        self.position_bias = self.add_weight(name="position_bias", shape=(h, dh), initializer="zeros")  # v
        self.segment_bias = self.add_weight(name="segment_bias", shape=(h, dh), initializer="zeros")  # b
        self.segment_embedding = self.add_weight(name="segment_embedding", shape=(2, h, dh), initializer=normal())

    @staticmethod
    def _rel_shift(x, key_length):
        """(B, h, T, K + T) scores against distances K … −T+1 → (B, h, T, K): key j at distance M + i − j,
        column T − i + j of row i (the reshape trick, after a zero column on the left)."""
        b, h, t, p = ops.shape(x)[0], ops.shape(x)[1], ops.shape(x)[2], ops.shape(x)[3]
        x = ops.pad(x, [[0, 0], [0, 0], [0, 0], [1, 0]])  # (B, h, T, P + 1)
        x = ops.reshape(x, (b, h, p + 1, t))[:, :, 1:, :]  # (B, h, P, T)
        return ops.reshape(x, (b, h, t, p))[:, :, :, 1 : key_length + 1]

    def _project(self, x, kernel):
        return ops.einsum("btd,dhk->bthk", x, ops.cast(kernel, x.dtype))  # (B, T, h, dh)

    def _attend(self, q, k, v, r, mask, different_segment, training):
        dtype = q.dtype
        cast = lambda w: ops.cast(w, dtype)  # noqa: E731
        ac = ops.einsum("bthk,bjhk->bhtj", q + cast(self.content_bias), k)
        bd = self._rel_shift(ops.einsum("bthk,phk->bhtp", q + cast(self.position_bias), r), ops.shape(k)[1])
        scores = ac + bd
        if different_segment is not None:
            ef = ops.einsum("bthk,shk->bhts", q + cast(self.segment_bias), cast(self.segment_embedding))
            same, other = ef[..., :1], ef[..., 1:]  # s_+ (same segment), s_- (different)
            scores = scores + same + ops.expand_dims(ops.cast(different_segment, dtype), 1) * (other - same)
        scores = scores / ops.cast(math.sqrt(self.key_dim), dtype)
        weights = masked_softmax(scores, None if mask is None else ops.expand_dims(mask, 1))
        weights = self.dropout_layer(weights, training=training)
        out = ops.einsum("bhtj,bjhk->bthk", weights, v)
        return ops.einsum("bthk,dhk->btd", out, cast(self.w_o))

    def call(self, content, query=None, memory=None, content_mask=None, query_mask=None, different_segment=None,
             target_mapping=None, training=None):
        context = content if memory is None else ops.concatenate([ops.stop_gradient(memory), content], axis=1)
        t, length = ops.shape(content)[1], ops.shape(context)[1]
        k = self._project(context, self.w_k)
        v = self._project(context, self.w_v)
        r = self._project(ops.expand_dims(ops.cast(bidirectional_sinusoid(length, t, self.model_dim), content.dtype),
                                          0), self.w_r)[0]  # (K + T, h, dh)
        h_out = self._attend(self._project(content, self.w_q), k, v, r, content_mask, different_segment, training)
        if query is None:
            return h_out
        q = self._project(query, self.w_q)
        if target_mapping is not None:  # the P predicted positions' queries, placed at their positions
            q = ops.einsum("bphk,bpt->bthk", q, ops.cast(target_mapping, q.dtype))
        g_out = self._attend(q, k, v, r, query_mask, different_segment, training)
        if target_mapping is not None:
            g_out = ops.einsum("btd,bpt->bpd", g_out, ops.cast(target_mapping, g_out.dtype))
        return h_out, g_out

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "dropout": self.dropout, "initializer_range": self.initializer_range}
