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
- The registered graphs read each window on its own, as fine-tuning does; `memory_length=M` builds the
  pre-training graph with Transformer-XL's memory: also `memory` (B, L, M', d) → `next_memory` (B, L,
  M, d), the last M of [memory; each layer's content-stream input], seen by both streams as segment 0.
  The `xlnet` procedure trains with it (`memory`, 96 positions for windows of 128 as 384 for 512): the
  text is read as contiguous streams, and every position of a window is cached, where the authors cache
  the first `reuse_len` of each window and permute those within themselves.
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
from keras_landmarks.inputs import Memory, PaddingMask, PermutationMask, SegmentIds, TargetMapping, TokenIds
from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.activations import gelu, gelu_tanh
from keras_landmarks.layers.attention import TwoStreamRelativeAttention
from keras_landmarks.layers.transformer import ReversibleEmbedding
from keras_landmarks.models.bert import OutputBias
from keras_landmarks.models._text import token_input
from keras_landmarks.models.transformer_xl import CarriedMemory, LayerMemory, NextMemory
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.language import TextProcedure, streams, token_ids
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

    `call(padding_mask, segment_ids, permutation_mask=None, target_mapping=None, memory=None)` → dict:
    - `content_mask` (B, T, M + T): 1 where i may attend j: j is in the memory (M positions, every one
      seen), or j is a token and not after i in the order, or j = i (the content stream sees itself);
    - `query_mask` (B, T, M + T): the same without the diagonal exception (the query stream never sees
      the token it predicts);
    - `different_segment` (B, T, M + T): 1 where i and j are in different segments (§2.5; the memory
      counts as segment 0, as the authors' code pads it);
    - with `target_mapping` (B, P, T), `query` (B, P, d): the learned vector $w$ (`mask_emb`) at each
      target, the query stream's first layer input.
    """

    def __init__(self, hidden_dim, **kwargs):
        super().__init__(**kwargs)
        self.hidden_dim = int(hidden_dim)

    def build(self, padding_shape, *args, **kwargs):
        self.mask_emb = self.add_weight(name="mask_emb", shape=(1, 1, self.hidden_dim), initializer=_normal())

    def call(self, padding_mask, segment_ids, permutation_mask=None, target_mapping=None, memory=None):
        tokens = ops.cast(ops.expand_dims(padding_mask, 1), "float32")  # (B, 1, T): key j is a token
        allowed = tokens if permutation_mask is None else tokens * (1.0 - ops.cast(permutation_mask, "float32"))
        t = ops.shape(padding_mask)[1]
        eye = ops.expand_dims(ops.eye(t, dtype="float32"), 0)
        query_mask = allowed * ops.ones_like(eye)  # (B, T, T)
        content_mask = ops.maximum(query_mask, eye)
        segments = ops.cast(segment_ids, "float32")
        different = ops.cast(ops.not_equal(ops.expand_dims(segments, 2), ops.expand_dims(segments, 1)), "float32")
        if memory is not None:  # (B, layers, M, d): M more keys in front, all seen
            seen = ops.transpose(ops.ones_like(ops.cast(memory[:, 0, :, :1], "float32")), (0, 2, 1))  # (B, 1, M)
            rows = ops.ones_like(ops.expand_dims(segments, 2))  # (B, T, 1)
            block = rows * seen
            content_mask = ops.concatenate([block, content_mask], axis=-1)
            query_mask = ops.concatenate([block, query_mask], axis=-1)
            other = ops.cast(ops.not_equal(ops.expand_dims(segments, 2), 0.0), "float32") * seen
            different = ops.concatenate([other, different], axis=-1)
        out = {"content_mask": content_mask, "query_mask": query_mask, "different_segment": different}
        if target_mapping is not None:
            ones = ops.ones_like(ops.cast(target_mapping[:, :, :1], self.compute_dtype))  # (B, P, 1)
            out["query"] = ones * ops.cast(self.mask_emb, self.compute_dtype)
        return out

    def compute_output_spec(self, padding_mask, segment_ids, permutation_mask=None, target_mapping=None,
                            memory=None):
        b, t = padding_mask.shape
        keys = t if memory is None else None
        out = {key: keras.KerasTensor((b, t, keys), "float32")  # one tensor each: Keras tells outputs apart by identity
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
             memory=None, training=None):
        attended = self.attention(content, query=query, memory=memory, content_mask=content_mask,
                                  query_mask=query_mask,
                                  different_segment=different_segment, target_mapping=target_mapping,
                                  training=training)
        if query is None:
            return self._after_attention(content, attended, training)
        h, g = attended
        return self._after_attention(content, h, training), self._after_attention(query, g, training)

    def compute_output_spec(self, content, content_mask, different_segment, query=None, query_mask=None,
                            target_mapping=None, memory=None, training=None):
        h = keras.KerasTensor(content.shape, content.dtype)
        return h if query is None else (h, keras.KerasTensor(query.shape, query.dtype))

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout, "activation": self.activation}


def XLNet(*, vocabulary_size: int = 32_000, num_layers: int = 12, num_heads: int = 12, hidden_dim: int = 768,
          intermediate_dim: int = 3_072, dropout: float = 0.1, activation: Literal["gelu_tanh", "gelu"] = "gelu_tanh",
          include_heads: bool = False, memory_length: int = 0, name: str = "xlnet_base"):
    """`token_ids`, `segment_ids`, `padding_mask` → `sequence_output`; with `include_heads`, also
    `permutation_mask` and `target_mapping` → `lm_logits`; with `memory_length` > 0, also `memory` →
    `next_memory` (see the module docstring)."""
    for key, value in (("vocabulary_size", vocabulary_size), ("num_layers", num_layers), ("num_heads", num_heads),
                       ("hidden_dim", hidden_dim), ("intermediate_dim", intermediate_dim)):
        check_positive(name, key, value)
    if hidden_dim % num_heads:
        fail(name, "num_heads", num_heads, f"a divisor of hidden_dim={hidden_dim}")
    check_rate(name, "dropout", dropout)
    if isinstance(memory_length, bool) or not isinstance(memory_length, int) or memory_length < 0:
        fail(name, "memory_length", memory_length, "an integer >= 0 (0: no memory input, each segment on its own)")
    if activation not in ("gelu_tanh", "gelu"):
        fail(name, "activation", activation, "'gelu_tanh' (the authors' code) or 'gelu' (exact, keras-hub's)")
    token_ids, segment_ids, padding_mask = (token_input(n) for n in ("token_ids", "segment_ids", "padding_mask"))
    inputs = {"token_ids": token_ids, "segment_ids": segment_ids, "padding_mask": padding_mask}
    permutation_mask = target_mapping = None
    if include_heads:
        permutation_mask = keras.Input((None, None), dtype="float32", name="permutation_mask")
        target_mapping = keras.Input((None, None), dtype="float32", name="target_mapping")
        inputs.update(permutation_mask=permutation_mask, target_mapping=target_mapping)
    memory = None
    if memory_length:
        memory = keras.Input((num_layers, None, hidden_dim), name="memory")
        inputs["memory"] = memory
    embedding = ReversibleEmbedding(vocabulary_size, hidden_dim, embeddings_initializer=_normal(),
                                    name="token_embedding")
    drop = keras.layers.Dropout(dropout, name="embedding_dropout")
    h = drop(embedding(token_ids))
    masks = XLNetMasks(hidden_dim, name="attention_masks")(padding_mask, segment_ids, permutation_mask,
                                                           target_mapping, memory=memory)
    g = drop(masks["query"]) if include_heads else None
    memories, hiddens = [], []
    for i in range(num_layers):
        layer_memory = None if memory is None else LayerMemory(i, name=f"layer_{i}_memory")(memory)
        memories.append(layer_memory)
        hiddens.append(h)  # what the next segment remembers: each layer's content-stream input
        layer = XLNetLayer(num_heads, hidden_dim // num_heads, intermediate_dim, dropout=dropout,
                           activation=activation, name=f"xlnet_layer_{i}")
        out = layer(h, masks["content_mask"], masks["different_segment"], query=g, query_mask=masks["query_mask"],
                    target_mapping=target_mapping, memory=layer_memory)
        h, g = out if include_heads else (out, None)
    outputs = {"sequence_output": keras.layers.Dropout(dropout, name="output_dropout")(h)}
    if memory is not None:
        outputs["next_memory"] = NextMemory(memory_length, name="next_memory")(memories, hiddens)
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


class PermutationTrainer(CarriedMemory, LossTrainer):
    """Permutation language modelling (eq. 3) with partial prediction around an XLNet built with its heads:
    each step draws a uniform factorization order per example (a `SeedGenerator`, so a resumed run
    draws the same), predicts its last ⌈T / K⌉ tokens from the query stream, and minimises their mean
    negative log-likelihood. A net built with `memory_length` reads `streams` rows side by side and
    carries each one's memory from batch to batch (Transformer-XL's recurrence, `CarriedMemory`)."""

    def __init__(self, net, partial=6, seed=0, streams=None, **kwargs):
        super().__init__(net, **kwargs)
        self.partial = int(partial)
        self.orders = keras.random.SeedGenerator(seed)
        self.carries = "memory" in net.input
        if self.carries:
            self.hold_memory(net, streams)

    def targets_loss(self, ids, seed, training, memory=None):
        """Mean −log p of the targets of one drawn order per row of `ids` (B, T), and the next memory
        (None for a net without one)."""
        ids = ops.convert_to_tensor(ids)
        batch, length = ops.shape(ids)[0], ops.shape(ids)[1]
        count = partial_count(ids.shape[1], self.partial)
        ranks = ops.argsort(keras.random.uniform((batch, length), seed=seed), axis=-1)  # a uniform permutation
        mask, mapping = permutation_inputs(ranks, count)
        positions = ops.argmax(mapping, axis=-1)  # (B, P)
        labels = ops.take_along_axis(ops.cast(ids, "int32"), ops.cast(positions, "int32"), axis=1)
        inputs = {"token_ids": ids, "segment_ids": ops.zeros_like(ids), "padding_mask": ops.ones_like(ids),
                  "permutation_mask": mask, "target_mapping": mapping}
        if memory is not None:
            inputs["memory"] = ops.convert_to_tensor(memory)
        out = self.net(inputs, training=training)
        nll = keras.losses.sparse_categorical_crossentropy(labels, ops.cast(out["lm_logits"], "float32"),
                                                           from_logits=True)
        return ops.mean(nll), out.get("next_memory")

    def step_loss(self, data):
        ids = data[0] if isinstance(data, tuple) else data
        loss, memory = self.targets_loss(ids, self.orders, True, self.current_memory() if self.carries else None)
        if self.carries:
            self.keep(memory)  # read above, so this step used the previous window's memory
        return loss, loss


class PermutationLM(TextProcedure):
    """XLNet's pre-training on a text dataset's word ids: windows of `sequence_length` words, one order
    drawn per window and step (`PermutationTrainer`); held out, the test windows with orders fixed by
    seed, in nats per predicted word and perplexity. With `memory` > 0 (the authors pre-train with 384
    positions for windows of 512), the text is read as `batch_size` contiguous streams side by side, each
    window attending to the last `memory` positions before it, held out too (from an empty memory)."""

    name = "xlnet"
    losses = ("permutation_lm",)
    options = {
        "sequence_length": Option(int, "words per window", minimum=2, maximum=100_000),
        "partial": Option(int, "partial prediction's K: the last ⌈T/K⌉ of each order are predicted", minimum=1,
                          maximum=1_000),
        "memory": Option(int, "positions of the previous windows each layer attends to (0: none, windows shuffled)",
                         minimum=0, maximum=100_000),
    }
    strategies = ("none",)

    def shuffles(self, recipe):
        return not recipe.options.get("memory", 0)

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        ids = token_ids(data, split, config["vocabulary_size"], data_dir, manual_dir)
        length = recipe.options.get("sequence_length", 128)
        if recipe.options.get("memory", 0):  # streams side by side: batch k continues batch k − 1 row for row
            windows, _ = streams(ids, recipe.batch_size, length)
            count = len(windows)
        else:
            count = len(ids) // length
            windows = ids[: count * length].reshape(count, length).astype(np.int32)
        if count < 1:
            raise ConfigError(f"{data}'s {split} split has {len(ids):,} tokens: too few for one {length}-word "
                              "window per stream.", key="data", value=data)
        return windows, windows, config["vocabulary_size"]

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        memory = recipe.options.get("memory", 0)
        if overrides.get("memory_length", memory) != memory:
            raise ConfigError(f"The memory's length is the recipe's option memory={memory} here, not memory_length="
                              f"{overrides['memory_length']} (--option memory={overrides['memory_length']} sets it).",
                              key="memory_length", value=overrides["memory_length"])
        net = registry.build(spec.name, weights=weights, **{**overrides, "include_heads": True, "memory_length": memory})
        trainer = PermutationTrainer(net, recipe.options.get("partial", 6), streams=recipe.batch_size)
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, net.trainable_variables)], {spec.name: net})

    def evaluate(self, trainer, batches):
        total, count = 0.0, 0
        memory = None
        if trainer.carries:  # the test streams read in order, `streams` rows at a time, from an empty memory
            _, layers, _, dim = trainer.net.input["memory"].shape
            memory = np.zeros((trainer.streams, layers, 0, dim), "float32")
            rows = np.concatenate([np.asarray(x) for x, _ in batches])
            batches = [(rows[k : k + trainer.streams], None) for k in range(0, len(rows), trainer.streams)]
        for i, (x, _) in enumerate(batches):
            loss, memory = trainer.targets_loss(x, 1_000 + i, False, memory)
            total += float(loss) * len(x)
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
    if config["memory_length"]:
        kinds["memory"] = Memory()
    return kinds


def _io(config):
    d = config["hidden_dim"]
    inputs = {n: (None, None) for n in ("token_ids", "segment_ids", "padding_mask")}
    outputs = {"sequence_output": (None, None, d)}
    if config["include_heads"]:
        inputs.update(permutation_mask=(None, None, None), target_mapping=(None, None, None))
        outputs["lm_logits"] = (None, None, config["vocabulary_size"])
    if config["memory_length"]:
        inputs["memory"] = (None, config["num_layers"], None, d)
        outputs["next_memory"] = (None, config["num_layers"], None, d)
    return {"inputs": inputs, "outputs": outputs}


# Pre-training (the hyperparameters of Appendix A): Adam (ε 10⁻⁶) at 4·10⁻⁴, weight decay 0.01, 40k
# warm-up steps of 500k then linear decay, batch 8,192 sequences of 512, memory 384, partial prediction K = 6.
RECIPE = Recipe(optimizer="adamw", learning_rate=4e-4, weight_decay=0.01, schedule="warmup_linear", warmup=0.08,
                batch_size=32, epochs=1, loss="permutation_lm", metrics=(), procedure="xlnet",
                options={"sequence_length": 128, "partial": 6, "memory": 96},
                source="Yang et al. 2019, §3.1 and the pre-training hyperparameters of Appendix A: Adam with linear "
                       "decay after warm-up (40k of 500k steps), learning rate 4·10⁻⁴, weight decay 0.01, partial "
                       "prediction K = 6; batch 8,192 sequences of 512 with a memory of 384 there, 32 streams of "
                       "128 words with a memory of 96 here")

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
        # xlnet_large's conversion test (with the `large` cases) covers the graph with memory; its length
        # is the tests' length of a dynamic axis (6), as Transformer-XL's test configuration has it.
        test_config=_TEST if _name == "xlnet_base" else {**_TEST, "memory_length": 6},
        description="Permutation language model: two-stream relative attention with partial prediction.",
        training=lambda c: RECIPE,
    )
