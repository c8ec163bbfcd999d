"""The Transformer.

Vaswani, Shazeer, Parmar, Uszkoreit, Jones, Gomez, Kaiser, Polosukhin. "Attention Is All You Need."
NeurIPS 2017. https://arxiv.org/abs/1706.03762

An encoder of N layers (multi-head self-attention, position-wise FFN) and a decoder of N layers
(masked self-attention, attention over the encoder output, FFN), each sub-layer wrapped as
$\\mathrm{LayerNorm}(x + \\mathrm{Dropout}(\\mathrm{Sublayer}(x)))$ (§3.1, §5.4). Token embeddings are
multiplied by $\\sqrt{d_{model}}$ and summed with the sinusoidal encoding (§3.4, §3.5). With
`share_embeddings=True` (default) source, target and the pre-softmax projection share one matrix, as
for WMT En–De with its 37,000-token shared BPE vocabulary (§3.4, §5.1); otherwise the source has its
own embedding and the output projection is tied to the target embedding.

`transformer_base`: N=6, d_model=512, d_ff=2048, h=8, dropout 0.1. `transformer_big`: N=6, d_model=1024,
d_ff=4096, h=16, dropout 0.3 (Table 3).

Inputs (int32, dynamic lengths): `encoder_token_ids`, `encoder_padding_mask`, `decoder_token_ids`,
`decoder_padding_mask`. Output: `logits` (B, T_dec, V). `make_decoder(model)` returns greedy and
beam-search translation as graph-mode `tf.function`s (§6.1: beam size 4, length penalty α = 0.6).

Deviations:
- LayerNorm epsilon 1e-6 (the paper gives none). Label smoothing (§5.4) belongs to the training loss.
"""

import math

import keras

from keras_landmarks.config import fail
from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.embeddings import SinusoidalPositionEncoding
from keras_landmarks.layers.transformer import ReversibleEmbedding, TransformerDecoderBlock, TransformerEncoderBlock
from keras_landmarks.models._text import TOKEN_TEST_CONFIG, check_transformer_config, token_input
from keras_landmarks.inputs import PaddingMask, TokenIds
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Attention Is All You Need",
    authors="Ashish Vaswani, Noam Shazeer, Niki Parmar, Jakob Uszkoreit, Llion Jones, Aidan N. Gomez, "
    "Łukasz Kaiser, Illia Polosukhin",
    year=2017,
    venue="NeurIPS",
    url="https://arxiv.org/abs/1706.03762",
    extends=("rnnsearch (attention)", "resnet (residual connections)", "layer normalization (Ba et al. 2016)"),
    adopted_by=("bert", "gpt", "gpt2", "transformer-xl", "vision transformer (ViT)"),
)


def Transformer(
    *,
    vocabulary_size: int = 37000,
    target_vocabulary_size: int | None = None,
    share_embeddings: bool = True,
    num_layers: int = 6,
    num_heads: int = 8,
    hidden_dim: int = 512,
    intermediate_dim: int = 2048,
    dropout: float = 0.1,
    name: str = "transformer_base",
):
    """`vocabulary_size` is the shared vocabulary, or the source one when `share_embeddings=False`
    (then `target_vocabulary_size` defaults to it)."""
    check_transformer_config(name, vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
                             hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout)
    if share_embeddings and target_vocabulary_size not in (None, vocabulary_size):
        fail(name, "target_vocabulary_size", target_vocabulary_size,
             "None (or vocabulary_size) when share_embeddings=True")
    encoder_ids, encoder_mask = token_input("encoder_token_ids"), token_input("encoder_padding_mask")
    decoder_ids, decoder_mask = token_input("decoder_token_ids"), token_input("decoder_padding_mask")
    init = keras.initializers.RandomNormal(stddev=hidden_dim ** -0.5)
    target_embedding = ReversibleEmbedding(target_vocabulary_size or vocabulary_size, hidden_dim,
                                           embeddings_initializer=fresh(init), name="token_embedding")
    source_embedding = target_embedding if share_embeddings else ReversibleEmbedding(
        vocabulary_size, hidden_dim, embeddings_initializer=fresh(init), name="source_embedding")

    def embed(ids, embedding, prefix):
        x = keras.layers.Rescaling(math.sqrt(hidden_dim), name=f"{prefix}_scale")(embedding(ids))  # E·√d_model
        x = keras.layers.Add(name=f"{prefix}_add_position")(
            [x, SinusoidalPositionEncoding(name=f"{prefix}_position_encoding")(x)])
        return keras.layers.Dropout(dropout, name=f"{prefix}_embedding_dropout")(x)

    x = embed(encoder_ids, source_embedding, "encoder")
    for i in range(num_layers):
        x = TransformerEncoderBlock(num_heads, intermediate_dim, dropout=dropout, activation="relu",
                                    layer_norm_epsilon=1e-6, name=f"encoder_layer_{i}")(x, padding_mask=encoder_mask)
    encoded = x
    y = embed(decoder_ids, target_embedding, "decoder")
    for i in range(num_layers):
        y = TransformerDecoderBlock(num_heads, intermediate_dim, dropout=dropout, activation="relu",
                                    layer_norm_epsilon=1e-6, name=f"decoder_layer_{i}")(
            y, encoded, decoder_padding_mask=decoder_mask, encoder_padding_mask=encoder_mask)
    logits = target_embedding(y, reverse=True)  # pre-softmax projection tied to the embedding (§3.4)
    inputs = {"encoder_token_ids": encoder_ids, "encoder_padding_mask": encoder_mask,
              "decoder_token_ids": decoder_ids, "decoder_padding_mask": decoder_mask}
    return keras.Model(inputs, {"logits": logits}, name=name)


def make_decoder(model, max_length=64, bos_id=1, eos_id=2, pad_id=0):
    """Greedy and beam-search translation for a `transformer_*` model, as graph-mode functions.

    Returns `(greedy, beam)`:
    - `greedy(encoder_token_ids, encoder_padding_mask)` → {"token_ids": (B, max_length)}.
    - `beam(encoder_token_ids, encoder_padding_mask, beam_width, length_penalty)` →
      {"token_ids": (B, max_length), "scores": (B,)}, with the GNMT length penalty (§6.1: α = 0.6).
    Sequences start with `bos_id`; after `eos_id` they hold `pad_id`. The decoder re-reads the prefix at
    each step (no cache), inside one `tf.while_loop`; both functions have input signatures, so each
    can be exported as a SavedModel signature.
    """
    import tensorflow as tf

    from keras_landmarks.models._decoding import beam_search, greedy_search, repeat_rows

    def step_fn(tokens, step, state):
        encoder_ids, encoder_mask = state
        decoder_mask = tf.cast(tf.range(max_length)[None, :] <= step, tf.int32) * tf.ones_like(tokens)
        outputs = model({"encoder_token_ids": encoder_ids, "encoder_padding_mask": encoder_mask,
                         "decoder_token_ids": tokens, "decoder_padding_mask": decoder_mask}, training=False)
        logits = tf.gather(outputs["logits"], step, axis=1)  # the prediction after position `step`, (N, V)
        return tf.nn.log_softmax(tf.cast(logits, tf.float32)), state

    specs = [tf.TensorSpec([None, None], tf.int32, name="encoder_token_ids"),
             tf.TensorSpec([None, None], tf.int32, name="encoder_padding_mask")]

    @tf.function(input_signature=specs)
    def greedy(encoder_token_ids, encoder_padding_mask):
        batch = tf.shape(encoder_token_ids)[0]
        tokens = greedy_search(step_fn, (encoder_token_ids, encoder_padding_mask), batch, max_length,
                               bos_id, eos_id, pad_id)
        return {"token_ids": tokens}

    @tf.function(input_signature=specs + [tf.TensorSpec([], tf.int32, name="beam_width"),
                                          tf.TensorSpec([], tf.float32, name="length_penalty")])
    def beam(encoder_token_ids, encoder_padding_mask, beam_width, length_penalty):
        batch = tf.shape(encoder_token_ids)[0]
        state = (repeat_rows(encoder_token_ids, beam_width), repeat_rows(encoder_padding_mask, beam_width))
        tokens, scores = beam_search(step_fn, state, batch, beam_width, max_length, length_penalty,
                                     bos_id, eos_id, pad_id)
        return {"token_ids": tokens, "scores": scores}

    return greedy, beam


def _inputs(config):
    source = config["vocabulary_size"]
    target = config["target_vocabulary_size"] or source
    return {"encoder_token_ids": TokenIds(source), "encoder_padding_mask": PaddingMask(),
            "decoder_token_ids": TokenIds(target), "decoder_padding_mask": PaddingMask()}


def _signatures(model):
    return dict(zip(("greedy_decode", "beam_decode"), make_decoder(model)))


def _io(config):
    vocab = config["target_vocabulary_size"] or config["vocabulary_size"]
    names = ("encoder_token_ids", "encoder_padding_mask", "decoder_token_ids", "decoder_padding_mask")
    return {"inputs": {n: (None, None) for n in names}, "outputs": {"logits": (None, None, vocab)}}


register(
    "transformer_base",
    family="transformer",
    builder=Transformer,
    paper=PAPER,
    config={"name": "transformer_base"},
    params=63_082_496,
    params_source="Base model, shared 37,000-token vocabulary (WMT En-De BPE), tied output projection: "
    "embedding 18,944,000 + encoder 6 × 3,152,384 + decoder 6 × 4,204,032. Table 3 says 65M.",
    task="translation",
    io=_io,
    inputs=_inputs,
    signatures=_signatures,
    test_config=TOKEN_TEST_CONFIG,
    description="Encoder-decoder built on attention alone: multi-head attention, sinusoidal positions.",
)
register(
    "transformer_big",
    family="transformer",
    builder=Transformer,
    paper=PAPER,
    config={"num_heads": 16, "hidden_dim": 1024, "intermediate_dim": 4096, "dropout": 0.3, "name": "transformer_big"},
    params=214_245_376,
    params_source="Big model, shared 37,000-token vocabulary, tied output projection: embedding 37,888,000 "
    "+ encoder 6 × 12,596,224 + decoder 6 × 16,796,672. Table 3 says 213M.",
    task="translation",
    io=_io,
    inputs=_inputs,
    signatures=_signatures,
    test_config=TOKEN_TEST_CONFIG,
    description="The big Transformer of Table 3 (d_model 1024, 16 heads).",
)
