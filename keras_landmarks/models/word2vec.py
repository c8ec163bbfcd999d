"""word2vec: the continuous bag-of-words and skip-gram models, trained by negative sampling or
hierarchical softmax.

- Mikolov, Chen, Corrado & Dean. "Efficient Estimation of Word Representations in Vector Space."
  ICLR workshop 2013. https://arxiv.org/abs/1301.3781
- Mikolov, Sutskever, Chen, Corrado & Dean. "Distributed Representations of Words and Phrases and
  their Compositionality." NeurIPS 2013. https://arxiv.org/abs/1310.4546

Both models are two matrices: the input vectors $v_w$ (the word vectors users keep) and the output
vectors $v'_w$, $|V| \\times d$ each ($2|V|d$ parameters). The skip-gram model (`word2vec_skipgram`)
predicts each word within a window of the centre word from that word's vector; CBOW
(`word2vec_cbow`) predicts the centre word from the average of its context words' vectors (the
projection layer shared by all positions, order ignored). The forward pass is the papers' full
softmax over the vocabulary,

$$p(w_O \\mid w_I) = \\frac{\\exp({v'_{w_O}}^\\top v_{w_I})}{\\sum_{w=1}^{|V|} \\exp({v'_w}^\\top v_{w_I})}
\\quad\\text{(eq. 2)},$$

and training replaces it by hierarchical softmax over a Huffman tree of the vocabulary (eq. 3,
`objective="hierarchical_softmax"`: V − 1 inner-node vectors, see `HierarchicalSoftmax`) or, by
default, negative sampling (eq. 4): for each pair, with $k$ noise words drawn from
the unigram distribution raised to ¾,

$$\\log \\sigma({v'_{w_O}}^\\top v_{w_I}) + \\sum_{i=1}^{k} \\mathbb{E}_{w_i \\sim P_n(w)}
\\big[\\log \\sigma(-{v'_{w_i}}^\\top v_{w_I})\\big].$$

The training procedure (`word2vec`, `keras-landmarks train word2vec_skipgram --data text_corpus`)
follows the papers and their C tool: frequent words discarded with probability $1 - \\sqrt{t / f(w)}$,
a window of random size R in [1, C] around each word (C = 5), k = 5 noise words, five epochs of SGD
whose rate falls linearly from 0.025 (CBOW: 0.05) to 10⁻⁴ of it over the run, one pair at a time:
here the batch's *summed* loss, so each pair moves the vectors as its own SGD step would. The
threshold is the tool's default t = 10⁻³; the paper's 10⁻⁵ is for its billion-word corpora, and on
`text_corpus`'s 1.9M words it leaves too few pairs to learn from (gensim's own skip-gram, five epochs:
0.5% of the in-vocabulary analogies at 10⁻⁵, 9.6% at 10⁻³). Input vectors start uniform in ±0.5/d
and output vectors at zero (the C tool). The run folder holds `vectors.txt` in the
word2vec text format (`gensim.models.KeyedVectors.load_word2vec_format` reads it) beside the model;
a SavedModel serves `lookup` (word ids → input vectors, CBOW's too) and `nearest` (the 10 closest
words by cosine) beside the forward pass.

The registered configuration is the first paper's Google News setting (§4.2): the 1,000,000 most
frequent words, 300 dimensions: 600,000,000 parameters; CBOW reads 4 words either side (§3.1).

Deviations:
- The sub-sampling and the windows are drawn once (with a fixed seed), not again in each epoch;
  the papers' runs are one to three epochs.
- Pairs are applied a batch at a time (the C tool's threads apply them one by one, without locks).
- CBOW's update follows the tool, not the gradient: each context word's vector moves by the error of
  the mean whole, not divided by the number of context words.
- Hierarchical softmax: an inner node that n pairs of a batch reach moves by their summed update
  divided by √n (`HierarchicalSoftmax.shared_scale`). The tree's top nodes lie on every pair's path,
  and a plain sum of a thousand of their updates, where the tool applies them one by one, made CBOW's
  vectors diverge at the tool's rate of 0.05.
"""

import functools

import keras
import numpy as np
from keras import ops

from keras_landmarks.config import check_positive
from keras_landmarks.errors import ConfigError
from keras_landmarks.inputs import TokenIds
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.language import TextProcedure, vocabulary
from keras_landmarks.training.procedures import Built, register_procedure
from keras_landmarks.training.recipe import Option, Recipe
from keras_landmarks.training.trainer import LossTrainer

PAPER = Paper(
    title="Efficient Estimation of Word Representations in Vector Space",
    authors="Tomas Mikolov, Kai Chen, Greg Corrado, Jeffrey Dean",
    year=2013,
    venue="ICLR workshop 2013; negative sampling and sub-sampling: NeurIPS 2013 (arXiv 1310.4546)",
    url="https://arxiv.org/abs/1301.3781",
    extends=("neural probabilistic language model (Bengio et al. 2003)", "log-bilinear models"),
    adopted_by=("glove", "fasttext", "elmo", "node2vec"),
)

PAD = 0  # the vocabulary's <unk>: dropped from the training stream, so free to pad CBOW's short windows


@keras.saving.register_keras_serializable(package="keras_landmarks")
class OutputVectors(keras.layers.Layer):
    """The output vectors $v'_w$ ($|V| \\times d$, starting at zero): `call(h)` gives the scores
    $h^\\top v'_w$ of every word (the full softmax's logits); `lookup(ids)` the rows negative sampling
    reads, whose gradients are sparse."""

    def __init__(self, vocabulary_size, dim, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.dim = int(vocabulary_size), int(dim)

    def build(self, input_shape):
        self.vectors = self.add_weight(shape=(self.vocabulary_size, self.dim), initializer="zeros", name="vectors")

    def call(self, h):
        return ops.matmul(h, ops.transpose(self.vectors))

    def lookup(self, ids):
        return ops.take(self.vectors, ids, axis=0)

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "dim": self.dim}


def huffman_tree(counts, depth=40):
    """The word2vec tool's Huffman tree over the vocabulary: (points (V, depth) int32, codes (V, depth)
    float32, lengths (V,) int32). Word w's path from the root visits the inner nodes points[w, :ℓ] (0 to
    V − 2, the root V − 2) and turns codes[w, :ℓ] (0 or 1) at each; frequent words get short paths."""
    import heapq

    counts = np.asarray(counts, np.int64)
    vocabulary = len(counts)
    heap = [(int(c), i) for i, c in enumerate(counts)]  # leaves 0..V−1, inner nodes V..2V−2
    heapq.heapify(heap)
    parent, bit = np.zeros(2 * vocabulary - 1, np.int64), np.zeros(2 * vocabulary - 1, np.int64)
    node = vocabulary
    while len(heap) > 1:
        (low, a), (high, b) = heapq.heappop(heap), heapq.heappop(heap)
        parent[a], parent[b], bit[a], bit[b] = node, node, 0, 1
        heapq.heappush(heap, (low + high, node))
        node += 1
    root = node - 1
    points = np.zeros((vocabulary, depth), np.int32)
    codes = np.zeros((vocabulary, depth), np.float32)
    lengths = np.zeros(vocabulary, np.int32)
    for word in range(vocabulary):
        path, turns, at = [], [], word
        while at != root:
            path.append(parent[at] - vocabulary)
            turns.append(bit[at])
            at = parent[at]
        if len(path) > depth:
            raise ConfigError(f"The Huffman tree is {len(path)} deep for word {word}; at most {depth}.",
                              key="vocabulary_size", value=vocabulary)
        lengths[word] = len(path)
        points[word, : len(path)] = path[::-1]
        codes[word, : len(path)] = turns[::-1]
    return points, codes, lengths


@keras.saving.register_keras_serializable(package="keras_landmarks")
class HierarchicalSoftmax(keras.layers.Layer):
    """Hierarchical softmax over a Huffman tree (Mikolov et al. 2013b, eq. 3): one output vector $v'_n$
    per inner node (V − 1 of them, starting at zero), and

    $$\\log p(w \\mid w_I) = \\sum_{j=1}^{L(w)-1} \\log \\sigma\\big(s_j\\, {v'_{n(w,j)}}^\\top v_{w_I}\\big),$$

    with $s_j = 1 - 2\\,\\mathrm{code}_j$ (the tool's sign). The tree (`assign_tree(counts)`) is held
    in non-trainable weights, so a saved model keeps it. `call(h)` gives every word's log-probability
    (a distribution: the logits of the full-softmax models' place); `path_loss(h, targets)` the negated
    log-probability of each target, reading only its path."""

    def __init__(self, vocabulary_size, dim, depth=40, **kwargs):
        super().__init__(**kwargs)
        self.vocabulary_size, self.dim, self.depth = int(vocabulary_size), int(dim), int(depth)

    def build(self, input_shape):
        v, d, depth = self.vocabulary_size, self.dim, self.depth
        self.vectors = self.add_weight(shape=(max(v - 1, 1), d), initializer="zeros", name="vectors")
        self.points = self.add_weight(shape=(v, depth), dtype="int32", initializer="zeros", trainable=False,
                                      name="points")
        self.codes = self.add_weight(shape=(v, depth), initializer="zeros", trainable=False, name="codes")
        self.lengths = self.add_weight(shape=(v,), dtype="int32", initializer="zeros", trainable=False,
                                       name="lengths")

    def assign_tree(self, counts):
        points, codes, lengths = huffman_tree(counts, self.depth)
        self.points.assign(points)
        self.codes.assign(codes)
        self.lengths.assign(lengths)

    def _log_sigmoids(self, scores, points, codes, lengths):
        """Σ_j log σ(s_j · score at node j) over each path; scores gathered at `points`."""
        mask = ops.cast(ops.arange(self.depth)[None, :] < lengths[..., None], scores.dtype)
        return ops.sum(-ops.softplus(-(1.0 - 2.0 * codes) * scores) * mask, axis=-1)

    def call(self, h):
        scores = ops.matmul(h, ops.transpose(self.vectors))  # (B, V − 1): every inner node
        at_paths = ops.take(scores, self.points, axis=1)  # (B, V, depth)
        return self._log_sigmoids(at_paths, self.points, self.codes, self.lengths)

    def path_loss(self, h, targets):
        """The negated log-probability of each target, (B,). Its value is eq. 3's; its gradient to an inner
        node that n pairs of the batch reach is their summed gradient divided by √n (see `shared_scale`)."""
        points = ops.take(self.points, targets, axis=0)  # (B, depth)
        lengths = ops.take(self.lengths, targets, axis=0)
        nodes = ops.take(self.vectors, points, axis=0)  # (B, depth, d)
        scale = self.shared_scale(points, lengths)[..., None]
        nodes = nodes * scale + ops.stop_gradient(nodes * (1.0 - scale))  # the same values, scaled gradients
        scores = ops.einsum("bld,bd->bl", nodes, h)
        return -self._log_sigmoids(scores, points, ops.take(self.codes, targets, axis=0), lengths)

    def shared_scale(self, points, lengths):
        """1/√n for each node on each path, n the number of the batch's paths through it. The word2vec tool
        applies pairs one at a time, so a node's n updates each see the previous ones; their sum, computed
        at one point, overshoots when n is large: the root lies on every path (n = the batch size) and a
        summed step of a thousand pairs made CBOW's vectors diverge at the tool's rate. The mean (1/n)
        is stable but leaves the top of the tree nearly untrained (CBOW: 0.041 of the analogies against
        0.071 with 1/√n, one seed); nodes that one pair reaches keep the tool's step."""
        on_path = ops.arange(self.depth)[None, :] < lengths[:, None]
        counts = ops.bincount(ops.reshape(ops.where(on_path, points, 0), (-1,)),
                              weights=ops.reshape(ops.cast(on_path, "float32"), (-1,)),
                              minlength=self.vectors.shape[0])
        return ops.rsqrt(ops.maximum(ops.take(counts, points, axis=0), 1.0))

    def get_config(self):
        return {**super().get_config(), "vocabulary_size": self.vocabulary_size, "dim": self.dim,
                "depth": self.depth}


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ContextMean(keras.layers.Layer):
    """CBOW's projection: the mean of the context words' vectors, padding (id 0) left out."""

    def call(self, vectors, ids):
        mask = ops.cast(ops.not_equal(ids, PAD), vectors.dtype)[..., None]
        return ops.sum(vectors * mask, axis=1) / ops.maximum(ops.sum(mask, axis=1), 1.0)


OBJECTIVES = ("negative_sampling", "hierarchical_softmax")


def Word2Vec(*, vocabulary_size: int = 1_000_000, embedding_dim: int = 300, architecture: str = "skipgram",
             window: int = 5, objective: str = "negative_sampling", name: str = "word2vec_skipgram"):
    """`architecture="skipgram"`: `word_ids` (batch,) → `vectors` $v_w$ and `logits` over the context
    word. `"cbow"`: `context_ids` (batch, 2·window; 0 pads) → `vectors` (their mean) and `logits` over
    the centre word. `objective="hierarchical_softmax"`: the output vectors are the V − 1 inner nodes
    of a Huffman tree (`HierarchicalSoftmax`) and `logits` are every word's log-probability."""
    if objective not in OBJECTIVES:
        raise ConfigError(f"Unknown word2vec objective {objective!r}. Allowed: {', '.join(OBJECTIVES)}.",
                          key="objective", value=objective)
    for key, value in (("vocabulary_size", vocabulary_size), ("embedding_dim", embedding_dim), ("window", window)):
        check_positive(name, key, value)
    if architecture not in ("skipgram", "cbow"):
        raise ConfigError(f"Unknown word2vec architecture {architecture!r}. Allowed: skipgram, cbow.",
                          key="architecture", value=architecture)
    initializer = keras.initializers.RandomUniform(-0.5 / embedding_dim, 0.5 / embedding_dim)
    table = keras.layers.Embedding(vocabulary_size, embedding_dim, embeddings_initializer=initializer,
                                   name="input_vectors")
    if architecture == "skipgram":
        ids = keras.Input(shape=(), dtype="int32", name="word_ids")
        h = table(ids)
    else:
        ids = keras.Input(shape=(2 * window,), dtype="int32", name="context_ids")
        h = ContextMean(name="context_mean")(table(ids), ids)
    h = keras.layers.Identity(name="vectors")(h)
    if objective == "negative_sampling":
        logits = OutputVectors(vocabulary_size, embedding_dim, name="output_vectors")(h)
    else:
        logits = HierarchicalSoftmax(vocabulary_size, embedding_dim, name="output_vectors")(h)
    logits = keras.layers.Identity(name="logits")(logits)
    return keras.Model(ids, {"vectors": h, "logits": logits}, name=name)


class Word2VecTrainer(LossTrainer):
    """Negative sampling around a word2vec model: each example is (input, the word to predict); the loss
    is eq. 4 negated, summed over the batch. `noise`: the noise distribution $P_n(w)$ over the
    vocabulary (unigram^¾)."""

    def __init__(self, net, noise, negatives=5, seed=0, **kwargs):
        super().__init__(net, **kwargs)
        self.negatives = int(negatives)
        self.cdf = np.cumsum(np.asarray(noise, np.float64) / np.sum(noise)).astype(np.float32)
        self.noise = keras.random.SeedGenerator(seed)
        self.table = net.get_layer("input_vectors")
        self.outputs_layer = net.get_layer("output_vectors")
        self.cbow = net.inputs[0].name == "context_ids"

    def projection(self, inputs):
        """The input vector (skip-gram), or the mean of the context vectors (CBOW), whose error goes back
        to each context word whole, as the word2vec tool and gensim apply it (the mean's own gradient is
        that divided by the number of context words)."""
        vectors = self.table(inputs)
        if not self.cbow:
            return vectors
        mean = self.net.get_layer("context_mean")(vectors, inputs)
        total = ops.sum(vectors * ops.cast(ops.not_equal(inputs, PAD), vectors.dtype)[..., None], axis=1)
        return total + ops.stop_gradient(mean - total)

    def pair_loss(self, inputs, targets, seed):
        """The negated eq. 4 of each pair (or its negated log-probability under hierarchical softmax),
        (batch,)."""
        h = self.projection(inputs)  # (B, d)
        if isinstance(self.outputs_layer, HierarchicalSoftmax):
            return self.outputs_layer.path_loss(h, targets)
        batch = ops.shape(targets)[0]
        u = keras.random.uniform((batch * self.negatives,), seed=seed)
        noise = ops.minimum(ops.searchsorted(self.cdf, u), len(self.cdf) - 1)  # inverse CDF: ~ P_n(w)
        noise = ops.reshape(noise, (batch, self.negatives))
        positive = ops.sum(self.outputs_layer.lookup(targets) * h, axis=-1)
        negative = ops.einsum("bkd,bd->bk", self.outputs_layer.lookup(noise), h)
        return ops.softplus(-positive) + ops.sum(ops.softplus(negative), axis=-1)

    def step_loss(self, data):
        inputs, targets = data
        loss = ops.sum(self.pair_loss(inputs, targets, self.noise))
        return loss, loss / ops.cast(ops.shape(targets)[0], loss.dtype)


# --- the training stream ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=2)
def word_stream(data, size, split, data_dir=None, manual_dir=None):
    """(ids, document starts): the split's words under the training vocabulary of `size`, unknown words
    and document ends dropped (the C tool skips words outside its vocabulary)."""
    from keras_landmarks.tokenizers import corpus_documents

    vocab = vocabulary(data, size, data_dir, manual_dir)
    parts = [ids[ids > 1] for ids in (vocab.encode(d) for d in corpus_documents(data, split, data_dir, manual_dir))]
    starts = np.cumsum([0] + [len(p) for p in parts[:-1]])
    return np.concatenate(parts).astype(np.int32), starts


def keep_probability(counts, t):
    """The papers' sub-sampling: word w is kept with probability min(1, √(t / f(w)))."""
    counts = np.asarray(counts, np.float64)
    frequency = counts / counts.sum()
    with np.errstate(divide="ignore"):
        return np.minimum(1.0, np.sqrt(t / np.maximum(frequency, 1e-300)))


def training_pairs(ids, starts, counts, architecture, window, t, seed):
    """(inputs, targets): sub-sampled words, each with a window of random size R in [1, window] (not
    crossing a document start). Skip-gram: (centre, context word) pairs; CBOW: (the 2·window context
    ids, 0-padded; the centre)."""
    rng = np.random.default_rng(seed)
    kept = rng.random(len(ids)) < keep_probability(counts, t)[ids]
    document = np.searchsorted(starts, np.arange(len(ids)), side="right") - 1
    ids, document = ids[kept], document[kept]
    n = len(ids)
    reach = rng.integers(1, window + 1, n)  # R for each centre
    offsets = [o for o in range(-window, window + 1) if o]
    if architecture == "skipgram":
        centres, contexts = [], []
        for o in offsets:
            i = np.arange(max(0, -o), min(n, n - o))
            ok = (abs(o) <= reach[i]) & (document[i] == document[i + o])
            centres.append(ids[i[ok]])
            contexts.append(ids[i[ok] + o])
        return np.concatenate(centres), np.concatenate(contexts)
    context = np.full((n, len(offsets)), PAD, np.int32)
    for column, o in enumerate(offsets):
        i = np.arange(max(0, -o), min(n, n - o))
        ok = (abs(o) <= reach[i]) & (document[i] == document[i + o])
        context[i[ok], column] = ids[i[ok] + o]
    has_context = (context != PAD).any(1)
    return context[has_context], ids[has_context]


class Word2VecTraining(TextProcedure):
    """Negative sampling on a text dataset's sub-sampled word stream; held-out: the same loss on the test
    split's pairs, and the vectors' analogy accuracy and word-similarity correlation (gensim's
    evaluations, restricted to the vocabulary)."""

    name = "word2vec"
    losses = OBJECTIVES
    options = {
        "negatives": Option(int, "negative samples per pair", minimum=1, maximum=1000),
        "sample": Option(float, "the sub-sampling threshold t", above=0.0, maximum=1.0),
    }
    strategies = ("none",)
    precisions = ("float32",)

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        size = config["vocabulary_size"]
        vocab = vocabulary(data, size, data_dir, manual_dir)
        ids, starts = word_stream(data, size, split, data_dir, manual_dir)
        counts = np.array([vocab.counts[w] for w in vocab.tokens], np.float64)
        options = recipe.options
        x, y = training_pairs(ids, starts, counts, config["architecture"], config["window"],
                              options.get("sample", 1e-3), options.get("pair_seed", 0) + (split != "train"))
        return x, y, size

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        net = registry.build(spec.name, weights=weights, **overrides)
        data, data_dir, manual_dir = dataset
        vocab = vocabulary(data, spec.full_config(**overrides)["vocabulary_size"], data_dir, manual_dir)
        counts = np.array([vocab.counts[w] if i > 1 else 0 for i, w in enumerate(vocab.tokens)], np.float64)
        objective = spec.full_config(**overrides)["objective"]
        if recipe.loss != objective:
            raise ConfigError(f"{spec.name} is built for {objective}; the loss must match it, not {recipe.loss!r} "
                              f"(--set objective={recipe.loss} builds that one).", key="loss", value=recipe.loss)
        if objective == "hierarchical_softmax":
            net.get_layer("output_vectors").assign_tree(counts)
        trainer = Word2VecTrainer(net, counts**0.75, negatives=recipe.options.get("negatives", 5))
        trainer.vocabulary = vocab
        trainer.compile(optimizer=optimizer(recipe, total_steps))
        return Built(trainer, [(trainer.optimizer, net.trainable_variables)], {spec.name: net})

    def evaluate(self, trainer, batches):
        total, count = 0.0, 0
        for i, (x, y) in enumerate(batches):
            total += float(ops.sum(trainer.pair_loss(x, y, seed=1000 + i)))
            count += len(y)
        return {"loss": total / count, **vector_scores(word_vectors(trainer.net), trainer.vocabulary.tokens)}

    def snapshot(self, trainer, folder, step):
        write_vectors(word_vectors(trainer.net), trainer.vocabulary.tokens, folder / "vectors.txt")


def word_vectors(net):
    """The input vectors $v_w$ of a word2vec model, (|V|, d)."""
    return keras.ops.convert_to_numpy(net.get_layer("input_vectors").embeddings)


def keyed_vectors(vectors, tokens):
    """gensim `KeyedVectors` of the words (the special tokens <unk>, <eod> left out)."""
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vectors.shape[1])
    kv.add_vectors(tokens[2:], vectors[2:])
    return kv


def vector_scores(vectors, tokens):
    """Analogy accuracy (Mikolov et al.'s questions whose four words are in the vocabulary, 3CosAdd, case
    folded) and Spearman correlations with WordSim-353 and SimLex-999, computed by gensim."""
    import contextlib
    import io
    import logging

    from keras_landmarks.datasets.text import _gensim_data

    kv = keyed_vectors(vectors, tokens)
    logging.getLogger("gensim").setLevel(logging.ERROR)
    with contextlib.redirect_stderr(io.StringIO()):
        accuracy, sections = kv.evaluate_word_analogies(str(_gensim_data("questions-words.txt")),
                                                        restrict_vocab=len(tokens))
        wordsim = kv.evaluate_word_pairs(str(_gensim_data("wordsim353.tsv")), restrict_vocab=len(tokens))
        simlex = kv.evaluate_word_pairs(str(_gensim_data("simlex999.txt")), restrict_vocab=len(tokens))
    def share(chosen):
        right = sum(len(s["correct"]) for s in chosen)
        return right / max(1, right + sum(len(s["incorrect"]) for s in chosen))

    parts = [s for s in sections if s["section"] != "Total accuracy"]
    semantic = [s for s in parts if not s["section"].startswith("gram")]  # the 5 semantic sections
    questions = sum(len(s["correct"]) + len(s["incorrect"]) for s in parts)
    return {"analogy_accuracy": float(accuracy), "analogy_semantic": share(semantic),
            "analogy_syntactic": share([s for s in parts if s["section"].startswith("gram")]),
            "analogy_questions": int(questions),
            "wordsim353_spearman": float(wordsim[1].statistic), "simlex999_spearman": float(simlex[1].statistic)}


def write_vectors(vectors, tokens, path):
    import os

    partial = path.with_name(f".{path.name}.partial")
    keyed_vectors(vectors, tokens).save_word2vec_format(str(partial), binary=False)
    os.replace(partial, path)


_word2vec_training = register_procedure(Word2VecTraining())


NEIGHBOURS = 10


def vector_signatures(table):
    """The serving signatures of a word-vector model whose vectors (|V|, d) `table(model)` reads:

    - `lookup`: `word_ids` (batch,) → `vectors` (batch, d);
    - `nearest`: `word_ids` (batch,) → the `neighbour_ids` of the 10 other words whose vectors are
      closest by cosine, and their `similarities` (batch, 10), the special ids 0 and 1 (<unk>, <eod>)
      never among them.

    An id outside [0, |V|) fails the request with the range, not an index error from inside the graph."""

    def signatures(model):
        import tensorflow as tf

        words = int(table(model).shape[0])
        count = max(1, min(NEIGHBOURS, words - 3))
        spec = [tf.TensorSpec((None,), tf.int32, name="word_ids")]

        def checked(word_ids):
            check = tf.debugging.assert_less(tf.cast(word_ids, tf.int64), tf.constant(words, tf.int64),
                                             message=f"word_ids must be in [0, {words})")
            check_low = tf.debugging.assert_non_negative(word_ids, message=f"word_ids must be in [0, {words})")
            with tf.control_dependencies([check, check_low]):
                return tf.identity(word_ids)

        @tf.function(input_signature=spec, autograph=False)  # no control flow to convert
        def lookup(word_ids):
            return {"vectors": tf.gather(table(model), checked(word_ids))}

        @tf.function(input_signature=spec, autograph=False)
        def nearest(word_ids):
            word_ids = checked(word_ids)
            unit = tf.math.l2_normalize(table(model), axis=-1)
            similarity = tf.matmul(tf.gather(unit, word_ids), unit, transpose_b=True)  # (batch, |V|)
            excluded = tf.cast(tf.one_hot(word_ids, words), tf.bool) | (tf.range(words) < 2)[None, :]
            top = tf.math.top_k(tf.where(excluded, -2.0, similarity), k=count)
            return {"neighbour_ids": top.indices, "similarities": top.values}

        return {"lookup": lookup, "nearest": nearest}

    return signatures


def _recipe(rate):
    def recipe(config):
        objective = ("negative sampling (k = 5 noise words from unigram^¾)" if config["objective"] == OBJECTIVES[0]
                     else "hierarchical softmax over a Huffman tree")
        return Recipe(optimizer="sgd", learning_rate=rate, schedule="linear", batch_size=1024, epochs=5,
                      loss=config["objective"], metrics=(), procedure="word2vec",
                      options={"negatives": 5, "sample": 1e-3},
                      source=f"Mikolov et al. 2013 and their word2vec tool's defaults: 5 epochs of SGD from {rate:g} "
                             f"falling linearly to 10⁻⁴ of it, {objective}, sub-sampling t = 10⁻³, windows of 1 "
                             f"to {config['window']} words; pairs applied 1,024 at a time (summed loss)")

    return recipe


def _io(config):
    inputs = ({"word_ids": (None,)} if config["architecture"] == "skipgram"
              else {"context_ids": (None, 2 * config["window"])})
    return {"inputs": inputs, "outputs": {"vectors": (None, config["embedding_dim"]),
                                          "logits": (None, config["vocabulary_size"])}}


for _name, _config, _rate, _what in (
        ("word2vec_skipgram", {}, 0.025, "skip-gram: a word's vector predicts the words around it"),
        ("word2vec_cbow", {"architecture": "cbow", "window": 4, "name": "word2vec_cbow"}, 0.05,
         "CBOW: the mean of the context words' vectors predicts the centre word")):
    register(
        _name,
        family="word2vec",
        builder=Word2Vec,
        paper=PAPER,
        config=_config,
        params=600_000_000,
        params_source="2·|V|·d, input and output vectors, at §4.2's Google News setting of the first paper: the "
                      "1,000,000 most frequent words, d = 300.",
        task="word_embedding",
        io=_io,
        inputs=lambda config: {("word_ids" if config["architecture"] == "skipgram" else "context_ids"):
                               TokenIds(config["vocabulary_size"])},
        test_config={"vocabulary_size": 50, "embedding_dim": 8},
        training=_recipe(_rate),
        signatures=vector_signatures(lambda model: model.get_layer("input_vectors").embeddings),
        description=_what,
    )
