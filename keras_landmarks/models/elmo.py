"""ELMo: deep contextualised word representations from a bidirectional language model.

Peters, Neumann, Iyyer, Gardner, Clark, Lee & Zettlemoyer. "Deep Contextualized Word Representations."
NAACL 2018. https://arxiv.org/abs/1802.05365

Each token is read from its characters (Jozefowicz et al. 2016's character CNN): 16-dimensional
character embeddings, convolutions of widths 1–7 with 32, 32, 64, 128, 256, 512 and 1,024 filters
(2,048 in all), each max-pooled over the characters after a ReLU, two highway layers and a linear
projection to 512: the context-independent $x_k^{LM}$. A forward and a backward language model, each two
LSTMP layers (4,096 cells projected to 512, cell and projection clipped at ±3) with a residual connection
from the first layer to the second, read the sequence in each direction. The representations of token
$k$ are $h_{k,0} = [x_k; x_k]$ and $h_{k,j} = [\\overrightarrow{h}_{k,j}; \\overleftarrow{h}_{k,j}]$ for
$j = 1, 2$, and a task combines them (eq. 1):

$$\\mathrm{ELMo}_k = \\gamma \\sum_{j=0}^{L} s_j h_{k,j}, \\qquad s = \\mathrm{softmax}(w).$$

`layers` (batch, 3, time, 1024) holds $h_{k,0..2}$; `scalar_mix=True` adds eq. 1 as `elmo` (four
more weights, task-specific, so not in the count). The biLM's softmax over the vocabulary belongs to
pre-training and is not part of the model, as in the paper's released weights: 93,600,864 parameters
(character table 262·16, CNN 199,168, highway 16,785,408, projection 1,049,088, four LSTMP layers of
18,890,752).

Pre-training (`train`, the `bilm` procedure, §3.1): windows of 20 tokens of a text dataset, each token
read from its own characters (bilm-tf's ids: UTF-8 bytes between word marks), the forward LM predicting
each next word from the top forward layer and the backward LM each previous word from the top backward
layer, through one softmax over the word vocabulary shared by both directions; the loss is the mean of
the two directions' negative log-likelihoods. Adagrad at 0.2 as the authors' code.

Deviations:
- Pre-training uses a full softmax over the corpus's 10,000 most frequent words (the rest `<unk>` as
  targets, but read from their characters); the authors sample 8,192 of the 1B Word Benchmark's
  793,471 words per batch.
- Padding tokens are not masked: the backward LM reads them first. Pad sequences at the end and read
  the representations of real tokens only, or batch sequences of equal length.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_landmarks.config import check_positive
from keras_landmarks.inputs import TokenIds
from keras_landmarks.layers import ProjectedLSTMCell, ScalarMix
from keras_landmarks.models.highway import Highway
from keras_landmarks.errors import ConfigError
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.language import TextProcedure, vocabulary
from keras_landmarks.training.procedures import Built, register_procedure
from keras_landmarks.training.recipe import Option, Recipe
from keras_landmarks.training.trainer import LossTrainer

PAPER = Paper(
    title="Deep Contextualized Word Representations",
    authors="Matthew E. Peters, Mark Neumann, Mohit Iyyer, Matt Gardner, Christopher Clark, Kenton Lee, "
            "Luke Zettlemoyer",
    year=2018,
    venue="NAACL 2018",
    url="https://arxiv.org/abs/1802.05365",
    extends=("character-aware language models (Jozefowicz et al. 2016)", "lstm_lm", "highway"),
    adopted_by=("bert", "gpt", "contextual embeddings"),
)
FILTERS = ((1, 32), (2, 32), (3, 64), (4, 128), (5, 256), (6, 512), (7, 1024))


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TokenCharacterCNN(keras.layers.Layer):
    """Per token: character embeddings (B, T, C, e) → for each (width, filters), a convolution over the
    characters, ReLU and max over them → concatenated (B, T, Σ filters)."""

    def __init__(self, filters=FILTERS, **kwargs):
        super().__init__(**kwargs)
        self.filters = tuple(tuple(int(v) for v in f) for f in filters)
        self.convolutions = [keras.layers.Conv1D(n, width, activation="relu", name=f"conv_{width}")
                             for width, n in self.filters]

    def build(self, input_shape):
        flat = (None, input_shape[2], input_shape[3])
        for conv in self.convolutions:
            conv.build(flat)

    def call(self, chars):
        shape = ops.shape(chars)
        flat = ops.reshape(chars, (-1, chars.shape[2], chars.shape[3]))  # (B·T, C, e)
        pooled = ops.concatenate([ops.max(conv(flat), axis=1) for conv in self.convolutions], axis=-1)
        return ops.reshape(pooled, (shape[0], shape[1], pooled.shape[-1]))

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[1], sum(n for _, n in self.filters))

    def get_config(self):
        return {**super().get_config(), "filters": [list(f) for f in self.filters]}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class TimeReversal(keras.layers.Layer):
    """Reverses (batch, time, ...) along time: puts a backward RNN's outputs back in order."""

    def call(self, x):
        return ops.flip(x, axis=1)

    def compute_output_shape(self, input_shape):
        return input_shape


@keras.saving.register_keras_serializable(package="keras_landmarks")
class StackLayers(keras.layers.Layer):
    """[h_0, …, h_L] each (batch, time, D) → (batch, L + 1, time, D)."""

    def call(self, layers):
        return ops.stack(layers, axis=1)

    def compute_output_shape(self, input_shapes):
        first = input_shapes[0]
        return (first[0], len(input_shapes), *first[1:])


def _lstmp(x, units, projection_dim, clip, backwards, name):
    """One direction's LSTMP layer over the sequence (the backward one's outputs put back in order)."""
    cell = ProjectedLSTMCell(units, projection_dim, clip, clip)
    y = keras.layers.RNN(cell, return_sequences=True, go_backwards=backwards, name=name)(x)
    return TimeReversal(name=f"{name}_in_order")(y) if backwards else y


def ELMo(*, characters: int = 262, max_characters: int = 50, char_dim: int = 16, filters=FILTERS,
         highway_layers: int = 2, projection_dim: int = 512, lstm_units: int = 4096, lstm_layers: int = 2,
         clip: float = 3.0, scalar_mix: bool = False, name: str = "elmo"):
    """`char_ids` (batch, time, max_characters) → `layers` (batch, 1 + lstm_layers, time, 2·projection_dim)."""
    for key, value in (("characters", characters), ("max_characters", max_characters), ("char_dim", char_dim),
                       ("projection_dim", projection_dim), ("lstm_units", lstm_units), ("lstm_layers", lstm_layers)):
        check_positive(name, key, value)
    chars = keras.Input(shape=(None, max_characters), dtype="int32", name="char_ids")
    x = keras.layers.Embedding(characters, char_dim, name="char_embedding")(chars)  # (B, T, C, 16)
    x = TokenCharacterCNN(filters, name="char_cnn")(x)
    for i in range(highway_layers):
        x = Highway(activation="relu", gate_bias=0.0, name=f"highway_{i + 1}")(x)
    token = keras.layers.Dense(projection_dim, name="projection")(x)  # x_k^LM
    layers = [keras.layers.Concatenate(name="layer_0")([token, token])]
    forward = backward = token
    for j in range(1, lstm_layers + 1):
        f = _lstmp(forward, lstm_units, projection_dim, clip, False, f"lstm_{j}_forward")
        b = _lstmp(backward, lstm_units, projection_dim, clip, True, f"lstm_{j}_backward")
        if j > 1:  # the residual connection from each LSTM layer's input to its output, after the first
            f = keras.layers.Add(name=f"lstm_{j}_forward_residual")([f, forward])
            b = keras.layers.Add(name=f"lstm_{j}_backward_residual")([b, backward])
        forward, backward = f, b
        layers.append(keras.layers.Concatenate(name=f"layer_{j}")([forward, backward]))
    stacked = StackLayers(name="layers")(layers)
    outputs = {"layers": stacked}
    if scalar_mix:
        outputs["elmo"] = ScalarMix(name="elmo")(stacked)
    return keras.Model(chars, outputs, name=name)


# The character ids of the authors' code (bilm-tf's UnicodeCharsVocabulary): a word's UTF-8 bytes between
# begin- and end-of-word marks, padded, every id shifted by one so that 0 stays free.
BEGIN_OF_WORD, END_OF_WORD, PAD_CHARACTER, END_OF_DOCUMENT = 258, 259, 260, 257


def character_ids(word, max_characters=50):
    """int32 (max_characters,): `word` as the character CNN reads it (bytes past max_characters − 2 cut)."""
    from keras_landmarks.tokenizers.words import EOD

    if word == EOD:
        inner = [END_OF_DOCUMENT]
    else:
        inner = list(word.encode("utf-8"))[: max_characters - 2]
    ids = [BEGIN_OF_WORD, *inner, END_OF_WORD] + [PAD_CHARACTER] * (max_characters - len(inner) - 2)
    return np.asarray(ids, np.int32) + 1


@functools.lru_cache(maxsize=2)
def surface_words(data, data_dir=None, manual_dir=None):
    """Every distinct token of the corpus (both splits, sorted), `<eod>` first: the words whose characters
    the model reads, rare ones included."""
    from keras_landmarks.tokenizers import corpus_documents
    from keras_landmarks.tokenizers.words import EOD, words

    seen = set()
    for split in ("train", "test"):
        for document in corpus_documents(data, split, data_dir, manual_dir):
            seen.update(words(document))
    return [EOD, *sorted(seen)]


def word_streams(data, split, size, data_dir=None, manual_dir=None):
    """(surface ids, vocabulary ids), both (N,): the split's tokens with `<eod>` after each document, as
    indices into `surface_words` (their characters) and into the training vocabulary of `size` (the
    words the softmax predicts, rare ones `<unk>`)."""
    from keras_landmarks.tokenizers import corpus_documents
    from keras_landmarks.tokenizers.words import EOD, words

    index = {w: i for i, w in enumerate(surface_words(data, data_dir, manual_dir))}
    vocab = vocabulary(data, size, data_dir, manual_dir)
    surface, targets = [], []
    for document in corpus_documents(data, split, data_dir, manual_dir):
        tokens = [*words(document), EOD]
        surface += [index[t] for t in tokens]
        targets += [vocab.ids.get(t, 0) for t in tokens]
    return np.asarray(surface, np.int32), np.asarray(targets, np.int32)


class BiLMTrainer(LossTrainer):
    """Pre-trains ELMo's biLM (§3.1): the forward LM predicts each next word from the top forward layer,
    the backward LM each previous word from the top backward layer, through one softmax over the word
    vocabulary shared by the two directions (`softmax_kernel`, `softmax_bias`: pre-training only, not
    part of the model); the loss is the mean of the two directions' negative log-likelihoods
    (eq. in §3.1, averaged per token)."""

    def __init__(self, net, characters, vocabulary_size, **kwargs):
        super().__init__(net, **kwargs)
        self.characters = ops.convert_to_tensor(np.asarray(characters, np.int32))  # (surface words, C)
        width = net.output["layers"].shape[-1] // 2
        self.width = width
        self.softmax_kernel = self.add_weight(shape=(width, vocabulary_size), name="softmax_kernel",
                                              initializer=keras.initializers.RandomNormal(0.0, width**-0.5))
        self.softmax_bias = self.add_weight(shape=(vocabulary_size,), name="softmax_bias", initializer="zeros")

    def trained_variables(self):
        return [*self.net.trainable_variables, self.softmax_kernel, self.softmax_bias]

    def directions_nll(self, surface, targets, training):
        """Mean −log p of the next words (forward) and of the previous words (backward), in nats."""
        chars = ops.take(self.characters, surface, axis=0)  # (B, T, C)
        top = self.net(chars, training=training)["layers"][:, -1]  # (B, T, 2·width)
        forward, backward = top[:, :-1, : self.width], top[:, 1:, self.width :]

        def nll(h, y):
            logits = ops.matmul(ops.cast(h, "float32"), self.softmax_kernel) + self.softmax_bias
            return ops.mean(keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))

        return nll(forward, targets[:, 1:]), nll(backward, targets[:, :-1])

    def step_loss(self, data):
        surface, targets = data
        forward, backward = self.directions_nll(surface, targets, training=True)
        loss = 0.5 * (forward + backward)
        return loss, loss


class BiLMTraining(TextProcedure):
    """ELMo's biLM pre-training on a text dataset: windows of `window` tokens, each read by the character
    CNN from the token's own characters (rare words too) and predicted over the training vocabulary in
    both directions (`BiLMTrainer`); held out, each direction's perplexity on the test windows."""

    name = "bilm"
    losses = ("bidirectional_lm",)
    options = {"window": Option(int, "tokens per window (the authors unroll 20)", minimum=2, maximum=10_000),
               "vocabulary_size": Option(int, "the words the softmax predicts (the rest are <unk>)", minimum=3,
                                         maximum=10_000_000)}
    strategies = ("none",)

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        size = recipe.options.get("vocabulary_size", DEFAULT_VOCABULARY)
        surface, targets = word_streams(data, split, size, data_dir, manual_dir)
        length = recipe.options.get("window", 20)
        count = len(targets) // length
        if count < 1:
            raise ConfigError(f"{data}'s {split} split has {len(targets):,} tokens: too few for one {length}-token "
                              "window.", key="data", value=data)
        cut = slice(0, count * length)
        return surface[cut].reshape(count, length), targets[cut].reshape(count, length), size

    def write_assets(self, folder, data, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        size = recipe.options.get("vocabulary_size", DEFAULT_VOCABULARY)
        vocabulary(data, size, data_dir, manual_dir).save(folder / "vocabulary.txt")
        return ["vocabulary.txt"]

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        data, data_dir, manual_dir = dataset
        net = registry.build(spec.name, weights=weights, **overrides)
        config = spec.full_config(**overrides)
        table = np.stack([character_ids(w, config["max_characters"])
                          for w in surface_words(data, data_dir, manual_dir)])
        if table.max() >= config["characters"]:
            raise ConfigError(f"{spec.name} has {config['characters']} character ids; the corpus needs "
                              f"{int(table.max()) + 1} (--set characters=262).", key="characters",
                              value=config["characters"])
        trainer = BiLMTrainer(net, table, recipe.options.get("vocabulary_size", DEFAULT_VOCABULARY))
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, trainer.trained_variables())], {spec.name: net})

    def evaluate(self, trainer, batches):
        forward = backward = 0.0
        count = 0
        for x, y in batches:
            f, b = trainer.directions_nll(x, y, training=False)
            forward, backward, count = forward + float(f) * len(x), backward + float(b) * len(x), count + len(x)
        forward, backward = forward / count, backward / count
        return {"loss": 0.5 * (forward + backward), "perplexity_forward": float(np.exp(forward)),
                "perplexity_backward": float(np.exp(backward))}

    def results(self, metrics):
        return {"test_loss": metrics["loss"], "perplexity_forward": metrics["perplexity_forward"],
                "perplexity_backward": metrics["perplexity_backward"]}


register_procedure(BiLMTraining())

DEFAULT_VOCABULARY = 10_000
# bilm-tf's training (the authors' code): Adagrad 0.2 (accumulators from 1), batches of 128 windows of 20
# tokens, 10 epochs over the 1B Word Benchmark; here a full softmax over the corpus's 10,000 most
# frequent words instead of a sampled one over 793,471.
RECIPE = Recipe(optimizer="adagrad", learning_rate=0.2, batch_size=128, epochs=10, loss="bidirectional_lm",
                metrics=(), procedure="bilm", clip_norm=10.0,
                options={"window": 20, "vocabulary_size": DEFAULT_VOCABULARY, "initial_accumulator": 1.0},
                source="Peters et al. 2018 and bilm-tf: Adagrad 0.2 (accumulators from 1), gradients clipped at norm "
                       "10, batches of 128 windows of 20 tokens, 10 epochs")


def _io(config):
    width = 2 * config["projection_dim"]
    outputs = {"layers": (None, 1 + config["lstm_layers"], None, width)}
    if config["scalar_mix"]:
        outputs["elmo"] = (None, None, width)
    return {"inputs": {"char_ids": (None, None, config["max_characters"])}, "outputs": outputs}


register(
    "elmo",
    family="elmo",
    builder=ELMo,
    paper=PAPER,
    params=93_600_864,
    params_source="Our count of the paper's released model (the biLM without its softmax): characters 262·16 "
                  "= 4,192; CNN Σ w·16·f + f = 199,168; two highway layers 2 · 2(2048² + 2048) = 16,785,408; "
                  "projection 2048·512 + 512 = 1,049,088; four LSTMP layers (2 directions × 2) of "
                  "4·4096·(512 + 512) + 4·4096 + 4096·512 = 18,890,752.",
    task="text_encoder",
    io=_io,
    inputs=lambda config: {"char_ids": TokenIds(config["characters"])},
    test_config={"characters": 30, "max_characters": 7, "char_dim": 4, "filters": ((1, 4), (2, 4), (3, 8)),
                 "projection_dim": 6, "lstm_units": 8},
    description="Character CNN, highway layers and a two-layer biLM of LSTMPs; layers mixed per task.",
    training=lambda config: RECIPE,
)
