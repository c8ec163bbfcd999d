"""Every layer in keras_landmarks.layers against a NumPy transcription of its paper's equation, and
portable: config round trip, .keras reload (in a fresh process too), symbolic call, a fit step,
mixed_float16, TFLite with built-in ops only and ONNX, both within 1e-5 of Keras."""

import math
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
from scipy.special import erf

from keras_landmarks import layers as L
from keras_landmarks.export import OnnxRunner, TFLiteRunner, convert_onnx, convert_tflite, keras_outputs, relative_error

RNG = np.random.default_rng(0)
B, TQ, TK, D = 2, 3, 5, 6


def normal(*shape, scale=1.0):
    return (RNG.standard_normal(shape) * scale).astype("float32")


def softmax(x, axis=-1):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def masked(scores, mask):
    return np.where(mask, scores, -1e9)


# ---------------------------------------------------------------------------------------------------
# NumPy references, in the papers' notation.


def ref_gelu(x, approximate=False):
    x = x.astype(np.float64)
    if approximate:
        return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))
    return 0.5 * x * (1 + erf(x / np.sqrt(2)))


def ref_additive(layer, s, h, mask):
    w, u, v = (x.numpy() for x in (layer.w_a, layer.u_a, layer.v_a))
    e = np.einsum("bqtu,u->bqt", np.tanh((s @ w)[:, :, None] + (h @ u)[:, None]), v)  # e_ij = v^T tanh(W s + U h)
    alpha = softmax(masked(e, mask[:, None]))
    return alpha @ h


def ref_luong(layer, s, h, mask):
    if layer.score == "dot":
        e = s @ h.transpose(0, 2, 1)
    elif layer.score == "general":
        e = s @ layer.w_a.numpy() @ h.transpose(0, 2, 1)
    else:
        w = np.concatenate([layer.w_q.numpy(), layer.w_k.numpy()], axis=0)  # W_a acting on [h_t; h_s]
        pairs = np.concatenate([np.repeat(s[:, :, None], h.shape[1], 2), np.repeat(h[:, None], s.shape[1], 1)], -1)
        e = np.tanh(pairs @ w) @ layer.v_a.numpy()
    return softmax(masked(e, mask[:, None])) @ h


def ref_sdpa(q, k, v, padding, causal):
    scores = q @ k.transpose(0, 2, 1) / np.sqrt(q.shape[-1])
    mask = np.broadcast_to(padding[:, None, :], scores.shape)
    if causal:
        tq, tk = scores.shape[-2:]
        mask = mask & (np.arange(tk)[None] <= np.arange(tq)[:, None])
    return softmax(masked(scores, mask)) @ v


def ref_mha(layer, query, value, padding, causal):
    wq, bq, wk, bk, wv, bv, wo, bo = (w.numpy() for w in layer.weights)
    heads = []
    for i in range(layer.num_heads):  # head_i = Attention(Q W_i^Q, K W_i^K, V W_i^V)
        heads.append(ref_sdpa(query @ wq[:, i] + bq[i], value @ wk[:, i] + bk[i], value @ wv[:, i] + bv[i],
                              padding, causal))
    return np.concatenate(heads, -1) @ wo.reshape(-1, wo.shape[-1]) + bo  # Concat(head_1..h) W^O


def ref_sinusoid(positions, d):
    pe = np.zeros((len(positions), d))
    for p, pos in enumerate(positions):
        for i in range(0, d, 2):
            pe[p, i] = np.sin(pos / 10000 ** (i / d))
            pe[p, i + 1] = np.cos(pos / 10000 ** (i / d))
    return pe


def ref_relative(layer, h, memory):
    """A^rel_ij = q_i·k_j + q_i·W_R R_{M+i-j} + u·k_j + v·W_R R_{M+i-j}, written term by term."""
    wq, wk, wv, wr, u, v, wo = (w.numpy().astype(np.float64) for w in
                                (layer.w_q, layer.w_k, layer.w_v, layer.w_r, layer.u, layer.v, layer.w_o))
    heads, dh = layer.num_heads, layer.key_dim
    context = np.concatenate([memory, h], 1).astype(np.float64)
    batch, t, m = h.shape[0], h.shape[1], memory.shape[1]
    length = m + t
    R = ref_sinusoid(np.arange(length), h.shape[-1])  # R_dist for dist = 0 .. L-1
    out = np.zeros((batch, t, heads * dh))
    for b in range(batch):
        q = (h[b] @ wq).reshape(t, heads, dh)
        k = (context[b] @ wk).reshape(length, heads, dh)
        vv = (context[b] @ wv).reshape(length, heads, dh)
        for n in range(heads):
            for i in range(t):
                scores = np.full(length, -1e9)
                for j in range(m + i + 1):  # causal: keys up to the query's own position M + i
                    r = (R[m + i - j] @ wr).reshape(heads, dh)[n]
                    scores[j] = (q[i, n] @ k[j, n] + q[i, n] @ r + u[n] @ k[j, n] + v[n] @ r) / np.sqrt(dh)
                out[b, i, n * dh:(n + 1) * dh] = softmax(scores) @ vv[:, n]
    return out @ wo


def ref_two_stream(layer, h, g, content_mask, query_mask, different):
    """XLNet's scores term by term, for both streams over the content (no memory): (q_i + u)·k_j +
    (q_i + v)·W_R R_{i-j} (distances both ways, [sin; cos] halves) + (q_i + b)·s_{same or different};
    the outputs of h and g side by side."""
    wq, wk, wv, wr, wo, u, v, bs, s = (w.numpy().astype(np.float64) for w in (
        layer.w_q, layer.w_k, layer.w_v, layer.w_r, layer.w_o, layer.content_bias, layer.position_bias,
        layer.segment_bias, layer.segment_embedding))
    heads, dh, d = layer.num_heads, layer.key_dim, h.shape[-1]
    t = h.shape[1]
    freq = 1.0 / 10000 ** (np.arange(0, d, 2) / d)

    def encoding(p):
        return np.concatenate([np.sin(p * freq), np.cos(p * freq)])

    def stream(x, mask):
        out = np.zeros((h.shape[0], t, d))
        for b in range(h.shape[0]):
            q = np.einsum("td,dhk->thk", x[b], wq)
            k = np.einsum("td,dhk->thk", h[b], wk)
            vv = np.einsum("td,dhk->thk", h[b], wv)
            heads_out = np.zeros((t, heads, dh))
            for n in range(heads):
                for i in range(t):
                    scores = np.full(t, -1e9)
                    for j in range(t):
                        if mask[b, i, j]:
                            r = np.einsum("d,dk->k", encoding(i - j), wr[:, n])
                            seg = s[int(different[b, i, j]), n]
                            scores[j] = ((q[i, n] + u[n]) @ k[j, n] + (q[i, n] + v[n]) @ r
                                         + (q[i, n] + bs[n]) @ seg) / np.sqrt(dh)
                    heads_out[i, n] = softmax(scores) @ vv[:, n]
            out[b] = np.einsum("thk,dhk->td", heads_out, wo)
        return out

    return np.concatenate([stream(h, content_mask), stream(g, query_mask)], -1)


def _two_stream_model():
    names = ("content", "query", "content_mask", "query_mask", "different_segment")
    x = {n: keras.Input((None, D) if n in ("content", "query") else (None, None), name=n) for n in names}
    h, g = L.TwoStreamRelativeAttention(num_heads=2, key_dim=3, name="two_stream")(
        x["content"], query=x["query"], content_mask=x["content_mask"], query_mask=x["query_mask"],
        different_segment=x["different_segment"])
    return keras.Model(x, keras.layers.Concatenate(name="output")([h, g]))


def _two_stream_inputs():
    order = np.array([[2, 0, 4, 1, 3], [4, 3, 2, 1, 0]])  # ranks: token j is the order[b, j]-th
    query_mask = (order[:, None, :] < order[:, :, None]).astype("float32")  # i sees what comes before it
    content_mask = np.maximum(query_mask, np.eye(TK, dtype="float32"))  # and its own content
    segments = np.array([[0, 0, 1, 1, 1], [0, 1, 1, 1, 1]])
    return {"content": normal(B, TK, D), "query": normal(B, TK, D), "content_mask": content_mask,
            "query_mask": np.maximum(query_mask, np.eye(TK, dtype="float32")[None] * (order[:, :, None] == 0)),
            "different_segment": (segments[:, :, None] != segments[:, None, :]).astype("float32")}


# ---------------------------------------------------------------------------------------------------
# Cases: name → (model builder, inputs, reference(model, inputs) → expected output).


def one_layer(layer, **specs):
    """A functional model around `layer`, with named inputs; `specs` = {name: (shape, dtype)}."""
    inputs = {n: keras.Input(shape, dtype=dtype, name=n) for n, (shape, dtype) in specs.items()}
    args = list(inputs.values())
    takes_list = isinstance(layer, (L.AdaptiveInstanceNormalization, L.NoiseInjection))
    out = layer(args) if takes_list else layer(*args)
    return keras.Model(inputs, keras.layers.Identity(name="output")(out))


SEQ_MASK = np.array([[1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], bool)


def _masked_query_keys(layer):
    """A model (query, keys, keys_mask) → layer(query, keys, mask=keys_mask)."""
    q = keras.Input((None, D), name="query")
    k = keras.Input((None, D + 2), name="keys")
    m = keras.Input((None,), dtype="bool", name="keys_mask")
    return keras.Model([q, k, m], keras.layers.Identity(name="output")(layer(q, k, mask=m)))


def _mha_model(causal):
    x = keras.Input((None, D), name="sequence")
    m = keras.Input((None,), dtype="bool", name="padding_mask")
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3, name="mha")
    return keras.Model([x, m], keras.layers.Identity(name="output")(layer(x, x, padding_mask=m, use_causal_mask=causal)))


def _sdpa_model():
    q = keras.Input((None, D), name="query")
    k = keras.Input((None, D), name="key")
    v = keras.Input((None, 4), name="value")
    m = keras.Input((None,), dtype="bool", name="padding_mask")
    out = L.ScaledDotProductAttention(causal=True)(q, k, v, padding_mask=m)
    return keras.Model([q, k, v, m], keras.layers.Identity(name="output")(out))


def _relative_model():
    x = keras.Input((None, D), name="segment")
    m = keras.Input((None, D), name="memory")
    out = L.RelativeMultiHeadAttention(num_heads=2, key_dim=3, name="rel")(x, memory=m)
    return keras.Model([x, m], keras.layers.Identity(name="output")(out))


def _randomize(model):
    """Non-zero values everywhere (zero-initialized biases would hide terms of an equation)."""
    for w in model.weights:
        w.assign(normal(*w.shape, scale=0.5))
    return model


def ref_conv_same(x, kernel):
    """'same' 2-D convolution, stride 1: x (B, H, W, C), kernel (k, k, C, F)."""
    k = kernel.shape[0]
    padded = np.pad(x, [(0, 0), (k // 2, k // 2), (k // 2, k // 2), (0, 0)])
    h, w = x.shape[1:3]
    return sum(np.einsum("bhwc,cf->bhwf", padded[:, i:i + h, j:j + w], kernel[i, j]) for i in range(k) for j in range(k))


def ref_minibatch_stddev(x, group):
    m = x.shape[0] // group
    y = x.reshape(group, m, *x.shape[1:])
    sigma = np.sqrt(((y - y.mean(0)) ** 2).mean(0) + 1e-8).mean(axis=(1, 2, 3))  # one number per group
    feature = np.broadcast_to(sigma[np.arange(x.shape[0]) % m][:, None, None, None], (*x.shape[:3], 1))
    return np.concatenate([x, feature], -1)


BINOMIAL = np.outer([1, 2, 1], [1, 2, 1]) / 16.0


RECURRENT = {"original_lstm", "projected_lstm"}


def ref_projected_lstm(x, kernel, recurrent, bias, projection, cell_clip, projection_clip):
    """LSTMP: a forget-gate LSTM whose clipped output projection P(o ⊙ tanh c) recurs; the state clipped too."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    n = kernel.shape[1] // 4
    r, c, outputs = np.zeros((x.shape[0], projection.shape[1])), np.zeros((x.shape[0], n)), []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + r @ recurrent + bias
        i, f, g, o = (z[:, k * n:(k + 1) * n] for k in range(4))
        c = np.clip(sigmoid(f) * c + sigmoid(i) * np.tanh(g), -cell_clip, cell_clip)
        r = np.clip((sigmoid(o) * np.tanh(c)) @ projection, -projection_clip, projection_clip)
        outputs.append(r)
    return np.stack(outputs, 1)


def ref_original_lstm(x, kernel, recurrent, bias):
    """Hochreiter & Schmidhuber 1997: input and output gates, c_t = c_{t−1} + i ⊙ tanh(z_c); no forget gate."""
    sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    n = recurrent.shape[0]
    h, c, outputs = np.zeros((x.shape[0], n)), np.zeros((x.shape[0], n)), []
    for t in range(x.shape[1]):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, o, g = z[:, :n], z[:, n:2 * n], z[:, 2 * n:]
        c = c + sigmoid(i) * np.tanh(g)
        h = sigmoid(o) * np.tanh(c)
        outputs.append(h)
    return np.stack(outputs, 1)


def _layer(model, cls):
    return next(layer for layer in model._flatten_layers() if isinstance(layer, cls))


CASES = {
    "gelu_exact": (lambda: one_layer(L.GELU(), x=((D,), "float32")), lambda: {"x": normal(B, D, scale=3)},
                   lambda m, x: ref_gelu(x["x"])),
    "gelu_tanh": (lambda: one_layer(L.GELU(approximate=True), x=((D,), "float32")),
                  lambda: {"x": normal(B, D, scale=3)}, lambda m, x: ref_gelu(x["x"], True)),
    "swish": (lambda: one_layer(L.Swish(beta=1.5), x=((D,), "float32")), lambda: {"x": normal(B, D, scale=3)},
              lambda m, x: x["x"] / (1 + np.exp(-1.5 * x["x"]))),
    "swish_trainable": (lambda: one_layer(L.Swish(beta=0.7, trainable_beta=True), x=((D,), "float32")),
                        lambda: {"x": normal(B, D, scale=3)},
                        lambda m, x: x["x"] / (1 + np.exp(-float(m.weights[0].numpy()) * x["x"]))),
    "mish": (lambda: one_layer(L.Mish(), x=((D,), "float32")), lambda: {"x": normal(B, D, scale=4)},
             lambda m, x: x["x"] * np.tanh(np.log1p(np.exp(x["x"].astype(np.float64))))),
    "softsign": (lambda: one_layer(L.SoftSign(), x=((D,), "float32")), lambda: {"x": normal(B, D, scale=3)},
                 lambda m, x: x["x"] / (1 + np.abs(x["x"]))),
    "pixel_norm": (lambda: one_layer(L.PixelNormalization(), x=((4, 4, D), "float32")),
                   lambda: {"x": normal(B, 4, 4, D, scale=3)},
                   lambda m, x: x["x"] / np.sqrt((x["x"] ** 2).mean(-1, keepdims=True) + 1e-8)),
    "equalized_dense": (lambda: _randomize(one_layer(L.EqualizedDense(5, lr_multiplier=0.01), x=((D,), "float32"))),
                        lambda: {"x": normal(B, D)},
                        lambda m, x: x["x"] @ (m.weights[0].numpy() * math.sqrt(2) * 0.01 / math.sqrt(D))
                        + 0.01 * m.weights[1].numpy()),
    "equalized_conv": (lambda: _randomize(one_layer(L.EqualizedConv2D(4, 3), x=((5, 5, D), "float32"))),
                       lambda: {"x": normal(B, 5, 5, D)},
                       lambda m, x: ref_conv_same(x["x"], m.weights[0].numpy() * math.sqrt(2) / math.sqrt(9 * D))
                       + m.weights[1].numpy()),
    "noise_injection": (lambda: _randomize(one_layer(L.NoiseInjection(), x=((4, 4, D), "float32"),
                                                     noise=((4, 4, 1), "float32"))),
                        lambda: {"x": normal(B, 4, 4, D), "noise": normal(B, 4, 4, 1)},
                        lambda m, x: x["x"] + x["noise"] * m.weights[0].numpy()),
    "blur": (lambda: one_layer(L.Blur2D(), x=((5, 6, D), "float32")), lambda: {"x": normal(B, 5, 6, D)},
             lambda m, x: np.stack([ref_conv_same(x["x"][..., c:c + 1], BINOMIAL[:, :, None, None])[..., 0]
                                    for c in range(D)], -1)),
    "minibatch_stddev": (lambda: one_layer(L.MinibatchStandardDeviation(group_size=2), x=((3, 3, D), "float32")),
                         lambda: {"x": normal(B, 3, 3, D, scale=2)},
                         lambda m, x: ref_minibatch_stddev(x["x"], 2)),
    "original_lstm": (lambda: _randomize(one_layer(keras.layers.RNN(L.OriginalLSTMCell(4), return_sequences=True),
                                                   x=((5, D), "float32"))),
                      lambda: {"x": normal(B, 5, D)},
                      lambda m, x: ref_original_lstm(x["x"], *(w.numpy() for w in m.weights))),
    "projected_lstm": (lambda: _randomize(one_layer(keras.layers.RNN(L.ProjectedLSTMCell(6, 3, 0.5, 0.4),
                                                                     return_sequences=True), x=((5, D), "float32"))),
                       lambda: {"x": normal(B, 5, D, scale=2)},
                       lambda m, x: ref_projected_lstm(x["x"], *(w.numpy() for w in m.weights), 0.5, 0.4)),
    "scalar_mix": (lambda: _randomize(one_layer(L.ScalarMix(), x=((3, 4, D), "float32"))),
                   lambda: {"x": normal(B, 3, 4, D)},
                   lambda m, x: float(m.weights[1].numpy()) * np.einsum(
                       "l,bltd->btd", np.exp(m.weights[0].numpy()) / np.exp(m.weights[0].numpy()).sum(), x["x"])),
    "maxout": (lambda: _randomize(one_layer(L.Maxout(4, 3), x=((D,), "float32"))), lambda: {"x": normal(B, D)},
               lambda m, x: (x["x"] @ m.weights[0].numpy() + m.weights[1].numpy()).reshape(B, 4, 3).max(-1)),
    "additive_attention": (lambda: _randomize(_masked_query_keys(L.AdditiveAttention(units=4))),
                           lambda: {"query": normal(B, TQ, D), "keys": normal(B, TK, D + 2), "keys_mask": SEQ_MASK},
                           lambda m, x: ref_additive(_layer(m, L.AdditiveAttention), x["query"], x["keys"], x["keys_mask"])),
    "luong_general": (lambda: _randomize(_masked_query_keys(L.LuongAttention("general"))),
                      lambda: {"query": normal(B, TQ, D), "keys": normal(B, TK, D + 2), "keys_mask": SEQ_MASK},
                      lambda m, x: ref_luong(_layer(m, L.LuongAttention), x["query"], x["keys"], x["keys_mask"])),
    "luong_concat": (lambda: _randomize(_masked_query_keys(L.LuongAttention("concat", units=4))),
                     lambda: {"query": normal(B, TQ, D), "keys": normal(B, TK, D + 2), "keys_mask": SEQ_MASK},
                     lambda m, x: ref_luong(_layer(m, L.LuongAttention), x["query"], x["keys"], x["keys_mask"])),
    "scaled_dot_product": (_sdpa_model,
                           lambda: {"query": normal(B, TK, D), "key": normal(B, TK, D), "value": normal(B, TK, 4),
                                    "padding_mask": SEQ_MASK},
                           lambda m, x: ref_sdpa(x["query"], x["key"], x["value"], x["padding_mask"], True)),
    "multi_head_attention": (lambda: _randomize(_mha_model(False)),
                             lambda: {"sequence": normal(B, TK, D), "padding_mask": SEQ_MASK},
                             lambda m, x: ref_mha(_layer(m, L.MultiHeadAttention), x["sequence"], x["sequence"],
                                                  x["padding_mask"], False)),
    "multi_head_attention_causal": (lambda: _randomize(_mha_model(True)),
                                    lambda: {"sequence": normal(B, TK, D), "padding_mask": SEQ_MASK},
                                    lambda m, x: ref_mha(_layer(m, L.MultiHeadAttention), x["sequence"], x["sequence"],
                                                         x["padding_mask"], True)),
    "relative_attention": (lambda: _randomize(_relative_model()),
                           lambda: {"segment": normal(B, TQ, D), "memory": normal(B, 4, D)},
                           lambda m, x: ref_relative(_layer(m, L.RelativeMultiHeadAttention), x["segment"], x["memory"])),
    "two_stream_attention": (lambda: _randomize(_two_stream_model()), _two_stream_inputs,
                             lambda m, x: ref_two_stream(_layer(m, L.TwoStreamRelativeAttention), x["content"],
                                                         x["query"], x["content_mask"], x["query_mask"],
                                                         x["different_segment"])),
    "local_response_norm": (lambda: one_layer(L.LocalResponseNormalization(size=3, alpha=0.01), x=((4, 4, D), "float32")),
                            lambda: {"x": normal(B, 4, 4, D, scale=5)},
                            lambda m, x: x["x"] / (2 + 0.01 * sum(np.pad(x["x"] ** 2, [(0, 0)] * 3 + [(1, 1)])[..., i:i + D]
                                                                  for i in range(3))) ** 0.75),
    "instance_norm": (lambda: _randomize(one_layer(L.InstanceNormalization(), x=((4, 5, D), "float32"))),
                      lambda: {"x": normal(B, 4, 5, D, scale=3) + 2},
                      lambda m, x: (lambda g, b: g * (x["x"] - x["x"].mean((1, 2), keepdims=True))
                                    / np.sqrt(x["x"].var((1, 2), keepdims=True) + 1e-3) + b)(*(w.numpy() for w in m.weights))),
    "adaptive_instance_norm": (lambda: one_layer(L.AdaptiveInstanceNormalization(), x=((4, 5, D), "float32"),
                                                 style=((2 * D,), "float32")),
                               lambda: {"x": normal(B, 4, 5, D, scale=3) + 1, "style": normal(B, 2 * D)},
                               lambda m, x: x["style"][:, None, None, :D] * (x["x"] - x["x"].mean((1, 2), keepdims=True))
                               / np.sqrt(x["x"].var((1, 2), keepdims=True) + 1e-8) + x["style"][:, None, None, D:]),
    "sinusoidal_position": (lambda: one_layer(L.SinusoidalPositionEncoding(), x=((None, D), "float32")),
                            lambda: {"x": normal(B, 7, D)},
                            lambda m, x: np.broadcast_to(ref_sinusoid(np.arange(7), D), (B, 7, D))),
    "position_embedding": (lambda: one_layer(L.PositionEmbedding(16), x=((None, D), "float32")),
                           lambda: {"x": normal(B, 7, D)},
                           lambda m, x: np.broadcast_to(m.weights[0].numpy()[:7], (B, 7, D))),
    "token_and_position": (lambda: one_layer(L.TokenAndPositionEmbedding(11, 16, D, position="sinusoidal",
                                                                         scale_embeddings=True), token_ids=((None,), "int32")),
                           lambda: {"token_ids": RNG.integers(0, 11, (B, 7)).astype("int32")},
                           lambda m, x: m.weights[0].numpy()[x["token_ids"]] * np.sqrt(D)
                           + ref_sinusoid(np.arange(7), D)[None]),
}

TOLERANCE = {"mish": 2e-5}  # float32 log(1 + e^-|x|) against NumPy's float64 log1p


@pytest.fixture(scope="module")
def built():
    """Each case's model and inputs, built once."""
    keras.utils.set_random_seed(0)
    return {name: (make(), inputs()) for name, (make, inputs, _) in CASES.items()}


@pytest.mark.parametrize("name", CASES)
def test_matches_paper_equation(name, built):
    model, inputs = built[name]
    expected = CASES[name][2](model, inputs)
    actual = keras_outputs(model, inputs)["output"]
    assert relative_error(actual, expected) < TOLERANCE.get(name, 1e-5), name


@pytest.mark.parametrize("name", CASES)
def test_config_round_trip_and_symbolic_call(name, built):
    model, _ = built[name]
    for layer in model.layers:
        if type(layer).__module__.startswith("keras_landmarks"):
            config = layer.get_config()
            assert type(layer).from_config(config).get_config() == config
    assert all(dim is None or dim > 0 for dim in model.outputs[0].shape[1:])  # the symbolic call ran


@pytest.mark.parametrize("name", CASES)
def test_one_fit_step(name, built):
    model, inputs = built[name]
    # A trainable head so that weight-free layers train too; the loss averages over every position.
    head = keras.layers.Dense(1, name="head")(model.outputs[0])
    trainer = keras.Model(model.input, head)
    trainer.compile(keras.optimizers.SGD(1e-2), lambda y_true, y_pred: keras.ops.mean(keras.ops.square(y_pred - 1.0)))
    before = [w.numpy().copy() for w in model.trainable_weights]
    history = trainer.fit(inputs, np.ones((B, 1), "float32"), epochs=1, batch_size=B, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    for w, old in zip(model.trainable_weights, before):  # the gradient reached the layer's own weights
        if w.path.endswith("key_bias"):
            continue  # q·b_k is the same for every key of a row: softmax cancels it, its gradient is 0
        assert not np.array_equal(w.numpy(), old), w.path


@pytest.mark.parametrize("name", CASES)
def test_mixed_float16(name, built):
    model, inputs = built[name]
    keras.config.set_dtype_policy("mixed_float16")
    try:
        half = CASES[name][0]()  # the same model, built under the mixed policy
    finally:
        keras.config.set_dtype_policy("float32")
    half.set_weights(model.get_weights())
    out = keras_outputs(half, inputs)["output"]
    assert out.dtype == np.float16
    assert all(layer.compute_dtype == "float16" for layer in half.layers if not isinstance(layer, keras.layers.InputLayer))
    assert np.all(np.isfinite(out))
    assert relative_error(out, keras_outputs(model, inputs)["output"]) < 2e-2


@pytest.mark.parametrize("name", CASES)
def test_converts_to_tflite_builtins_and_onnx(name, built):
    model, inputs = built[name]
    expected = keras_outputs(model, inputs)["output"]
    # Recurrent loops lower to TFLite built-ins with a static batch only (as `convert` falls back to)
    batch = B if name in RECURRENT else None
    tflite = TFLiteRunner(convert_tflite(model, batch_size=batch))(inputs)["output"]  # built-ins only: Flex raises
    assert relative_error(tflite, expected) < 1e-5, f"TFLite: {relative_error(tflite, expected):.2e}"
    onnx = OnnxRunner(convert_onnx(model))(inputs)["output"]
    assert relative_error(onnx, expected) < 1e-5, f"ONNX: {relative_error(onnx, expected):.2e}"


def test_reload_every_layer_in_a_fresh_process(built, tmp_path):
    """Saved models load with only `import keras_landmarks` (the layers register on import)."""
    for name, (model, inputs) in built.items():
        model.save(tmp_path / f"{name}.keras")
        np.savez(tmp_path / f"{name}.npz", **inputs, __expected__=keras_outputs(model, inputs)["output"])
    script = textwrap.dedent(f"""
        import pathlib, numpy as np, keras, keras_landmarks
        for path in sorted(pathlib.Path({str(tmp_path)!r}).glob("*.keras")):
            data = dict(np.load(path.with_suffix(".npz")))
            expected = data.pop("__expected__")
            model = keras.saving.load_model(path)
            out = model(data if len(data) > 1 else next(iter(data.values())), training=False)
            np.testing.assert_allclose(np.asarray(out), expected, rtol=1e-6, atol=1e-6, err_msg=path.stem)
        print("reloaded", len(list(pathlib.Path({str(tmp_path)!r}).glob("*.keras"))))
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"reloaded {len(CASES)}" in result.stdout


def test_multi_head_attention_equals_keras_with_copied_weights():
    keras.utils.set_random_seed(1)
    ours = L.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, output_shape=7)
    theirs = keras.layers.MultiHeadAttention(num_heads=3, key_dim=4, value_dim=5, output_shape=7)
    query, value = normal(B, TQ, D), normal(B, TK, D + 2)
    mask = np.broadcast_to(SEQ_MASK[:, None, :], (B, TQ, TK))
    theirs(query, value)
    ours(query, value)
    ours.set_weights([normal(*w.shape) for w in theirs.get_weights()])
    theirs.set_weights(ours.get_weights())
    for kwargs in ({}, {"attention_mask": mask}, {"use_causal_mask": True}):
        a, sa = ours(query, value, return_attention_scores=True, **kwargs)
        b, sb = theirs(query, value, return_attention_scores=True, **kwargs)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(sa.numpy(), sb.numpy(), rtol=1e-5, atol=1e-6)


def test_padding_does_not_change_real_positions():
    """Changing what sits in padded positions leaves every real position's output unchanged."""
    keras.utils.set_random_seed(2)
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3)
    x = normal(B, TK, D)
    y = x.copy()
    y[~SEQ_MASK] = 100.0
    a = layer(x, x, padding_mask=SEQ_MASK).numpy()
    b = layer(y, y, padding_mask=SEQ_MASK).numpy()
    np.testing.assert_allclose(a[SEQ_MASK], b[SEQ_MASK], rtol=1e-5, atol=1e-6)


def test_causal_mask_hides_the_future():
    keras.utils.set_random_seed(3)
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3)
    x = normal(1, 6, D)
    changed = x.copy()
    changed[:, 4:] += 5.0
    a = layer(x, x, use_causal_mask=True).numpy()
    b = layer(changed, changed, use_causal_mask=True).numpy()
    np.testing.assert_allclose(a[:, :4], b[:, :4], rtol=1e-5, atol=1e-6)
    assert not np.allclose(a[:, 4:], b[:, 4:])


def test_key_value_cache_reproduces_full_causal_attention():
    keras.utils.set_random_seed(4)
    layer = L.MultiHeadAttention(num_heads=2, key_dim=3)
    x = normal(1, 6, D)
    full = layer(x, x, use_causal_mask=True).numpy()
    # A 2-token prompt, then one token per step: the causal mask is offset by the cache length.
    out, cache = layer(x[:, :2], x[:, :2], key_value_cache=layer.project_key_value(x[:, :0]), use_causal_mask=True)
    steps = [out.numpy()]
    for t in range(2, 6):
        out, cache = layer(x[:, t:t + 1], x[:, t:t + 1], key_value_cache=cache, use_causal_mask=True)
        steps.append(out.numpy())
    np.testing.assert_allclose(np.concatenate(steps, 1), full, rtol=1e-5, atol=1e-6)


def test_transformer_xl_memory_update():
    memory = normal(1, 4, D)
    hidden = normal(1, 3, D)
    new = L.RelativeMultiHeadAttention.update_memory(memory, hidden, 4).numpy()
    np.testing.assert_array_equal(new, np.concatenate([memory, hidden], 1)[:, -4:])


@pytest.mark.parametrize("make, message", [
    (lambda: L.LuongAttention("cosine"), "score"),
    (lambda: L.LuongAttention("concat"), "units"),
    (lambda: L.TokenAndPositionEmbedding(5, 5, 4, position="rotary"), "position"),
    (lambda: L.AdaptiveInstanceNormalization()([np.zeros((1, 2, 2, 3), "float32"), np.zeros((1, 5), "float32")]), "2 × 3"),
])
def test_bad_arguments(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_activation_functions_are_the_layers():
    x = normal(4, 3, scale=3)
    for fn, layer in ((L.gelu, L.GELU()), (L.mish, L.Mish()), (L.softsign, L.SoftSign()), (L.swish, L.Swish())):
        np.testing.assert_array_equal(np.asarray(fn(x)), layer(x).numpy())
    assert math.isclose(float(L.softplus(np.float32(100.0))), 100.0)  # no overflow
