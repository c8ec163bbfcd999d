"""RNNsearch: neural machine translation by jointly learning to align and translate.

Bahdanau, Cho, Bengio. "Neural Machine Translation by Jointly Learning to Align and Translate."
ICLR 2015 (arXiv 2014). https://arxiv.org/abs/1409.0473

A bidirectional GRU encoder reads the source into annotations $h_j = [\\overrightarrow{h}_j;
\\overleftarrow{h}_j]$ (§3.2). The decoder GRU's state follows (§3.1, Appendix A.2.2)

$$s_i = f(s_{i-1}, y_{i-1}, c_i), \\qquad c_i = \\sum_j \\alpha_{ij} h_j, \\qquad
\\alpha_{ij} = \\mathrm{softmax}_j\\big(v_a^\\top \\tanh(W_a s_{i-1} + U_a h_j)\\big)$$

with $s_0 = \\tanh(W_s \\overleftarrow{h}_1)$, and the output goes through a maxout readout:
$\\tilde t_i = U_o s_{i-1} + V_o E y_{i-1} + C_o c_i$, $t_{i,j} = \\max(\\tilde t_{i,2j-1}, \\tilde t_{i,2j})$,
$p(y_i) \\propto \\exp(y_i^\\top W_o t_i)$.

Sizes of the paper (§4.2, A.2): 30,000-word vocabularies, embeddings m = 620, n = 1000 hidden units
each way and in the decoder, alignment n' = 1000, maxout l = 500. `attention=False` is the same
network without the alignment model: every step sees the fixed context
$c = [\\overrightarrow{h}_{T_x}; \\overleftarrow{h}_1]$, as in the RNNencdec baseline the paper compares
against (whose encoder, unlike this ablation, was unidirectional).

Inputs (int32, dynamic lengths): `source_token_ids`, `source_padding_mask`, `target_token_ids` (the
decoder's inputs $y_{i-1}$: the target shifted right behind a start token). Output: `logits`
(B, T_y, V_y). `make_decoder(model)` returns greedy and beam-search translation as graph-mode functions
(§4.2 uses beam search).

Deviations:
- Biases are kept in every affine map (the paper omits them "to make the equations less cluttered").
- GRUs use Keras's GRU with `reset_after=False`, which is the paper's form ($U[r \\circ s]$).
"""

import keras
from keras import ops
from keras.src import backend

from keras_landmarks.config import check_positive
from keras_landmarks.layers.attention import AdditiveAttention
from keras_landmarks.models._text import token_input
from keras_landmarks.inputs import PaddingMask, TokenIds
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Neural Machine Translation by Jointly Learning to Align and Translate",
    authors="Dzmitry Bahdanau, Kyunghyun Cho, Yoshua Bengio",
    year=2014,
    venue="ICLR 2015",
    url="https://arxiv.org/abs/1409.0473",
    extends=("seq2seq (Sutskever et al. 2014)", "RNN encoder-decoder and the GRU (Cho et al. 2014)"),
    adopted_by=("transformer", "luong attention", "show, attend and tell"),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class AttentionDecoder(keras.layers.Layer):
    """The RNNsearch decoder: attention, the GRU step and the maxout readout (Appendix A.2.2).

    Called as `layer(target_embeddings, annotations, source_mask)`; returns $t_i$ (B, T_y, l), which
    the model's output layer maps to logits with $W_o$. `step` runs one position, for search.
    """

    def __init__(self, hidden_dim, alignment_dim, maxout_dim, attention=True, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)
        self.alignment_dim = int(alignment_dim)
        self.maxout_dim = int(maxout_dim)
        self.attention = bool(attention)
        self.supports_masking = True

    def compute_mask(self, *args, **kwargs):
        return None  # outputs are per target position; the source mask is an explicit input

    def build(self, target_embeddings_shape, annotations_shape=None, source_mask_shape=None):
        n, m, two_n = self.hidden_dim, target_embeddings_shape[-1], annotations_shape[-1]
        self.initial_state = keras.layers.Dense(n, activation="tanh", dtype=self.dtype_policy, name="initial_state")
        self.initial_state.build((None, two_n // 2))  # W_s acting on the backward state
        if self.attention:
            self.alignment = AdditiveAttention(self.alignment_dim, dtype=self.dtype_policy, name="alignment")
            self.alignment.build((None, None, n), (None, None, two_n))
        self.cell = keras.layers.GRUCell(n, reset_after=False, dtype=self.dtype_policy, name="gru")
        self.cell.build((None, m + two_n))  # input [E y_{i-1}; c_i]
        self.readout = keras.layers.Dense(2 * self.maxout_dim, dtype=self.dtype_policy, name="readout")
        self.readout.build((None, n + m + two_n))  # [U_o, V_o, C_o] acting on [s_{i-1}; E y_{i-1}; c_i]

    def initial(self, annotations, source_mask):
        """s_0, the keys U_a h_j, and the fixed context of the attention-free network."""
        half = annotations.shape[-1] // 2
        s0 = self.initial_state(annotations[:, 0, half:])  # tanh(W_s ←h_1)
        keys = self.alignment.precompute_keys(annotations) if self.attention else None
        # →h_{T_x}: the forward state at the last real source position.
        last = ops.sum(ops.cast(source_mask, "int32"), axis=1) - 1  # (B,)
        forward_last = ops.take_along_axis(annotations[:, :, :half], ops.reshape(last, (-1, 1, 1)), axis=1)[:, 0]
        fixed = ops.concatenate([forward_last, annotations[:, 0, half:]], axis=-1)  # [→h_Tx; ←h_1]
        return s0, keys, fixed

    def context(self, s_prev, annotations, keys, source_mask, fixed):
        if not self.attention:
            return fixed
        query = ops.expand_dims(s_prev, 1)  # (B, 1, n)
        return self.alignment(query, annotations, mask=source_mask, projected_keys=keys)[:, 0]  # c_i, (B, 2n)

    def step(self, y_prev, s_prev, annotations, keys, source_mask, fixed):
        """One decoder position: (E y_{i-1}, s_{i-1}) → (s_i, t_i)."""
        c = self.context(s_prev, annotations, keys, source_mask, fixed)
        s, _ = self.cell(ops.concatenate([y_prev, c], axis=-1), [s_prev])  # s_i = f(s_{i-1}, y_{i-1}, c_i)
        t = self._maxout(self.readout(ops.concatenate([s_prev, y_prev, c], axis=-1)))
        return s, t

    def _maxout(self, t_tilde):
        pairs = ops.reshape(t_tilde, (-1, self.maxout_dim, 2))  # (N, l, 2)
        return ops.max(pairs, axis=-1)  # t_i,j = max(t̃_{i,2j-1}, t̃_{i,2j})

    def call(self, target_embeddings, annotations, source_mask):
        s0, keys, fixed = self.initial(annotations, source_mask)

        def step(y_prev, states):
            s_prev = states[0]
            c = self.context(s_prev, annotations, keys, source_mask, fixed)  # c_i
            s, _ = self.cell(ops.concatenate([y_prev, c], axis=-1), [s_prev])  # s_i
            return ops.concatenate([s_prev, c], axis=-1), [s]  # the readout of step i reads s_{i-1}, c_i

        # Keras's own recurrent loop (what its GRU and LSTM layers run on): it converts to TFLite
        # built-in ops, where keras.ops.scan's TensorArray-held carry does not.
        _, outputs, _ = backend.rnn(step, target_embeddings, [s0])  # (B, T_y, n + 2n)
        readout_inputs = ops.concatenate([outputs[..., : self.hidden_dim], target_embeddings,
                                          outputs[..., self.hidden_dim :]], axis=-1)  # [s_{i-1}; E y_{i-1}; c_i]
        t = self._maxout(self.readout(readout_inputs))  # t̃_i (B, T_y, 2l) → t_i (B·T_y, l)
        shape = ops.shape(target_embeddings)  # not t̃'s shape: tf2onnx emits the Dense output flattened
        return ops.reshape(t, (shape[0], shape[1], self.maxout_dim))  # (B, T_y, l)

    def compute_output_shape(self, target_embeddings_shape, annotations_shape=None, source_mask_shape=None):
        return (*target_embeddings_shape[:-1], self.maxout_dim)

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim, "alignment_dim": self.alignment_dim,
                "maxout_dim": self.maxout_dim, "attention": self.attention}


def RNNSearch(
    *,
    source_vocabulary_size: int = 30000,
    target_vocabulary_size: int = 30000,
    embedding_dim: int = 620,
    hidden_dim: int = 1000,
    alignment_dim: int = 1000,
    maxout_dim: int = 500,
    attention: bool = True,
    name: str = "rnnsearch",
):
    for key, value in (("source_vocabulary_size", source_vocabulary_size),
                       ("target_vocabulary_size", target_vocabulary_size), ("embedding_dim", embedding_dim),
                       ("hidden_dim", hidden_dim), ("alignment_dim", alignment_dim), ("maxout_dim", maxout_dim)):
        check_positive(name, key, value)
    source_ids, source_mask = token_input("source_token_ids"), token_input("source_padding_mask")
    target_ids = token_input("target_token_ids")
    mask = keras.layers.Identity(name="source_mask")(ops.cast(source_mask, "bool"))
    x = keras.layers.Embedding(source_vocabulary_size, embedding_dim, name="source_embedding")(source_ids)
    annotations = keras.layers.Bidirectional(
        keras.layers.GRU(hidden_dim, return_sequences=True, reset_after=False), name="encoder")(x, mask=mask)  # h_j
    y = keras.layers.Embedding(target_vocabulary_size, embedding_dim, name="target_embedding")(target_ids)  # E y
    t = AttentionDecoder(hidden_dim, alignment_dim, maxout_dim, attention=attention, name="decoder")(y, annotations, mask)
    logits = keras.layers.Dense(target_vocabulary_size, name="output")(t)  # W_o t_i
    inputs = {"source_token_ids": source_ids, "source_padding_mask": source_mask, "target_token_ids": target_ids}
    return keras.Model(inputs, {"logits": logits}, name=name)


def make_decoder(model, max_length=50, bos_id=1, eos_id=2, pad_id=0):
    """Greedy and beam-search translation for an `rnnsearch` model, as graph-mode functions.

    Returns `(greedy, beam)` with the signatures of `keras_landmarks.models.transformer.make_decoder`,
    taking `source_token_ids` and `source_padding_mask`. The encoder runs once; each step advances
    the decoder GRU by one position from its carried state.
    """
    import tensorflow as tf

    from keras_landmarks.models._decoding import beam_search, greedy_search, repeat_rows

    source_embedding = model.get_layer("source_embedding")
    encoder = model.get_layer("encoder")
    target_embedding = model.get_layer("target_embedding")
    decoder = model.get_layer("decoder")
    output = model.get_layer("output")

    def encode(source_ids, source_mask):
        mask = tf.cast(source_mask, tf.bool)
        annotations = encoder(source_embedding(source_ids), mask=mask)
        s0, keys, fixed = decoder.initial(annotations, mask)
        zeros = tf.zeros_like(s0[:, :1])
        keys = zeros if keys is None else keys  # the attention-free network carries a placeholder
        return s0, annotations, keys, mask, fixed

    def step_fn(tokens, step, state):
        s, annotations, keys, mask, fixed = state
        y_prev = target_embedding(tokens[:, step])  # E y_{i-1}, (N, m)
        s, t = decoder.step(y_prev, s, annotations, keys if decoder.attention else None, mask, fixed)
        log_probs = tf.nn.log_softmax(tf.cast(output(t), tf.float32))
        return log_probs, (s, annotations, keys, mask, fixed)

    specs = [tf.TensorSpec([None, None], tf.int32, name="source_token_ids"),
             tf.TensorSpec([None, None], tf.int32, name="source_padding_mask")]

    @tf.function(input_signature=specs)
    def greedy(source_token_ids, source_padding_mask):
        state = encode(source_token_ids, source_padding_mask)
        batch = tf.shape(source_token_ids)[0]
        return {"token_ids": greedy_search(step_fn, state, batch, max_length, bos_id, eos_id, pad_id)}

    @tf.function(input_signature=specs + [tf.TensorSpec([], tf.int32, name="beam_width"),
                                          tf.TensorSpec([], tf.float32, name="length_penalty")])
    def beam(source_token_ids, source_padding_mask, beam_width, length_penalty):
        state = encode(repeat_rows(source_token_ids, beam_width), repeat_rows(source_padding_mask, beam_width))
        batch = tf.shape(source_token_ids)[0]
        tokens, scores = beam_search(step_fn, state, batch, beam_width, max_length, length_penalty,
                                     bos_id, eos_id, pad_id)
        return {"token_ids": tokens, "scores": scores}

    return greedy, beam


def _inputs(config):
    return {"source_token_ids": TokenIds(config["source_vocabulary_size"]), "source_padding_mask": PaddingMask(),
            "target_token_ids": TokenIds(config["target_vocabulary_size"])}


def _signatures(model):
    return dict(zip(("greedy_decode", "beam_decode"), make_decoder(model)))


def _io(config):
    return {"inputs": {n: (None, None) for n in ("source_token_ids", "source_padding_mask", "target_token_ids")},
            "outputs": {"logits": (None, None, config["target_vocabulary_size"])}}


register(
    "rnnsearch",
    aliases=("seq2seq_attention",),
    family="rnnsearch",
    builder=RNNSearch,
    paper=PAPER,
    config={},
    params=80_442_000,
    params_source="Our count for the paper's setup (§4.2, A.2: 30,000-word vocabularies, m=620, n=n'=1000, "
    "l=500), biases included: embeddings 2 × 18,600,000 + bidirectional GRU 9,726,000 + W_s 1,001,000 + "
    "alignment 3,001,000 + decoder GRU 10,863,000 + readout 3,621,000 + W_o 15,030,000. "
    "The paper gives no total.",
    task="translation",
    io=_io,
    inputs=_inputs,
    signatures=_signatures,
    test_config={"source_vocabulary_size": 40, "target_vocabulary_size": 30, "embedding_dim": 6, "hidden_dim": 8,
                 "alignment_dim": 5, "maxout_dim": 4},
    description="Encoder-decoder with additive attention: the decoder learns where to look in the source.",
)
