"""Transformer-XL: a language model that attends beyond its segment through a memory of the previous one.

Dai, Yang, Yang, Carbonell, Le & Salakhutdinov. "Transformer-XL: Attentive Language Models Beyond a
Fixed-Length Context." ACL 2019. https://arxiv.org/abs/1901.02860

Segment recurrence (§3.2): layer n of segment τ+1 attends over $\\tilde h^{n-1}_{\\tau+1} =
[\\mathrm{SG}(h^{n-1}_\\tau) \\circ h^{n-1}_{\\tau+1}]$, the previous segment's hidden states (gradients
stopped) joined to the current ones. Relative positions (§3.3): each layer scores query i against key j
by terms (a)–(d) with the sinusoid encoding $R_{i-j}$ and the learned biases u and v
(`layers.RelativeMultiHeadAttention`, with the rel-shift). Each layer is post-LN, as the reference code:

$$a = \\mathrm{LayerNorm}(h + \\mathrm{RelAttn}(h, [\\mathrm{SG}(m); h])), \\quad
h' = \\mathrm{LayerNorm}(a + W_2\\,\\mathrm{ReLU}(W_1 a + b_1) + b_2).$$

Token embeddings are scaled by $\\sqrt{d}$ and tied to the output. With `cutoffs`, the output is Grave et
al.'s (2017) adaptive softmax (`AdaptiveSoftmax`): the head predicts the most frequent words and one
token per tail cluster, each tail its own words, $\\log p(w) = \\log p_{head}(c(w)) + \\log
p_{c(w)}(w)$; with `div_val` 1 every cluster reads the full-width tied embedding, as the WT103 base
model does.

Inputs: `token_ids` (B, T) and `memory` (B, layers, M, d), the hidden states entering each layer over the
previous M positions (M = 0, a (B, layers, 0, d) array, for a first segment). Outputs: `logits`
(B, T, V), log-probabilities (normalised logits: the adaptive softmax's distribution), and
`next_memory`, the last `memory_length` positions of [memory; this segment], the next call's memory.

Registered configurations (the reference code's scripts; counts with per-layer u and v):
- `transformer_xl`: WikiText-103 base (Table 1's 151M): 16 layers, d = 410, 10 heads of 41,
  FFN 2,100, 267,735 words, cutoffs 20k / 40k / 200k, memory 150.
- `transformer_xl_enwik8`: enwik8 24-layer (Table 2's 277M): d = 1,024, 8 heads of 128, FFN 3,072,
  204 symbols (the bytes that occur in enwik8; its recipe reads a text's bytes as `symbols`, numbered
  in byte order), no adaptive softmax, memory 512 (training; the paper evaluates with 3,800).

Deviations:
- u and v are per layer (the reference TensorFlow code's `untie_r=True`); its PyTorch code shares one
  pair across layers by default, (layers − 1)·2·heads·d_head fewer parameters.
- Evaluation with `same_length` (every query seeing the same number of keys) is not implemented.
"""

import functools
import math

import keras
import numpy as np
from keras import ops

from keras_landmarks.config import check_positive, check_rate, fail
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import Memory, TokenIds
from keras_landmarks.layers._init import fresh
from keras_landmarks.layers.attention import RelativeMultiHeadAttention
from keras_landmarks.layers.transformer import ReversibleEmbedding
from keras_landmarks.models._decoding import generate_signature, sample_token
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.language import TextProcedure, streams, token_ids
from keras_landmarks.training.procedures import Built, register_procedure
from keras_landmarks.training.recipe import Option, Recipe
from keras_landmarks.training.trainer import LossTrainer

PAPER = Paper(
    title="Transformer-XL: Attentive Language Models Beyond a Fixed-Length Context",
    authors="Zihang Dai, Zhilin Yang, Yiming Yang, Jaime Carbonell, Quoc V. Le, Ruslan Salakhutdinov",
    year=2019,
    venue="ACL 2019",
    url="https://arxiv.org/abs/1901.02860",
    extends=("transformer (Vaswani et al. 2017)", "relative positions (Shaw et al. 2018)",
             "character Transformer LM (Al-Rfou et al. 2018)"),
    adopted_by=("xlnet",),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class AdaptiveSoftmax(keras.layers.Layer):
    """Adaptive softmax (Grave et al. 2017) over tied logits: `call(hidden, logits)` with `logits` =
    $hE^\\top$ (B, T, V) gives log-probabilities (B, T, V). Words [0, cutoffs[0]) are the head's, with
    one head token per tail cluster (`cluster_kernel`, `cluster_bias`); cluster i holds words
    [cutoffs[i], cutoffs[i+1]) (the last up to V). Without cutoffs: a plain log-softmax. `bias` is the
    output bias of every word."""

    def __init__(self, vocabulary_size, cutoffs=(), **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.cutoffs = int(vocabulary_size), tuple(int(c) for c in cutoffs)

    def build(self, hidden_shape, logits_shape=None):
        self.bias = self.add_weight(shape=(self.vocabulary_size,), initializer="zeros", name="bias")
        if self.cutoffs:
            clusters = len(self.cutoffs)
            self.cluster_kernel = self.add_weight(shape=(hidden_shape[-1], clusters), name="cluster_kernel",
                                                  initializer=keras.initializers.RandomNormal(0.0, 0.02))
            self.cluster_bias = self.add_weight(shape=(clusters,), initializer="zeros", name="cluster_bias")

    def call(self, hidden, logits):
        logits = logits + ops.cast(self.bias, logits.dtype)
        if not self.cutoffs:
            return ops.log_softmax(logits, axis=-1)
        head = self.cutoffs[0]
        clusters = ops.matmul(hidden, ops.cast(self.cluster_kernel, hidden.dtype)) + ops.cast(self.cluster_bias,
                                                                                              hidden.dtype)
        head_log_p = ops.log_softmax(ops.concatenate([logits[..., :head], clusters], axis=-1), axis=-1)
        parts = [head_log_p[..., :head]]
        bounds = (*self.cutoffs, self.vocabulary_size)
        for i, (low, high) in enumerate(zip(bounds[:-1], bounds[1:])):
            parts.append(head_log_p[..., head + i : head + i + 1] + ops.log_softmax(logits[..., low:high], axis=-1))
        return ops.concatenate(parts, axis=-1)

    def compute_output_shape(self, hidden_shape, logits_shape):
        return logits_shape

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "cutoffs": list(self.cutoffs)}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TransformerXLLayer(keras.layers.Layer):
    """One post-LN layer: relative attention over [SG(memory); inputs], then the ReLU feed-forward."""

    def __init__(self, num_heads, head_dim, intermediate_dim, dropout=0.1, attention_dropout=0.0, **kwargs):
        super().__init__(**kwargs)
        self.num_heads, self.head_dim, self.intermediate_dim = int(num_heads), int(head_dim), int(intermediate_dim)
        self.dropout, self.attention_dropout = float(dropout), float(attention_dropout)
        self.attention = RelativeMultiHeadAttention(self.num_heads, self.head_dim, dropout=self.attention_dropout,
                                                    name="attention")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="attention_norm")
        self.ffn_norm = keras.layers.LayerNormalization(epsilon=1e-5, name="ffn_norm")
        self.drop = keras.layers.Dropout(self.dropout)
        self.inner, self.outer = None, None

    def build(self, inputs_shape, memory_shape=None):
        d = inputs_shape[-1]
        init = keras.initializers.RandomNormal(0.0, 0.02)
        self.inner = keras.layers.Dense(self.intermediate_dim, activation="relu", kernel_initializer=fresh(init),
                                        name="ffn_inner")
        self.outer = keras.layers.Dense(d, kernel_initializer=fresh(init), name="ffn_outer")
        self.attention.build(inputs_shape, memory_shape)
        self.attention_norm.build(inputs_shape)
        self.ffn_norm.build(inputs_shape)
        self.inner.build(inputs_shape)
        self.outer.build((*inputs_shape[:-1], self.intermediate_dim))

    def call(self, inputs, memory=None, training=None):
        attended = self.attention(inputs, memory=memory, training=training)
        a = self.attention_norm(inputs + self.drop(attended, training=training))
        ffn = self.drop(self.outer(self.drop(self.inner(a), training=training)), training=training)
        return self.ffn_norm(a + ffn)

    def compute_output_shape(self, inputs_shape, memory_shape=None):
        return inputs_shape

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "head_dim": self.head_dim,
                "intermediate_dim": self.intermediate_dim, "dropout": self.dropout,
                "attention_dropout": self.attention_dropout}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class LayerMemory(keras.layers.Layer):
    """`call(memory)`: layer i's slice (B, M, d) of the stacked memory (B, layers, M, d)."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)

    def call(self, memory):
        return memory[:, self.index]

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class NextMemory(keras.layers.Layer):
    """`call(memories, hiddens)`: for each layer the last `memory_length` positions of [memory; hidden],
    gradients stopped, stacked (B, layers, memory_length or fewer, d)."""

    def __init__(self, memory_length, **kwargs):
        super().__init__(**kwargs)
        self.memory_length = int(memory_length)

    def call(self, memories, hiddens):
        if not self.memory_length:  # no recurrence: an empty memory, (B, layers, 0, d)
            return ops.stack([h[:, :0] for h in hiddens], axis=1)
        return ops.stack([RelativeMultiHeadAttention.update_memory(m, h, self.memory_length)
                          for m, h in zip(memories, hiddens)], axis=1)

    def get_config(self):
        return {**super().get_config(), "memory_length": self.memory_length}


def TransformerXL(*, vocabulary_size: int = 267_735, num_layers: int = 16, hidden_dim: int = 410, num_heads: int = 10,
                  head_dim: int = 41, intermediate_dim: int = 2_100, cutoffs: tuple = (20_000, 40_000, 200_000),
                  memory_length: int = 150, dropout: float = 0.1, attention_dropout: float = 0.0,
                  name: str = "transformer_xl"):
    """`token_ids` (B, T) and `memory` (B, num_layers, M, hidden_dim) → `logits` (log-probabilities,
    (B, T, V)) and `next_memory`."""
    for key, value in (("vocabulary_size", vocabulary_size), ("num_layers", num_layers), ("hidden_dim", hidden_dim),
                       ("num_heads", num_heads), ("head_dim", head_dim), ("intermediate_dim", intermediate_dim)):
        check_positive(name, key, value)
    if isinstance(memory_length, bool) or not isinstance(memory_length, int) or memory_length < 0:
        fail(name, "memory_length", memory_length, "an integer >= 0 (0: no memory, every segment on its own)")
    check_rate(name, "dropout", dropout)
    check_rate(name, "attention_dropout", attention_dropout)
    cutoffs = tuple(cutoffs)
    if list(cutoffs) != sorted(set(cutoffs)) or any(not 0 < c < vocabulary_size for c in cutoffs):
        fail(name, "cutoffs", cutoffs, f"increasing word counts between 0 and vocabulary_size={vocabulary_size}")
    token_ids = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    memory = keras.Input(shape=(num_layers, None, hidden_dim), name="memory")
    embedding = ReversibleEmbedding(vocabulary_size, hidden_dim, name="token_embedding",
                                    embeddings_initializer=keras.initializers.RandomNormal(0.0, 0.02))
    x = keras.layers.Rescaling(math.sqrt(hidden_dim), name="embedding_scale")(embedding(token_ids))
    x = keras.layers.Dropout(dropout, name="embedding_dropout")(x)
    memories, hiddens = [], []
    for i in range(num_layers):
        layer_memory = LayerMemory(i, name=f"layer_{i}_memory")(memory)
        memories.append(layer_memory)
        hiddens.append(x)
        x = TransformerXLLayer(num_heads, head_dim, intermediate_dim, dropout, attention_dropout,
                               name=f"layer_{i}")(x, memory=layer_memory)
    x = keras.layers.Dropout(dropout, name="output_dropout")(x)
    logits = AdaptiveSoftmax(vocabulary_size, cutoffs, name="adaptive_softmax")(x, embedding(x, reverse=True))
    logits = keras.layers.Identity(name="logits")(logits)
    next_memory = NextMemory(memory_length, name="next_memory")(memories, hiddens)
    return keras.Model({"token_ids": token_ids, "memory": memory}, {"logits": logits, "next_memory": next_memory},
                       name=name)


# --- training: segment-level recurrence ---------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def byte_ids(data, split, data_dir=None, manual_dir=None):
    """int32 UTF-8 bytes of a text dataset's split, documents separated by a blank line (enwik8's units)."""
    from keras_landmarks.tokenizers import corpus_documents

    text = "\n\n".join(corpus_documents(data, split, data_dir, manual_dir))
    return np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int32)


@functools.lru_cache(maxsize=4)
def byte_symbols(data, data_dir=None, manual_dir=None):
    """The byte values that occur in a text dataset (both splits), ascending: its symbol vocabulary, as
    the reference code numbers enwik8's 204 symbols (every symbol of the three splits)."""
    seen = np.zeros(256, bool)
    for split in ("train", "test"):
        seen[np.unique(byte_ids(data, split, data_dir, manual_dir))] = True
    return np.flatnonzero(seen)


def symbol_ids(data, split, data_dir=None, manual_dir=None):
    """int32 ids of a split's bytes in `byte_symbols` (byte value `byte_symbols(...)[i]` is id i)."""
    lookup = np.zeros(256, np.int32)
    symbols = byte_symbols(data, data_dir, manual_dir)
    lookup[symbols] = np.arange(len(symbols), dtype=np.int32)
    return lookup[byte_ids(data, split, data_dir, manual_dir)]


class CarriedMemory:
    """For a trainer of a model with a `memory` input and a `next_memory` output, read as `streams` rows
    side by side: the memory carried from one batch to the next (§3.2), non-trainable state (so it is
    checkpointed with the run), the last `memory_length` positions of every layer's input."""

    def hold_memory(self, net, streams):
        self.streams = int(streams)
        self.memory_length = net.get_layer("next_memory").memory_length
        _, layers, _, dim = net.input["memory"].shape
        self.memory = self.add_weight(shape=(self.streams, layers, self.memory_length, dim), initializer="zeros",
                                      trainable=False, name="memory")
        self.filled = self.add_weight(shape=(), dtype="int32", initializer="zeros", trainable=False, name="filled")

    def current_memory(self):
        """The stored memory: its last `filled` positions (none before the first batch)."""
        return self.memory.value[:, :, self.memory_length - self.filled.value :]

    def keep(self, memory):
        import tensorflow as tf

        length = tf.shape(memory)[2]
        self.memory.assign(tf.pad(memory, [[0, 0], [0, 0], [self.memory_length - length, 0], [0, 0]]))
        self.filled.assign(length)


class MemoryTrainer(CarriedMemory, LossTrainer):
    """Trains a Transformer-XL model on `streams` rows side by side, carrying each stream's memory from one
    batch to the next (§3.2, `CarriedMemory`); the gradient stops at it. Loss: the mean next-token
    negative log-likelihood."""

    def __init__(self, net, streams, **kwargs):
        super().__init__(net, **kwargs)
        self.hold_memory(net, streams)

    def step_loss(self, data):
        ids, targets = data
        out = self.net({"token_ids": ids, "memory": self.current_memory()}, training=True)
        self.keep(out["next_memory"])  # read above, so this step used the previous segment's memory
        loss = ops.mean(next_token_nll(out["logits"], targets))
        return loss, loss


def next_token_nll(log_probs, targets):
    """−log p(target) at each position, (B, T), from log-probabilities (B, T, V)."""
    return -ops.squeeze(ops.take_along_axis(log_probs, ops.expand_dims(ops.cast(targets, "int32"), -1), axis=-1), -1)


def stream_nll(net, inputs, targets, count):
    """Read `streams`-arranged rows (`count` streams side by side) in order from an empty memory, carrying
    it: (summed −log p per position within a segment (T,) in float64, the number of tokens scored)."""
    import tensorflow as tf

    @tf.function(reduce_retracing=True, autograph=False)  # no control flow to convert
    def step(ids, labels, memory):
        out = net({"token_ids": ids, "memory": memory}, training=False)
        return ops.sum(next_token_nll(out["logits"], labels), axis=0), out["next_memory"]

    _, layers, _, dim = net.input["memory"].shape
    memory = tf.zeros((count, layers, 0, dim))
    nats = np.zeros(inputs.shape[1], np.float64)
    steps = len(targets) // count
    for k in range(steps):
        part = slice(k * count, (k + 1) * count)
        position, memory = step(inputs[part], targets[part], memory)
        nats += position.numpy()
    return nats, steps * count * inputs.shape[1]


class SegmentRecurrence(TextProcedure):
    """Next-token negative log-likelihood over contiguous segments with the memory carried (Transformer-XL's
    training); held-out: the test split (its first `eval_tokens`, where the recipe sets them) read the
    same way from an empty memory, in nats and bits per token (bits per character for bytes).

    Recipe options: `units` ("words": the training split's `WordVocabulary`; "bytes": UTF-8 byte values,
    which needs vocabulary_size >= 256; "symbols": the bytes that occur in the text, numbered in byte
    order (`byte_symbols`, written to the run's `symbols.txt`), as the reference code reads enwik8 with
    its 204), `segment` (tokens per segment), `eval_tokens`."""

    name = "segment_recurrence"
    losses = ("next_token_nll",)
    options = {
        "units": Option(str, "what a token is", choices=("words", "bytes", "symbols")),
        "segment": Option(int, "tokens per segment", minimum=2, maximum=100_000),
        "eval_tokens": Option(int, "held-out tokens read; None: the whole test split", minimum=2, optional=True),
    }
    strategies = ("none",)
    precisions = ("float32",)
    shuffle = False
    quality_metric = "perplexity"  # int8 artifacts: each held-out segment read from an empty memory
    gate_examples = 200

    def units(self, recipe, config):
        units = recipe.options.get("units", "words")  # checked against `options` before the run starts
        if units == "bytes" and config["vocabulary_size"] < 256:
            raise ConfigError(f"Byte-level training needs vocabulary_size >= 256 (every byte value); the model has "
                              f"{config['vocabulary_size']}: --set vocabulary_size=256.", key="vocabulary_size",
                              value=config["vocabulary_size"])
        return units

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        units = self.units(recipe, config)
        if units == "bytes":
            ids = byte_ids(data, split, data_dir, manual_dir)
        elif units == "symbols":
            count = len(byte_symbols(data, data_dir, manual_dir))
            if count > config["vocabulary_size"]:
                raise ConfigError(f"{data} holds {count} distinct bytes; the model has vocabulary_size="
                                  f"{config['vocabulary_size']}: --set vocabulary_size={count}.",
                                  key="vocabulary_size", value=config["vocabulary_size"])
            ids = symbol_ids(data, split, data_dir, manual_dir)
        else:
            ids = token_ids(data, split, config["vocabulary_size"], data_dir, manual_dir)
        if split != "train" and recipe.options.get("eval_tokens"):
            ids = ids[: recipe.options["eval_tokens"] + 1]
        length = recipe.options.get("segment", 150)
        x, y = streams(ids, recipe.batch_size, length)
        if not len(y):
            raise ConfigError(f"{data}'s {split} split has {len(ids):,} tokens: too few for {recipe.batch_size} streams "
                              f"of one {length}-token segment.", key="batch_size", value=recipe.batch_size)
        return x, y, config["vocabulary_size"]

    def write_assets(self, folder, data, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        units = self.units(recipe, config)
        if units == "bytes":
            return []
        if units == "symbols":  # line i: the byte value of symbol id i
            symbols = byte_symbols(data, data_dir, manual_dir)
            (folder / "symbols.txt").write_text("".join(f"{b}\n" for b in symbols))
            return ["symbols.txt"]
        return super().write_assets(folder, data, data_dir, manual_dir, spec=spec, config=config, recipe=recipe)

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        net = registry.build(spec.name, weights=weights, **overrides)
        trainer = MemoryTrainer(net, recipe.batch_size)
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, net.trainable_variables)], {spec.name: net})

    def evaluate(self, trainer, batches):
        pairs = [(x.numpy(), y.numpy()) for x, y in batches]
        inputs, targets = np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])
        nats, count = stream_nll(trainer.net, inputs, targets, trainer.streams)
        loss = float(nats.sum() / count)
        return {"loss": loss, "bits_per_token": loss / math.log(2), "perplexity": float(np.exp(loss))}

    def results(self, metrics):
        return {"test_loss": metrics["loss"], "bits_per_token": metrics["bits_per_token"],
                "perplexity": metrics["perplexity"]}


register_procedure(SegmentRecurrence())


def _recipe(units, batch, segment, steps_note):
    def recipe(config):
        return Recipe(optimizer="adam", learning_rate=2.5e-4, schedule="cosine", clip_norm=0.25, batch_size=batch,
                      epochs=1, loss="next_token_nll", metrics=(), procedure="segment_recurrence",
                      options={"units": units, "segment": segment, "eval_tokens": None},
                      source=f"Dai et al. 2019 and their code: Adam 2.5·10⁻⁴ with cosine decay, gradients clipped at "
                             f"norm 0.25, {batch} streams of {segment}-token segments, memory carried ({steps_note})")

    return recipe


def make_generator(model):
    """The `generate` serving signature: the prompt read as one segment from an empty memory, then
    `max_new_tokens` tokens sampled one at a time (at `temperature`, among the `top_k` most likely; 1:
    greedy), each read as a one-token segment with the memory the previous call left (§3.2's evaluation:
    a token sees the last `memory_length` positions, cached, not recomputed). Returns the prompt and the
    new tokens, (B, T + max_new_tokens)."""
    import tensorflow as tf

    _, layers, _, dim = model.input["memory"].shape

    @tf.function(input_signature=generate_signature())
    def generate(prompt_ids, max_new_tokens, temperature, top_k, seed):
        batch = tf.shape(prompt_ids)[0]
        check = tf.debugging.assert_greater(tf.shape(prompt_ids)[1], 0,
                                            message="the prompt must hold at least one token")
        with tf.control_dependencies([check]):
            prompt_ids = tf.identity(prompt_ids)
        out = model({"token_ids": prompt_ids, "memory": tf.zeros([batch, layers, 0, dim])}, training=False)
        logits, memory = out["logits"][:, -1], out["next_memory"]
        output = tf.TensorArray(tf.int32, size=max_new_tokens)

        def body(t, logits, memory, output):
            token = sample_token(logits, temperature, top_k, seed + t)
            out = model({"token_ids": token[:, None], "memory": memory}, training=False)
            return t + 1, out["logits"][:, 0], out["next_memory"], output.write(t, token)

        invariants = (tf.TensorShape([]), tf.TensorShape([None, None]), tf.TensorShape([None, layers, None, dim]),
                      tf.TensorShape(None))
        _, _, _, output = tf.while_loop(lambda t, *_: t < max_new_tokens, body,
                                        (tf.constant(0), logits, memory, output), shape_invariants=invariants)
        new_tokens = tf.reshape(tf.transpose(output.stack()), [batch, max_new_tokens])
        return {"token_ids": tf.concat([prompt_ids, new_tokens], axis=1)}

    return generate


def _signatures(model):
    return {"generate": make_generator(model)}


def _io(config):
    layers, d = config["num_layers"], config["hidden_dim"]
    return {"inputs": {"token_ids": (None, None), "memory": (None, layers, None, d)},
            "outputs": {"logits": (None, None, config["vocabulary_size"]), "next_memory": (None, layers, None, d)}}


_TEST = {"vocabulary_size": 60, "num_layers": 2, "hidden_dim": 16, "num_heads": 2, "head_dim": 8,
         "intermediate_dim": 32, "cutoffs": (20, 40), "memory_length": 6}

for _name, _config, _params, _training, _what in (
        ("transformer_xl", {}, 151_119_838, _recipe("words", 60, 150, "200,000 steps; one epoch here"),
         "WikiText-103 base (the paper's 151M, Table 1): 267,735·410 tied embedding, 16 layers of 5·410·410 "
         "attention projections (q, k, v, output and W_{k,R}), u and v (2·410), two LayerNorms (4·410) and "
         "the 410→2,100→410 FFN with biases; the output bias (267,735) and the adaptive softmax's 3 cluster "
         "tokens (3·411)."),
        ("transformer_xl_enwik8",
         {"vocabulary_size": 204, "num_layers": 24, "hidden_dim": 1024, "num_heads": 8, "head_dim": 128,
          "intermediate_dim": 3072, "cutoffs": (), "memory_length": 512, "name": "transformer_xl_enwik8"},
         277_278_924, _recipe("symbols", 22, 512, "400,000 steps; one epoch here"),
         "enwik8 24 layers (the paper's 277M, Table 2): 204·1,024 tied embedding, 24 layers of 5·1,024·1,024 "
         "projections, u and v (2·1,024), two LayerNorms and the 1,024→3,072→1,024 FFN; output bias 204.")):
    register(
        _name,
        family="transformer_xl",
        builder=TransformerXL,
        paper=PAPER,
        config=_config,
        params=_params,
        params_source=_what + " u and v per layer (the TensorFlow code's untie_r); shared, as the PyTorch code's "
                              "default, the count is (layers − 1)·2·heads·d_head lower.",
        task="language_model",
        io=_io,
        inputs=lambda config: {"token_ids": TokenIds(config["vocabulary_size"]), "memory": Memory()},
        signatures=_signatures,
        test_config=dict(_TEST, **({"cutoffs": ()} if _name.endswith("enwik8") else {})),
        training=_training,
        description="Transformer-XL: segment-level recurrence with relative positional attention",
    )
