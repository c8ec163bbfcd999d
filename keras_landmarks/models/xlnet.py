"""XLNet: autoregressive pre-training over permutations of the factorization order.

Yang, Dai, Yang, Carbonell, Salakhutdinov & Le. "XLNet: Generalized Autoregressive Pretraining for
Language Understanding." NeurIPS 2019. https://arxiv.org/abs/1906.08237

The permutation language-modelling objective (§2.2, eq. 3) maximises, over factorization orders $z$
drawn uniformly from the permutations of $[1, T]$,

$$\\mathbb{E}_{z}\\Big[\\sum_{t=c+1}^{T} \\log p_\\theta(x_{z_t} \\mid x_{z_{<t}})\\Big], \\qquad
p_\\theta(X_{z_t} = x \\mid x_{z_{<t}}) = \\frac{\\exp(e(x)^\\top g_\\theta(x_{z_{<t}}, z_t))}
{\\sum_{x'} \\exp(e(x')^\\top g_\\theta(x_{z_{<t}}, z_t))}$$

with partial prediction (§2.3): only the last $T - c$ tokens of the order are predicted, $(T - c)/T
\\approx 1/K$, $K = 6$. The order never reorders the input: it only sets attention masks (token $i$ may
see token $j$ when $j$ comes earlier in $z$). Two streams carry it (eq. 4,
`layers.TwoStreamRelativeAttention`): the content stream $h$ (initialised with the token embeddings)
sees its own token; the query stream $g$ (initialised with a learned vector $w$, `mask_emb`) sees its
position only. Each layer is post-LN with relative positions (Transformer-XL's terms with $u$, $v$,
distances both ways) and relative segment encodings (§2.5), then a GELU feed-forward shared by both
streams:

$$a = \\mathrm{LayerNorm}(x + \\mathrm{Attn}(x, h)), \\quad x' = \\mathrm{LayerNorm}(a + W_2
\\,\\mathrm{GELU}(W_1 a + b_1) + b_2), \\qquad x \\in \\{h, g\\}.$$

The output is tied to the token embedding, plus a bias over the vocabulary.

Model: `token_ids`, `segment_ids`, `padding_mask` (1 for tokens) → `sequence_output` (B, T, d), the
content stream (what fine-tuning reads; keras-hub's `XLNetBackbone`). `include_heads=True` builds the
pre-training graph: also `permutation_mask` (B, T, T; 1 where token i may *not* see token j, the
authors' convention) and `target_mapping` (B, P, T; row p one-hot at the p-th predicted position) →
also `lm_logits` (B, P, V), the query stream's prediction of each target. The `xlnet` training
procedure draws the orders and targets each step.

Registered: `xlnet_base` (L = 12, d = 768, 12 heads, FFN 3,072) and `xlnet_large` (L = 24, d = 1,024,
16 heads, FFN 4,096), both with the 32,000-piece SentencePiece vocabulary.

Deviations:
- The Transformer-XL memory across segments that pre-training uses (384 positions for XLNet-Large) is
  in the attention layer (`memory=`) but not in the registered graphs or the training procedure: each
  window is read on its own, as fine-tuning does.
- Pre-training here reads one segment per example (no [A, SEP, B, SEP, CLS] pairs and no span-based
  target selection, the code's `mask_alpha` / `mask_beta`): the targets are the last ⌈T/K⌉ tokens of a
  uniformly drawn order, as §2.3 states it.
- GELU is the authors' tanh approximation by default; `activation="gelu"` gives the exact form, which
  keras-hub's XLNet computes (the parity test uses it).
"""

from typing import Literal

import keras
import numpy as np
from keras import ops

from keras_landmarks.config import check_positive, check_rate, fail
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import PaddingMask, PermutationMask, SegmentIds, TargetMapping, TokenIds
from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.activations import gelu, gelu_tanh
from keras_landmarks.layers.attention import TwoStreamRelativeAttention
from keras_landmarks.layers.transformer import ReversibleEmbedding
from keras_landmarks.models.bert import OutputBias
from keras_landmarks.models._text import token_input
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.language import TextProcedure, token_ids
from keras_landmarks.training.procedures import Built, register_procedure
from keras_landmarks.training.recipe import Option, Recipe
from keras_landmarks.training.trainer import LossTrainer

PAPER = Paper(
    title="XLNet: Generalized Autoregressive Pretraining for Language Understanding",
    authors="Zhilin Yang, Zihang Dai, Yiming Yang, Jaime Carbonell, Ruslan Salakhutdinov, Quoc V. Le",
    year=2019,
    venue="NeurIPS 2019",
    url="https://arxiv.org/abs/1906.08237",
    extends=("transformer_xl", "bert", "made / nade (order-agnostic autoregression)"),
    adopted_by=("mpnet",),
)


def _normal():
    return fresh(keras.initializers.RandomNormal(0.0, 0.02))  # the authors' initializer (stddev 0.02)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class XLNetMasks(keras.layers.Layer):
    """The attention masks of both streams, the segment matrix, and the query stream's start.

    `call(padding_mask, segment_ids, permutation_mask=None, target_mapping=None)` → dict:
    - `content_mask` (B, T, T): 1 where i may attend j: j is a token and not after i in the order, or
      j = i (the content stream sees itself);
    - `query_mask` (B, T, T): the same without the diagonal exception (the query stream never sees the
      token it predicts);
    - `different_segment` (B, T, T): 1 where i and j are in different segments (§2.5);
    - with `target_mapping` (B, P, T), `query` (B, P, d): the learned vector $w$ (`mask_emb`) at each
      target, the query stream's first layer input.
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)

    def build(self, padding_shape, *args, **kwargs):
        self.mask_emb = self.add_weight(name="mask_emb", shape=(1, 1, self.hidden_dim), initializer=_normal())

    def call(self, padding_mask, segment_ids, permutation_mask=None, target_mapping=None):
        tokens = ops.cast(ops.expand_dims(padding_mask, 1), "float32")  # (B, 1, T): key j is a token
        allowed = tokens if permutation_mask is None else tokens * (1.0 - ops.cast(permutation_mask, "float32"))
        t = ops.shape(padding_mask)[1]
        eye = ops.expand_dims(ops.eye(t, dtype="float32"), 0)
        query_mask = allowed * ops.ones_like(eye)  # (B, T, T)
        content_mask = ops.maximum(query_mask, eye)
        segments = ops.cast(segment_ids, "float32")
        different = ops.cast(ops.not_equal(ops.expand_dims(segments, 2), ops.expand_dims(segments, 1)), "float32")
        out = {"content_mask": content_mask, "query_mask": query_mask, "different_segment": different}
        if target_mapping is not None:
            ones = ops.ones_like(ops.cast(target_mapping[:, :, :1], self.compute_dtype))  # (B, P, 1)
            out["query"] = ones * ops.cast(self.mask_emb, self.compute_dtype)
        return out

    def compute_output_spec(self, padding_mask, segment_ids, permutation_mask=None, target_mapping=None):
        b, t = padding_mask.shape
        out = {key: keras.KerasTensor((b, t, t), "float32")  # one tensor each: Keras tells outputs apart by identity
               for key in ("content_mask", "query_mask", "different_segment")}
        if target_mapping is not None:
            out["query"] = keras.KerasTensor((b, target_mapping.shape[1], self.hidden_dim), self.compute_dtype)
        return out

    def get_config(self):
        return {**super().get_config(), "hidden_dim": self.hidden_dim}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class XLNetLayer(keras.layers.Layer):
    """One post-LN layer for both streams: two-stream relative attention, then the GELU feed-forward
    (shared weights; the query stream is optional)."""

    def __init__(self, num_heads, head_dim, intermediate_dim, dropout=0.1, activation="gelu_tanh", **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.intermediate_dim = int(num_heads), int(head_dim), int(intermediate_dim)
        self.dropout, self.activation = float(dropout), activation
        self.attention = TwoStreamRelativeAttention(self.num_heads, self.head_dim, dropout=self.dropout,
                                                    name="attention")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-12, name="attention_norm")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-12, name="ffn_norm")
        self.drop = keras.layers.Dropout(self.dropout)
        self.inner = self.outer = None

    def build(self, content_shape, *args, **kwargs):
        d = content_shape[-1]
        act = gelu if self.activation == "gelu" else gelu_tanh
        self.inner = keras.layers.Dense(self.intermediate_dim, activation=act, kernel_initializer=_normal(),
                                        name="ffn_inner")
        self.outer = keras.layers.Dense(d, kernel_initializer=_normal(), name="ffn_outer")
        self.attention.build(content_shape)
        self.attention_norm.build(content_shape)
        self.ffn_norm.build(content_shape)
        self.inner.build(content_shape)
        self.outer.build((*content_shape[:-1], self.intermediate_dim))

    def _after_attention(self, x, attended, training):
        a = self.attention_norm(x + self.drop(attended, training=training))
        ffn = self.drop(self.outer(self.drop(self.inner(a), training=training)), training=training)
        return self.ffn_norm(a + ffn)

    def call(self, content, content_mask, different_segment, query=None, query_mask=None, target_mapping=None,
             training=None):
        attended = self.attention(content, query=query, content_mask=content_mask, query_mask=query_mask,
                                  different_segment=different_segment, target_mapping=target_mapping,
                                  training=training)
        if query is None:
            return self._after_attention(content, attended, training)
        h, g = attended
        return self._after_attention(content, h, training), self._after_attention(query, g, training)

    def compute_output_spec(self, content, content_mask, different_segment, query=None, query_mask=None,
                            target_mapping=None, training=None):
        h = keras.KerasTensor(content.shape, content.dtype)
        return h if query is None else (h, keras.KerasTensor(query.shape, query.dtype))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout, "activation": self.activation}


def XLNet(*, vocabulary_size: int = 32_000, num_layers: int = 12, num_heads: int = 12, hidden_dim: int = 768,
          intermediate_dim: int = 3_072, dropout: float = 0.1, activation: Literal["gelu_tanh", "gelu"] = "gelu_tanh",
          include_heads: bool = False, name: str = "xlnet_base"):
    """`token_ids`, `segment_ids`, `padding_mask` → `sequence_output`; with `include_heads`, also
    `permutation_mask` and `target_mapping` → `lm_logits` (see the module docstring)."""
    for key, value in (("vocabulary_size", vocabulary_size), ("num_layers", num_layers), ("num_heads", num_heads),
                       ("hidden_dim", hidden_dim), ("intermediate_dim", intermediate_dim)):
        check_positive(name, key, value)
    if hidden_dim % num_heads:
        fail(name, "num_heads", num_heads, f"a divisor of hidden_dim={hidden_dim}")
    check_rate(name, "dropout", dropout)
    if activation not in ("gelu_tanh", "gelu"):
        fail(name, "activation", activation, "'gelu_tanh' (the authors' code) or 'gelu' (exact, keras-hub's)")
    token_ids, segment_ids, padding_mask = (token_input(n) for n in ("token_ids", "segment_ids", "padding_mask"))
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    permutation_mask = target_mapping = None
    if include_heads:
        permutation_mask = keras.Input((None, None), dtype="float32", name="permutation_mask")
        target_mapping = keras.Input((None, None), dtype="float32", name="target_mapping")
        inputs.update(permutation_mask=permutation_mask, target_mapping=target_mapping)
    embedding = ReversibleEmbedding(vocabulary_size, hidden_dim, embeddings_initializer=_normal(),
                                    name="token_embedding")
    drop = keras.layers.Dropout(dropout, name="embedding_dropout")
    h = drop(embedding(token_ids))
    masks = XLNetMasks(hidden_dim, name="attention_masks")(padding_mask, segment_ids, permutation_mask,
                                                           target_mapping)
    g = drop(masks["query"]) if include_heads else None
    for i in range(num_layers):
        layer = XLNetLayer(num_heads, hidden_dim // num_heads, intermediate_dim, dropout=dropout,
                           activation=activation, name=f"xlnet_layer_{i}")
        out = layer(h, masks["content_mask"], masks["different_segment"], query=g, query_mask=masks["query_mask"],
                    target_mapping=target_mapping)
        h, g = out if include_heads else (out, None)
    outputs = {"sequence_output": keras.layers.Dropout(dropout, name="output_dropout")(h)}
    if include_heads:
        g = keras.layers.Dropout(dropout, name="query_output_dropout")(g)
        outputs["lm_logits"] = OutputBias(name="lm_bias")(embedding(g, reverse=True))  # e(x)ᵀ g + b, (B, P, V)
    return keras.Model(inputs, outputs, name=name)


def permutation_inputs(ranks, num_predict):
    """`permutation_mask` (B, T, T) and `target_mapping` (B, P, T) of factorization orders given as
    `ranks` (B, T): token j is the ranks[b, j]-th of its order. The last `num_predict` of each order are
    the targets (§2.3); as the authors' `_local_perm`, a target sees the non-targets and the targets
    before it, a non-target sees the non-targets only (the context is read bidirectionally).
    Target rows follow the positions' order."""
    ranks = ops.convert_to_tensor(ranks, "int32")
    t = ops.shape(ranks)[1]
    target = ops.cast(ranks >= t - num_predict, "float32")  # (B, T)
    rev = ops.where(target > 0, ops.cast(ranks, "float32"), -1.0)  # targets keep their rank; context: -1
    self_rev = ops.where(target > 0, rev, rev + 1.0)  # context: 0, so it sees no target
    mask = ops.cast(ops.expand_dims(self_rev, 2) <= ops.expand_dims(rev, 1), "float32") * ops.expand_dims(target, 1)
    positions = ops.argsort(ops.cast(1 - target, "float32") * ops.cast(t, "float32") + ops.cast(
        ops.arange(t), "float32"), axis=-1)[:, :num_predict]  # the targets' positions, in position order
    return mask, ops.one_hot(positions, t, dtype="float32")


def partial_count(length, k):
    """How many of `length` tokens are predicted: ⌈length / K⌉ (§2.3's |z| / (|z| − c) ≈ K)."""
    return max(1, -(-int(length) // int(k)))


class PermutationTrainer(LossTrainer):
    """Permutation language modelling (eq. 3) with partial prediction around an XLNet built with its heads:
    each step draws a uniform factorization order per example (a `SeedGenerator`, so a resumed run
    draws the same), predicts its last ⌈T / K⌉ tokens from the query stream, and minimises their mean
    negative log-likelihood."""

    def __init__(self, net, partial=6, seed=0, **kwargs):
        super().__init__(net, **kwargs)
        self.partial = int(partial)
        self.orders = keras.random.SeedGenerator(seed)

    def targets_loss(self, ids, seed, training):
        """Mean −log p of the targets of one drawn order per row of `ids` (B, T), and their count."""
        batch, length = ops.shape(ids)[0], ops.shape(ids)[1]
        count = partial_count(ids.shape[1], self.partial)
        ranks = ops.argsort(keras.random.uniform((batch, length), seed=seed), axis=-1)  # a uniform permutation
        mask, mapping = permutation_inputs(ranks, count)
        positions = ops.argmax(mapping, axis=-1)  # (B, P)
        labels = ops.take_along_axis(ops.cast(ids, "int32"), ops.cast(positions, "int32"), axis=1)
        ones = ops.ones_like(ids)
        out = self.net({"token_ids": ids, "segment_ids": ops.zeros_like(ids), "padding_mask": ones,
                        "permutation_mask": mask, "target_mapping": mapping}, training=training)
        nll = keras.losses.sparse_categorical_crossentropy(labels, ops.cast(out["lm_logits"], "float32"),
                                                           from_logits=True)
        return ops.mean(nll)

    def step_loss(self, data):
        ids = data[0] if isinstance(data, tuple) else data
        loss = self.targets_loss(ids, self.orders, training=True)
        return loss, loss


class PermutationLM(TextProcedure):
    """XLNet's pre-training on a text dataset's word ids: windows of `sequence_length` words, one order
    drawn per window and step (`PermutationTrainer`); held out, the test windows with orders fixed by
    seed, in nats per predicted word and perplexity."""

    name = "xlnet"
    losses = ("permutation_lm",)
    options = {
        "sequence_length": Option(int, "words per window", minimum=2, maximum=100_000),
        "partial": Option(int, "partial prediction's K: the last ⌈T/K⌉ of each order are predicted", minimum=1,
                          maximum=1_000),
    }
    strategies = ("none",)

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        ids = token_ids(data, split, config["vocabulary_size"], data_dir, manual_dir)
        length = recipe.options.get("sequence_length", 128)
        count = len(ids) // length
        if count < 1:
            raise ConfigError(f"{data}'s {split} split has {len(ids):,} tokens: too few for one {length}-word "
                              "window.", key="data", value=data)
        windows = ids[: count * length].reshape(count, length).astype(np.int32)
        return windows, windows, config["vocabulary_size"]

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        net = registry.build(spec.name, weights=weights, **{**overrides, "include_heads": True})
        trainer = PermutationTrainer(net, recipe.options.get("partial", 6))
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, net.trainable_variables)], {spec.name: net})

    def evaluate(self, trainer, batches):
        total, count = 0.0, 0
        for i, (x, _) in enumerate(batches):
            total += float(trainer.targets_loss(x, 1_000 + i, training=False)) * len(x)
            count += len(x)
        loss = total / count
        return {"loss": loss, "perplexity": float(np.exp(loss))}

    def results(self, metrics):
        return {"test_loss": metrics["loss"], "perplexity": metrics["perplexity"]}


register_procedure(PermutationLM())


def _inputs(config):
    kinds = {"token_ids": TokenIds(config["vocabulary_size"]), "segment_ids": SegmentIds(2),
             "padding_mask": PaddingMask()}
    if config["include_heads"]:
        kinds.update(permutation_mask=PermutationMask(), target_mapping=TargetMapping())
    return kinds


def _io(config):
    d = config["hidden_dim"]
    inputs = {n: (None, None) for n in ("token_ids", "segment_ids", "padding_mask")}
    outputs = {"sequence_output": (None, None, d)}
    if config["include_heads"]:
        inputs.update(permutation_mask=(None, None, None), target_mapping=(None, None, None))
        outputs["lm_logits"] = (None, None, config["vocabulary_size"])
    return {"inputs": inputs, "outputs": outputs}


# Pre-training (the hyperparameters of Appendix A): Adam (ε 10⁻⁶) at 4·10⁻⁴, weight decay 0.01, 40k
# warm-up steps of 500k then linear decay, batch 8,192 sequences of 512, memory 384, partial prediction K = 6.
RECIPE = Recipe(optimizer="adamw", learning_rate=4e-4, weight_decay=0.01, schedule="warmup_linear", warmup=0.08,
                batch_size=32, epochs=1, loss="permutation_lm", metrics=(), procedure="xlnet",
                options={"sequence_length": 128, "partial": 6},
                source="Yang et al. 2019, §3.1 and the pre-training hyperparameters of Appendix A: Adam with linear "
                       "decay after warm-up (40k of 500k steps), learning rate 4·10⁻⁴, weight decay 0.01, partial prediction K = 6; batch "
                       "8,192 sequences of 512 there, 32 of 128 words here")

_TEST = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32,
         "include_heads": True}

for _name, _config, _params, _what in (
        ("xlnet_base", {}, 116_718_336,
         "XLNet-Base as keras-hub's XLNetBackbone counts it (32,000-piece vocabulary): 32,000·768 embedding + "
         "768 mask_emb + 12 layers × (5·768² projections (q, k, v, output, W_R), 3·768 biases (u, v, "
         "segment), 2·768 segment encodings, two LayerNorms 4·768, FFN 768·3,072 + 3,072 + 3,072·768 + 768). "
         "include_heads=True adds the output bias (32,000)."),
        ("xlnet_large", {"num_layers": 24, "num_heads": 16, "hidden_dim": 1_024, "intermediate_dim": 4_096},
         360_268_800,
         "XLNet-Large as keras-hub's XLNetBackbone counts it: 32,000·1,024 embedding + 1,024 mask_emb + 24 "
         "layers of the same terms at d = 1,024, FFN 4,096 (the paper's BERT-Large size, ≈340M + the "
         "relative-attention terms). include_heads=True adds the output bias (32,000).")):
    register(
        _name,
        family="xlnet",
        builder=XLNet,
        paper=PAPER,
        config={**_config, "name": _name},
        params=_params,
        params_source=_what,
        task="text_encoder",
        io=_io,
        inputs=_inputs,
        test_config=_TEST,
        description="Permutation language model: two-stream relative attention with partial prediction.",
        training=lambda c: RECIPE,
    )
