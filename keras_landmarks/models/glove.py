"""GloVe: global vectors, a weighted least-squares fit of the log co-occurrence counts.

- Pennington, Socher & Manning. "GloVe: Global Vectors for Word Representation." EMNLP 2014.
  https://aclanthology.org/D14-1162/

The model is two tables of vectors and biases: word vectors $w_i$ with biases $b_i$ and context vectors
$\\tilde w_j$ with biases $\\tilde b_j$, $|V| \\times (d + 1)$ each ($2|V|(d+1)$ parameters). Training
fits every non-zero entry of the co-occurrence matrix $X$ (eq. 8),

$$J = \\sum_{i,j:\\,X_{ij} > 0} f(X_{ij})\\,\\big(w_i^\\top \\tilde w_j + b_i + \\tilde b_j - \\log X_{ij}\\big)^2,
\\qquad f(x) = \\min\\big(1, (x / x_{max})^{\\alpha}\\big)\\ \\text{(eq. 9)},$$

with $x_{max} = 100$, $\\alpha = ¾$, where $X_{ij}$ counts word j within ten words either side of word
i, a pair d words apart adding 1/d (§4.2). The procedure (`glove`, `keras-landmarks train glove --data
text_corpus`) counts $X$ over the training split's word stream (words outside the vocabulary dropped,
windows not crossing a document, as the tool's `cooccur` does), then runs AdaGrad from 0.05 over the
shuffled entries: 50 passes for d < 300, 100 otherwise (§4.2). As in the reference tool `glove.c`,
the loss is halved (its gradient is $f \\cdot$ the difference), every vector and bias starts uniform
in ±0.5/d, and AdaGrad's squared-gradient sums start at 1, so its first step is the bare rate.

The word vectors users keep are $W + \\tilde W$ (§4.2: "we use the sum W + W̃ as our word vectors"),
what the model's forward pass gives for `word_ids` (batch,), beside `log_counts`, its fit of
$\log X_{ij}$ for the pairs (`word_ids`, `context_ids`); a SavedModel also serves `lookup` (word ids →
vectors) and `nearest` (the 10 closest words by cosine). The run folder holds
them as `vectors.txt` in the word2vec text format, and they are scored like word2vec's (analogies,
WordSim-353, SimLex-999 through gensim).

The registered configuration is the paper's 6B-token setting (Wikipedia 2014 + Gigaword 5): the
400,000 most frequent words and d = 300, 240,800,000 parameters.

Deviations:
- Entries are applied 1,024 at a time, the batch's summed gradient in one AdaGrad step; the tool
  applies them one at a time in several threads without locks. A word in many entries of a batch gets
  their summed gradient, so its squared-gradient sum grows by the square of the sum, not the sum of
  the squares.
- The tool clips each gradient component at 100 (`-grad-clip`); not done here (the recipe may clip the
  global norm).
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_landmarks.config import check_positive
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import TokenIds
from keras_landmarks.models.word2vec import vector_scores, vector_signatures, word_stream, write_vectors
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.language import TextProcedure, vocabulary
from keras_landmarks.training.procedures import Built, register_procedure
from keras_landmarks.training.recipe import Option, Recipe
from keras_landmarks.training.trainer import LossTrainer

PAPER = Paper(
    title="GloVe: Global Vectors for Word Representation",
    authors="Jeffrey Pennington, Richard Socher, Christopher D. Manning",
    year=2014,
    venue="EMNLP 2014",
    url="https://aclanthology.org/D14-1162/",
    extends=("word2vec (Mikolov et al. 2013)", "LSA and HAL: factorising co-occurrence counts"),
    adopted_by=("elmo (its baselines)", "fasttext", "the input layer of many 2014–2018 NLP models"),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class GloVeTables(keras.layers.Layer):
    """The word and context tables of GloVe: `word_vectors` $W$, `context_vectors` $\\tilde W$ (|V| × d),
    `word_biases` $b$ and `context_biases` $\\tilde b$ (|V|), all uniform in ±0.5/d (glove.c).

    `call(ids)` gives the final vectors $w_i + \\tilde w_i$; `log_count(i, j)` the model's
    $w_i^\\top \\tilde w_j + b_i + \\tilde b_j$, its fit of $\\log X_{ij}$."""

    def __init__(self, vocabulary_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.dim = int(vocabulary_size), int(dim)

    def build(self, input_shape):
        v, d = self.vocabulary_size, self.dim

        def weight(name, shape):
            init = keras.initializers.RandomUniform(-0.5 / d, 0.5 / d)
            return self.add_weight(shape=shape, initializer=init, name=name)

        self.word_vectors, self.context_vectors = weight("word_vectors", (v, d)), weight("context_vectors", (v, d))
        self.word_biases, self.context_biases = weight("word_biases", (v,)), weight("context_biases", (v,))

    def call(self, ids, contexts=None):
        if contexts is not None:
            return self.log_count(ids, contexts)
        return ops.take(self.word_vectors, ids, axis=0) + ops.take(self.context_vectors, ids, axis=0)

    def vectors(self):
        """Every word's final vector, W + W̃ (|V|, d)."""
        return self.word_vectors + self.context_vectors

    def log_count(self, words, contexts):
        dot = ops.sum(ops.take(self.word_vectors, words, axis=0) * ops.take(self.context_vectors, contexts, axis=0),
                      axis=-1)
        return dot + ops.take(self.word_biases, words, axis=0) + ops.take(self.context_biases, contexts, axis=0)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "dim": self.dim}


def GloVe(*, vocabulary_size: int = 400_000, embedding_dim: int = 300, name: str = "glove"):
    """`word_ids` (batch,) and `context_ids` (batch,) → `vectors` (batch, d), $W + \tilde W$ of the words
    (the paper's word vectors), and `log_counts` (batch,), the model's fit of $\log X_{ij}$ for each pair."""
    for key, value in (("vocabulary_size", vocabulary_size), ("embedding_dim", embedding_dim)):
        check_positive(name, key, value)
    words = keras.Input(shape=(), dtype="int32", name="word_ids")
    contexts = keras.Input(shape=(), dtype="int32", name="context_ids")
    tables = GloVeTables(vocabulary_size, embedding_dim, name="glove_tables")
    vectors = keras.layers.Identity(name="vectors")(tables(words))
    log_counts = keras.layers.Identity(name="log_counts")(tables(words, contexts=contexts))
    return keras.Model({"word_ids": words, "context_ids": contexts}, {"vectors": vectors, "log_counts": log_counts},
                       name=name)


def weighting(counts, x_max=100.0, alpha=0.75):
    """Eq. 9: f(x) = (x / x_max)^α below x_max, 1 above."""
    return ops.minimum(1.0, ops.power(ops.divide(counts, x_max), alpha))


class GloVeTrainer(LossTrainer):
    """Eq. 8 around a GloVe model: each example is a pair (i, j) with its count $X_{ij}$; the loss is
    ½ f(X_ij)(w_iᵀw̃_j + b_i + b̃_j − log X_ij)², summed over the batch (glove.c's cost)."""

    def __init__(self, net, x_max=100.0, alpha=0.75, **kwargs):
        super().__init__(net, **kwargs)
        self.x_max, self.alpha = float(x_max), float(alpha)
        self.tables = net.get_layer("glove_tables")

    def entry_loss(self, pairs, counts):
        """½ f(X_ij)(w_iᵀw̃_j + b_i + b̃_j − log X_ij)² of each entry, (batch,)."""
        counts = ops.cast(counts, "float32")
        difference = self.tables.log_count(pairs[:, 0], pairs[:, 1]) - ops.log(counts)
        return 0.5 * weighting(counts, self.x_max, self.alpha) * ops.square(difference)

    def step_loss(self, data):
        pairs, counts = data
        loss = ops.sum(self.entry_loss(pairs, counts))
        return loss, loss / ops.cast(ops.shape(counts)[0], loss.dtype)


def cooccurrence_matrix(ids, starts, vocabulary_size, window=10):
    """The symmetric co-occurrence counts of a word stream as a scipy CSR matrix (|V|, |V|): word j at
    distance 1 ≤ d ≤ `window` from word i (either side, within the same document) adds 1/d to X_ij."""
    from scipy import sparse

    ids = np.asarray(ids, np.int64)
    document = np.searchsorted(starts, np.arange(len(ids)), side="right") - 1
    matrix = sparse.csr_matrix((vocabulary_size, vocabulary_size), dtype=np.float64)
    for distance in range(1, window + 1):
        same = document[:-distance] == document[distance:]
        left, right = ids[:-distance][same], ids[distance:][same]
        weights = np.full(2 * len(left), 1.0 / distance)
        matrix = matrix + sparse.coo_matrix((weights, (np.concatenate([left, right]), np.concatenate([right, left]))),
                                            shape=(vocabulary_size, vocabulary_size)).tocsr()
    return matrix


@functools.lru_cache(maxsize=2)
def cooccurrences(data, size, split, window=10, data_dir=None, manual_dir=None):
    """(pairs (N, 2) int32, counts (N,) float32): the non-zero entries of a split's co-occurrence matrix."""
    ids, starts = word_stream(data, size, split, data_dir, manual_dir)
    matrix = cooccurrence_matrix(ids, starts, size, window).tocoo()
    pairs = np.stack([matrix.row, matrix.col], axis=1).astype(np.int32)
    return pairs, matrix.data.astype(np.float32)


class GloVeTraining(TextProcedure):
    """Eq. 8 on a text dataset's co-occurrence entries; held-out: the same loss per entry on the test
    split's co-occurrences, and the vectors' analogy and word-similarity scores."""

    name = "glove"
    losses = ("weighted_least_squares",)
    options = {
        "x_max": Option(float, "where the weighting f(x) reaches 1", above=0.0),
        "alpha": Option(float, "the weighting's exponent", above=0.0),
        "window": Option(int, "words counted either side", minimum=1, maximum=1000),
    }
    strategies = ("none",)
    precisions = ("float32",)

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        window = recipe.options.get("window", 10)
        if not isinstance(window, int) or window < 1:
            raise ConfigError(f"Invalid GloVe window {window!r}: a positive number of words.", key="window",
                              value=window)
        pairs, counts = cooccurrences(data, config["vocabulary_size"], split, window, data_dir, manual_dir)
        if not len(counts):
            raise ConfigError(f"{data}'s {split} split has no co-occurrences within the vocabulary.", key="data",
                              value=data)
        return pairs, counts, config["vocabulary_size"]

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        net = registry.build(spec.name, weights=weights, **overrides)
        data, data_dir, manual_dir = dataset
        trainer = GloVeTrainer(net, recipe.options.get("x_max", 100.0), recipe.options.get("alpha", 0.75))
        trainer.vocabulary = vocabulary(data, spec.full_config(**overrides)["vocabulary_size"], data_dir, manual_dir)
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, net.trainable_variables)], {spec.name: net})

    def evaluate(self, trainer, batches):
        total, count = 0.0, 0
        for pairs, counts in batches:
            total += float(ops.sum(trainer.entry_loss(pairs, counts)))
            count += len(counts)
        return {"loss": total / count, **vector_scores(glove_vectors(trainer.net), trainer.vocabulary.tokens)}

    def snapshot(self, trainer, folder, step):
        write_vectors(glove_vectors(trainer.net), trainer.vocabulary.tokens, folder / "vectors.txt")


def glove_vectors(net):
    """The final vectors W + W̃ of a GloVe model, (|V|, d)."""
    return ops.convert_to_numpy(net.get_layer("glove_tables").vectors())


_glove_training = register_procedure(GloVeTraining())


def _recipe(config):
    passes = 50 if config["embedding_dim"] < 300 else 100
    return Recipe(optimizer="adagrad", learning_rate=0.05, batch_size=1024, epochs=passes,
                  loss="weighted_least_squares", metrics=(), procedure="glove",
                  options={"x_max": 100.0, "alpha": 0.75, "window": 10, "initial_accumulator": 1.0},
                  source="Pennington et al. 2014 §4.2: AdaGrad from 0.05 over the co-occurrence entries, x_max = 100, "
                         "α = ¾, ten words either side weighted 1/d, 50 passes for d < 300 and 100 otherwise; the "
                         "accumulators start at 1 as in glove.c; entries applied 1,024 at a time (summed loss)")


register(
    "glove",
    family="glove",
    builder=GloVe,
    paper=PAPER,
    params=240_800_000,
    params_source="2·|V|·(d + 1), word and context vectors and their biases, at the paper's 6B-token setting "
                  "(Wikipedia 2014 + Gigaword 5; the released glove.6B vectors): the 400,000 most frequent words, "
                  "d = 300.",
    task="word_embedding",
    io=lambda config: {"inputs": {"word_ids": (None,), "context_ids": (None,)},
                       "outputs": {"vectors": (None, config["embedding_dim"]), "log_counts": (None,)}},
    inputs=lambda config: {"word_ids": TokenIds(config["vocabulary_size"]),
                           "context_ids": TokenIds(config["vocabulary_size"])},
    test_config={"vocabulary_size": 50, "embedding_dim": 8},
    training=_recipe,
    signatures=vector_signatures(lambda model: model.get_layer("glove_tables").vectors()),
    description="GloVe: word vectors fitted to the log co-occurrence counts, weighted by f(X)",
)
