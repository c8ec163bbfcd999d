"""Language modelling: a registry language model learns $P(w_t \\mid w_{<t})$ on a text dataset.

The objective of every language paper here is the same: the mean negative log-likelihood of the next
word, reported on held-out text as perplexity $\\exp(-\\frac{1}{T}\\sum_t \\log \\hat P(w_t \\mid
w_{<t}))$. What differs is what the model reads, and the procedure takes it from the model's input:

- a fixed context (Bengio et al.'s NNLM, `context_ids` of n−1 words): every position of the training
  text is one example, the n−1 words before it (in reading order) and the word itself;
- a sequence (`token_ids` of any length: an LSTM or a Transformer LM): the text cut into segments of
  `Recipe.options["segment"]` words (Zaremba et al.'s 35 unrolled steps), each predicting its words
  one place on.

The vocabulary is the training split's `vocabulary_size` − 2 most frequent words with `<unk>` and
`<eod>` (`keras_landmarks.tokenizers.WordVocabulary`), written to the run folder as `vocabulary.txt`:
line i is id i, what a user needs to read the model's outputs. The held-out split is encoded with it
(unknown words are `<unk>`, and predicting `<unk>` counts like any word, as in the PTB results).

Examples are visited in the seeded order of `Stream` and each segment starts from zero states:
carrying an LSTM's state from one segment to the next, as Zaremba et al. train, is not done here.
"""

import functools

import keras
import numpy as np

from keras_landmarks.errors import ConfigError
from keras_landmarks.training.procedures import Built, Procedure, outputs_probabilities, register_procedure
from keras_landmarks.training.recipe import Option
from keras_landmarks.training.trainer import LossTrainer

DEFAULT_SEGMENT = 35


@functools.lru_cache(maxsize=4)
def vocabulary(data, size, data_dir=None, manual_dir=None):
    """The `WordVocabulary` of `size` words of dataset `data`'s training split."""
    from keras_landmarks.tokenizers import WordVocabulary, corpus_documents

    return WordVocabulary.from_documents(corpus_documents(data, "train", data_dir, manual_dir), size)


def token_ids(data, split, size, data_dir=None, manual_dir=None):
    """int32 ids of a text dataset's split under its training vocabulary of `size` words."""
    from keras_landmarks.tokenizers import corpus_documents

    documents = corpus_documents(data, split, data_dir, manual_dir)
    return vocabulary(data, size, data_dir, manual_dir).encode_documents(documents)


def context_length(spec, config):
    """(input name, n − 1) of a fixed-context model, (input name, None) of a sequence model."""
    inputs = spec.io(config)["inputs"] if spec.io else {}
    if len(inputs) != 1:
        raise ConfigError(f"{spec.name} takes {len(inputs)} inputs ({', '.join(inputs)}); a language model trained "
                          "by `train` takes one input of token ids.", key="model", value=spec.name)
    name, shape = next(iter(inputs.items()))
    return name, shape[1]


def next_word_nats(outputs, labels, probabilities):
    """−log P̂(label) in nats at each position, from a model's outputs (B, ..., V): probabilities, or
    logits (log-softmaxed here, in float64)."""
    outputs = np.asarray(outputs, np.float64)
    if probabilities:
        log_p = np.log(np.maximum(outputs, 1e-30))
    else:
        shifted = outputs - outputs.max(-1, keepdims=True)
        log_p = shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))
    return -np.take_along_axis(log_p, np.asarray(labels)[..., None], axis=-1)[..., 0]


def windows(ids, context):
    """(contexts (N, context), next words (N,)): every position of `ids` with the words before it."""
    count = len(ids) - context
    if count < 1:
        return np.zeros((0, context), np.int32), np.zeros((0,), np.int32)
    index = np.arange(count)[:, None] + np.arange(context)[None, :]
    return ids[index], ids[context:].astype(np.int32)


def segments(ids, length):
    """(inputs (N, length), targets (N, length)): consecutive segments, targets one place on."""
    count = (len(ids) - 1) // length
    inputs = ids[: count * length].reshape(count, length)
    targets = ids[1 : count * length + 1].reshape(count, length)
    return inputs, targets.astype(np.int32)


@keras.saving.register_keras_serializable(package="keras_landmarks")
def streams(ids, count, length):
    """(inputs, targets), each (steps · count, length): the text cut into `count` contiguous streams read
    side by side, `length` tokens at a time; row k·count + b is stream b's k-th segment, so batch k of
    `count` rows continues batch k − 1 row for row (the reference code's batchify). Targets are one on."""
    per = (len(ids) - 1) // count
    steps = per // length
    if steps < 1:
        return np.zeros((0, length), np.int32), np.zeros((0, length), np.int32)
    starts = np.arange(count) * per
    rows = starts[:, None] + np.arange(steps * length)[None, :]  # (count, steps · length)

    def cut(array):
        return array.reshape(count, steps, length).transpose(1, 0, 2).reshape(steps * count, length).astype(np.int32)

    return cut(ids[rows]), cut(ids[rows + 1])


class SegmentLoss(keras.losses.Loss):
    """A segment's summed negative log-likelihood, averaged over the batch, $-\\frac{1}{B}\\sum_b
    \\sum_{t=1}^{T} \\log \\hat P(w_{b,t})$: the loss Zaremba et al.'s learning rate of 1 and clipping at
    norm 5 are set for (`Recipe.options["sum_over_time"]`). Keras's own averages over the T steps too,
    which makes the gradient T times smaller."""

    def __init__(self, from_logits=True, name="segment_nll", **kwargs):
        super().__init__(name=name, **kwargs)
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        nll = keras.losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=self.from_logits)
        return keras.ops.sum(nll, axis=-1)

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits}


class TextProcedure(Procedure):
    """A procedure on a text dataset's word ids: the training split's vocabulary is written beside the
    run's models, and the ids reach the model as they are."""

    def write_assets(self, folder, data, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        vocabulary(data, config["vocabulary_size"], data_dir, manual_dir).save(folder / "vocabulary.txt")
        return ["vocabulary.txt"]

    def preprocessing(self, built, train_images):
        from keras_landmarks.training.data import Preprocessing

        return Preprocessing.tokens()


class LanguageModeling(TextProcedure):
    """Next-word cross-entropy on a text dataset; held-out perplexity."""

    name = "language_model"
    losses = ("sparse_categorical_crossentropy",)
    options = {
        "segment": Option(int, "the words a sequence model unrolls over", minimum=2, maximum=100_000),
        "sum_over_time": Option(bool, "sum a segment's loss over its steps (Zaremba et al.) instead of the mean"),
        "carry_state": Option(bool, "a recurrent model reads the text as contiguous streams, one per batch row, "
                                    "its states carried from one segment to the next (Zaremba et al.)"),
    }
    quality_metric = "perplexity"
    gate_examples = 1_000
    strategies = ("none", "mirrored")

    def split(self, data, split, data_dir=None, manual_dir=None, *, spec=None, config=None, recipe=None):
        size = config.get("vocabulary_size")
        if size is None:
            raise ConfigError(f"{spec.name} has no vocabulary_size option; a language model trained by `train` "
                              "sets its vocabulary from it.", key="model", value=spec.name)
        ids = token_ids(data, split, size, data_dir, manual_dir)
        _, context = context_length(spec, config)
        if context is None and recipe.options.get("carry_state"):
            x, y = streams(ids, recipe.batch_size, recipe.options.get("segment", DEFAULT_SEGMENT))
        elif context is None:
            length = recipe.options.get("segment", DEFAULT_SEGMENT)
            x, y = segments(ids, length)
        else:
            x, y = windows(ids, context)
        if not len(y):
            raise ConfigError(f"{data}'s {split} split has {len(ids)} tokens: too few for one example of "
                              f"{spec.name}.", key="data", value=data)
        return x, y, size

    def build(self, spec, overrides, weights, recipe, total_steps, classes, dataset=None):
        from keras_landmarks import registry
        from keras_landmarks.training.recipe import optimizer

        net = registry.build(spec.name, weights=weights, **overrides)
        from_logits = not outputs_probabilities(net)
        if recipe.options.get("sum_over_time"):
            loss = SegmentLoss(from_logits)
        else:
            loss = keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits)
        if recipe.options.get("carry_state"):
            trainer = StateCarrier(net, recipe.batch_size, loss)
            trainer.compile(optimizer=optimizer(recipe, total_steps))
            return Built(trainer, [(trainer.optimizer, net.trainable_variables)], {spec.name: net})
        net.compile(optimizer=optimizer(recipe, total_steps), loss=loss, metrics=list(recipe.metrics) or None)
        return Built(net, [(net.optimizer, net.trainable_variables)], {spec.name: net})

    def shuffles(self, recipe):
        return not recipe.options.get("carry_state")

    def evaluate(self, trainer, batches):
        """Per-token mean cross-entropy (nats), perplexity and next-word accuracy; with carried states,
        the test split's streams read in order from zero states, as in training."""
        probabilities = outputs_probabilities(getattr(trainer, "net", trainer))
        total, correct, count = 0.0, 0, 0
        run = trainer.carried_reader() if isinstance(trainer, StateCarrier) else None
        if run is not None:
            pairs = [(x.numpy(), y.numpy()) for x, y in batches]
            inputs, targets = np.concatenate([x for x, _ in pairs]), np.concatenate([y for _, y in pairs])
            batches = [(inputs[k : k + trainer.streams], targets[k : k + trainer.streams])
                       for k in range(0, len(targets) - trainer.streams + 1, trainer.streams)]
        for x, y in batches:
            outputs = trainer(x, training=False) if run is None else run(x)
            outputs = keras.ops.convert_to_numpy(keras.ops.cast(outputs, "float32"))
            labels = np.asarray(y)
            total += float(next_word_nats(outputs, labels, probabilities).sum())
            correct += int((outputs.argmax(-1) == labels).sum())
            count += labels.size
        loss = total / count
        return {"loss": loss, "perplexity": float(np.exp(loss)), "accuracy": correct / count}

    def results(self, metrics):
        return {"test_loss": metrics["loss"], "perplexity": metrics["perplexity"], "accuracy": metrics["accuracy"]}


class StateCarrier(LossTrainer):
    """Trains a recurrent language model (a chain of layers with `keras.layers.RNN`s, as `lstm_lm`) on
    `streams` rows side by side, each RNN starting every batch from the states it ended the previous
    one with (Zaremba et al.: the state crosses segment boundaries; back-propagation stops at them).
    The states are non-trainable weights (a checkpoint holds them); the RNNs' cells and every other
    layer are the network's own."""

    def __init__(self, net, streams, loss, **kwargs):
        super().__init__(net, **kwargs)
        self.streams, self.loss_fn = int(streams), loss
        chain = net.layers[1:]
        if any(len(layer._inbound_nodes) != 1 for layer in chain) or len(net.inputs) != 1:
            raise ConfigError(f"{net.name} is not a chain of layers; carrying states needs one.", key="model",
                              value=net.name)
        self.chain = [(layer, self._stepper(layer)) for layer in chain]
        self.states = [[self.add_weight(shape=(self.streams, size), initializer="zeros", trainable=False,
                                        name=f"{layer.name}_state_{k}") for k, size in enumerate(_sizes(layer))]
                       for layer in chain if isinstance(layer, keras.layers.RNN)]

    @staticmethod
    def _stepper(layer):
        if not isinstance(layer, keras.layers.RNN):
            return None
        return keras.layers.RNN(layer.cell, return_sequences=True, return_state=True)  # the same cell, its states out

    def run(self, x, states, training):
        """(logits, the RNNs' final states) from `states` (a list of lists, one per RNN)."""
        carried, k = [], 0
        for layer, stepper in self.chain:
            if stepper is None:
                x = layer(x, training=training)
                continue
            x, *final = stepper(x, initial_state=list(states[k]), training=training)
            carried.append(final)
            k += 1
        return x, carried

    def step_loss(self, data):
        x, y = data
        logits, carried = self.run(x, [[v.value for v in layer] for layer in self.states], training=True)
        for variables, values in zip(self.states, carried):
            for variable, value in zip(variables, values):
                variable.assign(keras.ops.stop_gradient(value))
        loss = keras.ops.mean(self.loss_fn(y, logits))
        return loss, loss

    def carried_reader(self):
        """A function of successive batches of `streams` rows → logits, carrying its own states from zero."""
        import tensorflow as tf

        states = [[tf.zeros((self.streams, size)) for size in _sizes(layer)]
                  for layer, stepper in self.chain if stepper is not None]

        @tf.function(reduce_retracing=True, autograph=False)
        def step(x, states):
            return self.run(x, states, training=False)

        def read(x):
            nonlocal states
            logits, states = step(tf.constant(x), states)
            return logits

        return read


def _sizes(layer):
    size = layer.cell.state_size
    return list(size) if isinstance(size, (list, tuple)) else [size]


register_procedure(LanguageModeling())
