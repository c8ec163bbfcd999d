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

from keras_landmarks.config import check_rate
from keras_landmarks.layers.embeddings import SinusoidalPositionEncoding
from keras_landmarks.layers.transformer import ReversibleEmbedding, TransformerDecoderBlock, TransformerEncoderBlock
from keras_landmarks.models._text import TOKEN_TEST_CONFIG, check_transformer_config, token_input
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
    check_rate(name, "dropout", dropout)
    if share_embeddings and target_vocabulary_size not in (None, vocabulary_size):
        from keras_landmarks.config import fail

        fail(name, "target_vocabulary_size", target_vocabulary_size,
             "None (or vocabulary_size) when share_embeddings=True")
    encoder_ids, encoder_mask = token_input("encoder_token_ids"), token_input("encoder_padding_mask")
    decoder_ids, decoder_mask = token_input("decoder_token_ids"), token_input("decoder_padding_mask")
    init = keras.initializers.RandomNormal(stddev=hidden_dim ** -0.5)
    target_embedding = ReversibleEmbedding(target_vocabulary_size or vocabulary_size, hidden_dim,
                                           embeddings_initializer=init, name="token_embedding")
    source_embedding = target_embedding if share_embeddings else ReversibleEmbedding(
        vocabulary_size, hidden_dim, embeddings_initializer=init, name="source_embedding")

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
    - `greedy(encoder_token_ids, encoder_padding_mask)` → {"token_ids": (B, max_length)}: at each
      step the most likely token.
    - `beam(encoder_token_ids, encoder_padding_mask, beam_width, length_penalty)` → {"token_ids"
      (B, max_length), "scores" (B,)}: the best of `beam_width` hypotheses by log-probability divided
      by $((5 + |Y|)/6)^\\alpha$ (the GNMT length penalty the paper uses, α = `length_penalty`).
    Output sequences start with `bos_id`; after `eos_id` they hold `pad_id`. Both run the encoder once
    and the decoder on the growing prefix inside one `tf.while_loop`; both have input signatures, so
    each can be exported as a SavedModel signature.
    """
    import tensorflow as tf

    def logits_at(encoder_ids, encoder_mask, prefix, step):
        """Next-token log-probabilities after `prefix` (B, max_length), whose first step+1 tokens are set."""
        positions = tf.range(max_length)[None, :]
        decoder_mask = tf.cast(positions <= step, tf.int32) * tf.ones_like(prefix)
        outputs = model({"encoder_token_ids": encoder_ids, "encoder_padding_mask": encoder_mask,
                         "decoder_token_ids": prefix, "decoder_padding_mask": decoder_mask}, training=False)
        logits = tf.gather(outputs["logits"], step, axis=1)  # (B, V)
        return tf.nn.log_softmax(tf.cast(logits, tf.float32))

    encoder_specs = [tf.TensorSpec([None, None], tf.int32, name="encoder_token_ids"),
                     tf.TensorSpec([None, None], tf.int32, name="encoder_padding_mask")]

    @tf.function(input_signature=encoder_specs)
    def greedy(encoder_token_ids, encoder_padding_mask):
        batch = tf.shape(encoder_token_ids)[0]
        tokens = tf.concat([tf.fill([batch, 1], bos_id), tf.fill([batch, max_length - 1], pad_id)], axis=1)
        done = tf.zeros([batch], tf.bool)

        def body(step, tokens, done):
            next_token = tf.cast(tf.argmax(logits_at(encoder_token_ids, encoder_padding_mask, tokens, step), -1), tf.int32)
            next_token = tf.where(done, pad_id, next_token)
            tokens = tf.tensor_scatter_nd_update(
                tokens, tf.stack([tf.range(batch), tf.fill([batch], step + 1)], axis=1), next_token)
            return step + 1, tokens, done | tf.equal(next_token, eos_id)

        _, tokens, _ = tf.while_loop(lambda step, tokens, done: (step < max_length - 1) & ~tf.reduce_all(done),
                                     body, (tf.constant(0), tokens, done))
        return {"token_ids": tokens}

    @tf.function(input_signature=encoder_specs + [tf.TensorSpec([], tf.int32, name="beam_width"),
                                                  tf.TensorSpec([], tf.float32, name="length_penalty")])
    def beam(encoder_token_ids, encoder_padding_mask, beam_width, length_penalty):
        batch = tf.shape(encoder_token_ids)[0]
        k = beam_width
        # Every hypothesis is a row: (B·k, ...), beams of one sentence adjacent.
        enc_ids = tf.repeat(encoder_token_ids, k, axis=0)
        enc_mask = tf.repeat(encoder_padding_mask, k, axis=0)
        tokens = tf.concat([tf.fill([batch * k, 1], bos_id), tf.fill([batch * k, max_length - 1], pad_id)], axis=1)
        # Only the first beam is live at the start, so the k beams do not all pick the same token.
        scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], -1e9)], axis=0), [batch])  # (B·k,)
        done = tf.zeros([batch * k], tf.bool)
        lengths = tf.ones([batch * k], tf.float32)

        def body(step, tokens, scores, done, lengths):
            log_probs = logits_at(enc_ids, enc_mask, tokens, step)  # (B·k, V)
            vocab = tf.shape(log_probs)[-1]
            # A finished hypothesis only extends with padding, at no cost.
            pad_only = tf.one_hot(tf.fill([batch * k], pad_id), vocab, on_value=0.0, off_value=-1e9)
            log_probs = tf.where(done[:, None], pad_only, log_probs)
            total = tf.reshape(scores[:, None] + log_probs, [batch, k * vocab])
            new_lengths = tf.reshape(lengths[:, None] + tf.where(done[:, None], 0.0, 1.0) * tf.ones_like(log_probs),
                                     [batch, k * vocab])
            penalty = tf.pow((5.0 + new_lengths) / 6.0, length_penalty)
            _, top = tf.math.top_k(total / penalty, k=k)  # (B, k)
            beam_index = top // vocab + tf.range(batch)[:, None] * k  # source row of each survivor
            token = tf.reshape(top % vocab, [-1])
            rows = tf.reshape(beam_index, [-1])
            tokens = tf.gather(tokens, rows)
            tokens = tf.tensor_scatter_nd_update(
                tokens, tf.stack([tf.range(batch * k), tf.fill([batch * k], step + 1)], axis=1), token)
            scores = tf.reshape(tf.gather(total, top, batch_dims=1), [-1])
            lengths = tf.reshape(tf.gather(new_lengths, top, batch_dims=1), [-1])
            done = tf.gather(done, rows) | tf.equal(token, eos_id)
            return step + 1, tokens, scores, done, lengths

        _, tokens, scores, done, lengths = tf.while_loop(
            lambda step, tokens, scores, done, lengths: (step < max_length - 1) & ~tf.reduce_all(done),
            body, (tf.constant(0), tokens, scores, done, lengths))
        final = tf.reshape(scores / tf.pow((5.0 + lengths) / 6.0, length_penalty), [batch, k])
        best = tf.argmax(final, axis=1, output_type=tf.int32) + tf.range(batch) * k
        return {"token_ids": tf.gather(tokens, best), "scores": tf.reduce_max(final, axis=1)}

    return greedy, beam


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
    test_config=TOKEN_TEST_CONFIG,
    description="The big Transformer of Table 3 (d_model 1024, 16 heads).",
)
