"""BERT.

Devlin, Chang, Lee, Toutanova. "BERT: Pre-training of Deep Bidirectional Transformers for Language
Understanding." NAACL 2019 (arXiv 2018). https://arxiv.org/abs/1810.04805

The input representation is the sum of token, segment and learned position embeddings (§3, Figure 2),
normalized and passed through a stack of post-LN Transformer encoder layers with GELU (exact, erf form).
The pooler maps the final [CLS] state through a dense tanh layer. `bert_base` (L=12, H=768, A=12) and
`bert_large` (L=24, H=1024, A=16) are the paper's sizes; `bert_tiny` (L=2, H=128, A=2) is the smallest of
Turc et al. (2019)'s compact models. Vocabulary: WordPiece, 30,522 tokens; 512 positions; 2 segments.

`include_heads=True` adds the pre-training heads of §3.1 (Appendix A.1): the masked-LM head (dense +
GELU + LayerNorm, then logits through the token embedding matrix, tied, plus a bias) and the
next-sentence head (a 2-way classifier on the pooled output).

Inputs (int32, dynamic length): `token_ids`, `segment_ids`, `padding_mask` (1 for real tokens).
Outputs: `sequence_output` (B, T, H), `pooled_output` (B, H), with heads also `mlm_logits` (B, T, V)
and `nsp_logits` (B, 2).

`activation="gelu_tanh"` uses GELU's tanh approximation instead of the exact form: keras-hub's BERT and
Google's original checkpoints compute it that way, and the weight loaders set it to match
(`keras_landmarks.weights`).

Deviations:
- The masked-LM head scores every position; the paper's implementation gathers the masked positions
  first (same logits at those positions).
"""

from typing import Literal

import keras
from keras import ops

from keras_landmarks.layers.embeddings import PositionEmbedding
from keras_landmarks.layers.activations import gelu, gelu_tanh
from keras_landmarks.layers.transformer import ReversibleEmbedding, TransformerEncoderBlock
from keras_landmarks.models._text import TOKEN_TEST_CONFIG, check_transformer_config, init, token_input
from keras_landmarks.inputs import PaddingMask, SegmentIds, TokenIds
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
    authors="Jacob Devlin, Ming-Wei Chang, Kenton Lee, Kristina Toutanova",
    year=2018,
    venue="NAACL 2019",
    url="https://arxiv.org/abs/1810.04805",
    extends=("transformer", "gpt", "elmo (Peters et al. 2018)"),
    adopted_by=("roberta", "albert", "distilbert", "t5 (denoising pre-training)"),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class OutputBias(keras.layers.Layer):
    """Adds a learned bias per output unit (the masked-LM head's bias over the vocabulary)."""

    def build(self, input_shape):
        self.bias = self.add_weight(name="bias", shape=(input_shape[-1],), initializer="zeros")

    def call(self, inputs):
        return inputs + ops.cast(self.bias, inputs.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape


def BERT(
    *,
    vocabulary_size: int = 30522,
    num_layers: int = 12,
    num_heads: int = 12,
    hidden_dim: int = 768,
    intermediate_dim: int = 3072,
    dropout: float = 0.1,
    max_sequence_length: int = 512,
    num_segments: int = 2,
    include_heads: bool = False,
    activation: Literal["gelu", "gelu_tanh"] = "gelu",
    name: str = "bert_base",
):
    check_transformer_config(name, vocabulary_size=vocabulary_size, num_layers=num_layers, num_heads=num_heads,
                             hidden_dim=hidden_dim, intermediate_dim=intermediate_dim, dropout=dropout,
                             max_sequence_length=max_sequence_length)
    token_ids, segment_ids, padding_mask = (token_input(n) for n in ("token_ids", "segment_ids", "padding_mask"))
    token_embedding = ReversibleEmbedding(vocabulary_size, hidden_dim, embeddings_initializer=init(0.02),
                                          name="token_embedding")
    tokens = token_embedding(token_ids)  # (B, T, H)
    positions = PositionEmbedding(max_sequence_length, initializer=init(0.02), name="position_embedding")(tokens)
    segments = keras.layers.Embedding(num_segments, hidden_dim, embeddings_initializer=init(0.02),
                                      name="segment_embedding")(segment_ids)
    x = keras.layers.Add(name="embeddings_add")([tokens, positions, segments])  # Figure 2
    x = keras.layers.LayerNormalization(epsilon=1e-12, name="embeddings_norm")(x)
    x = keras.layers.Dropout(dropout, name="embeddings_dropout")(x)
    for i in range(num_layers):
        x = TransformerEncoderBlock(num_heads, intermediate_dim, dropout=dropout, activation=activation,
                                    layer_norm_epsilon=1e-12, kernel_initializer=init(0.02),
                                    name=f"transformer_layer_{i}")(x, padding_mask=padding_mask)
    cls = ops.reshape(x[:, :1, :], (-1, hidden_dim))  # the [CLS] state, (B, H): a slice XNNPACK takes
    pooled = keras.layers.Dense(hidden_dim, activation="tanh", kernel_initializer=init(0.02), name="pooler")(cls)
    outputs = {"sequence_output": x, "pooled_output": pooled}
    if include_heads:
        h = keras.layers.Dense(hidden_dim, activation=gelu if activation == "gelu" else gelu_tanh,
                               kernel_initializer=init(0.02), name="mlm_dense")(x)
        h = keras.layers.LayerNormalization(epsilon=1e-12, name="mlm_norm")(h)
        outputs["mlm_logits"] = OutputBias(name="mlm_bias")(token_embedding(h, reverse=True))  # (B, T, V)
        outputs["nsp_logits"] = keras.layers.Dense(2, kernel_initializer=init(0.02), name="nsp")(pooled)
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    return keras.Model(inputs, outputs, name=name)


def _inputs(config):
    return {"token_ids": TokenIds(config["vocabulary_size"], config["max_sequence_length"]),
            "segment_ids": SegmentIds(config["num_segments"]), "padding_mask": PaddingMask()}


def _io(config):
    h, v = config["hidden_dim"], config["vocabulary_size"]
    outputs = {"sequence_output": (None, None, h), "pooled_output": (None, h)}
    if config["include_heads"]:
        outputs.update({"mlm_logits": (None, None, v), "nsp_logits": (None, 2)})
    return {"inputs": {n: (None, None) for n in ("token_ids", "segment_ids", "padding_mask")}, "outputs": outputs}


_SIZES = {
    "bert_tiny": (dict(num_layers=2, num_heads=2, hidden_dim=128, intermediate_dim=512), 4_385_920,
                  "Our count for L=2, H=128, A=2 (Turc et al. 2019's BERT-Tiny), backbone with pooler."),
    "bert_base": (dict(), 109_482_240, "Backbone with pooler, L=12, H=768, A=12 (Table 1's 110M): embeddings "
                  "23,837,184 + 12 × 7,087,872 + pooler 590,592. include_heads=True: 110,106,428."),
    "bert_large": (dict(num_layers=24, num_heads=16, hidden_dim=1024, intermediate_dim=4096), 335_141_888,
                   "Backbone with pooler, L=24, H=1024, A=16 (the paper's 340M)."),
}
# Appendix A.2: Adam with lr 1e-4, β1 = 0.9, β2 = 0.999, L2 weight decay 0.01, warm-up over the first 10,000
# of 1,000,000 steps then linear decay, batch 256 sequences (40 epochs over the 3.3B-word corpus).
# Pre-training's objective is the model's own (masked LM and next sentence): `train` has no default one.
RECIPE = Recipe(optimizer="adamw", learning_rate=1e-4, weight_decay=0.01, schedule="warmup_linear", warmup=0.01,
                batch_size=256, epochs=40, loss=None, metrics=(),
                source="Devlin et al. 2019, Appendix A.2: AdamW 1e-4 (β 0.9, 0.999), weight decay 0.01, linear "
                "warm-up over the first 1% of steps (10k of 1M), then linear decay; batch 256")

for _name, (_config, _params, _source) in _SIZES.items():
    register(
        _name,
        family="bert",
        builder=BERT,
        paper=PAPER,
        config={**_config, "name": _name},
        params=_params,
        params_source=_source,
        task="text_encoder",
        io=_io,
        inputs=_inputs,
        test_config={**TOKEN_TEST_CONFIG, "max_sequence_length": 16, "include_heads": True},
        description="Bidirectional Transformer encoder pre-trained by masked LM and next-sentence prediction.",
        training=lambda c: RECIPE,
    )
