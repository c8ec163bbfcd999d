"""LSTM language models: Zaremba, Sutskever & Vinyals's regularised LSTMs, on Hochreiter &
Schmidhuber's cell.

Hochreiter & Schmidhuber. "Long Short-Term Memory." Neural Computation 9(8), 1997.
Zaremba, Sutskever & Vinyals. "Recurrent Neural Network Regularization." 2014.
https://arxiv.org/abs/1409.2329

Words are embedded, read by a stack of LSTMs and mapped to next-word logits. Zaremba et al.'s point
is where dropout goes: only on the non-recurrent connections, $h^{l-1}_t$ into layer $l$ (the
embedding's output, between layers, and before the softmax), never on $h^l_{t-1} \\to h^l_t$:

$$\\mathrm{LSTM}: \\; \\mathbf{D}(h^{l-1}_t),\\, h^l_{t-1},\\, c^l_{t-1} \\to h^l_t,\\, c^l_t.$$

The registered configurations are the paper's Penn Treebank models (§4.1), a 10,000-word vocabulary
and two layers: `lstm_lm` the medium one (650 units, dropout 0.5, weights uniform in ±0.05;
19,775,200 parameters), `lstm_lm_large` the large one (1,500 units, dropout 0.65, ±0.04; 66,022,000).
`forget_gate=False` uses the 1997 cell (`keras_landmarks.layers.OriginalLSTMCell`: input and output
gates only), whose layers then hold three gate blocks rather than four.

Deviations:
- Keras's LSTM has one bias per gate where the paper's Torch code has two (input-to-hidden and
  hidden-to-hidden); the count above is with one, the sum of the two being the same function.
- The model reads a segment (`token_ids`, (batch, time)) from zero states. Training carries them as the
  paper does (`train`, the `language_model` procedure with `carry_state`: the text cut into 20
  contiguous streams, one per batch row, each LSTM's state carried from one 35-word segment to the next;
  `training.language.StateCarrier`); `--option carry_state=False` reads shuffled segments from zero
  states instead.

Training follows §4.1: SGD at rate 1 on each segment's summed loss (averaged over the batch of 20),
gradients clipped at global norm 5 (large: 10), 35 unrolled steps; the medium model for 39 epochs, the
rate divided by 1.2 each epoch after the 6th; the large one for 55, by 1.15 after the 14th.
"""

import keras

from keras_landmarks.config import check_positive, check_rate
from keras_landmarks.inputs import TokenIds
from keras_landmarks.layers import OriginalLSTMCell
from keras_landmarks.models._decoding import generate_signature, sample_token
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="Recurrent Neural Network Regularization",
    authors="Wojciech Zaremba, Ilya Sutskever, Oriol Vinyals",
    year=2014,
    venue="arXiv 1409.2329",
    url="https://arxiv.org/abs/1409.2329",
    extends=("long short-term memory (Hochreiter & Schmidhuber 1997)", "dropout"),
    adopted_by=("awd-lstm", "elmo", "neural machine translation"),
)


def LSTMLanguageModel(*, vocabulary_size: int = 10_000, hidden_dim: int = 650, num_layers: int = 2,
                      dropout: float = 0.5, init_scale: float = 0.05, forget_gate: bool = True,
                      name: str = "lstm_lm"):
    """Embedding → `num_layers` LSTMs of `hidden_dim` → logits over the vocabulary, dropout on the
    non-recurrent connections only; every weight uniform in ±`init_scale` (§4.1)."""
    for key, value in (("vocabulary_size", vocabulary_size), ("hidden_dim", hidden_dim), ("num_layers", num_layers)):
        check_positive(name, key, value)
    check_rate(name, "dropout", dropout)

    def init():  # a fresh initializer per weight: one instance would draw the same values each time
        return keras.initializers.RandomUniform(-init_scale, init_scale)

    tokens = keras.Input(shape=(None,), dtype="int32", name="token_ids")
    x = keras.layers.Embedding(vocabulary_size, hidden_dim, embeddings_initializer=init(), name="embedding")(tokens)
    for layer in range(1, num_layers + 1):
        x = keras.layers.Dropout(dropout, name=f"dropout_{layer}")(x)  # D(h^{l−1}_t): non-recurrent only
        if forget_gate:
            x = keras.layers.LSTM(hidden_dim, return_sequences=True, kernel_initializer=init(),
                                  recurrent_initializer=init(), bias_initializer=init(), name=f"lstm_{layer}")(x)
        else:
            cell = OriginalLSTMCell(hidden_dim, kernel_initializer=init(), recurrent_initializer=init())
            x = keras.layers.RNN(cell, return_sequences=True, name=f"lstm_{layer}")(x)
    x = keras.layers.Dropout(dropout, name=f"dropout_{num_layers + 1}")(x)
    logits = keras.layers.Dense(vocabulary_size, kernel_initializer=init(), bias_initializer=init(), name="logits")(x)
    return keras.Model(tokens, logits, name=name)


def make_generator(model):
    """The `generate` serving signature: the prompt read step by step through each layer's cell, then
    `max_new_tokens` tokens sampled one at a time (at `temperature`, among the `top_k` most likely; 1:
    greedy), each fed back with the layers' carried states, in one `tf.while_loop`. Returns the prompt
    and the new tokens, (B, T + max_new_tokens)."""
    import tensorflow as tf

    embedding, head = model.get_layer("embedding"), model.get_layer("logits")
    cells = [layer.cell for layer in model.layers if isinstance(layer, keras.layers.RNN)]

    def step(token, states):  # (B,) → next-token logits (B, V)
        x = embedding(token)
        carried = []
        for cell, state in zip(cells, states):
            x, state = cell(x, list(state), training=False)
            carried.append(tuple(state))
        return head(x), tuple(carried)

    @tf.function(input_signature=generate_signature())
    def generate(prompt_ids, max_new_tokens, temperature, top_k, seed):
        batch, prompt_length = tf.shape(prompt_ids)[0], tf.shape(prompt_ids)[1]
        check = tf.debugging.assert_greater(prompt_length, 0, message="the prompt must hold at least one token")
        with tf.control_dependencies([check]):
            prompt_ids = tf.identity(prompt_ids)
        states = tuple(tuple(tf.zeros([batch, size]) for size in cell.state_size) for cell in cells)
        logits = tf.zeros([batch, head.units])

        def read(t, logits, states):
            logits, states = step(prompt_ids[:, t], states)
            return t + 1, logits, states

        _, logits, states = tf.while_loop(lambda t, *_: t < prompt_length, read, (tf.constant(0), logits, states))
        output = tf.TensorArray(tf.int32, size=max_new_tokens)

        def body(t, logits, states, output):
            token = sample_token(logits, temperature, top_k, seed + t)
            logits, states = step(token, states)
            return t + 1, logits, states, output.write(t, token)

        _, _, _, output = tf.while_loop(lambda t, *_: t < max_new_tokens, body,
                                        (tf.constant(0), logits, states, output))
        new_tokens = tf.reshape(tf.transpose(output.stack()), [batch, max_new_tokens])
        return {"token_ids": tf.concat([prompt_ids, new_tokens], axis=1)}

    return generate


def _signatures(model):
    return {"generate": make_generator(model)}


def _io(config):
    return {"inputs": {"token_ids": (None, None)}, "outputs": {"logits": (None, None, config["vocabulary_size"])}}


def _recipe(epochs, constant, factor, clip):
    def recipe(config):
        return Recipe(optimizer="sgd", learning_rate=1.0, batch_size=20, epochs=epochs, schedule="steps",
                      boundaries=tuple(k / epochs for k in range(constant, epochs)), decay_factor=1 / factor,
                      clip_norm=clip, metrics=(), procedure="language_model",
                      options={"segment": 35, "sum_over_time": True, "carry_state": True},
                      source=f"Zaremba et al. 2014 §4.1: SGD at 1 on the summed loss of 35-step segments, batches "
                             f"of 20, clipped at norm {clip:g}, {epochs} epochs, the rate divided by {factor:g} "
                             f"each epoch after the {constant}th")

    return recipe


_SOURCE = ("§4.1's {size} PTB model, 10,000 words, two layers of {h}, untied softmax: embedding 10,000·{h} + "
           "2 · 4({h}·2·{h} + {h}) + softmax {h}·10,000 + 10,000.")
for _name, _config, _params, _size, _training in (
        ("lstm_lm", {}, 19_775_200, "medium", _recipe(39, 6, 1.2, 5.0)),
        ("lstm_lm_large", {"hidden_dim": 1500, "dropout": 0.65, "init_scale": 0.04, "name": "lstm_lm_large"},
         66_022_000, "large", _recipe(55, 14, 1.15, 10.0))):
    register(
        _name,
        family="lstm",
        builder=LSTMLanguageModel,
        paper=PAPER,
        config=_config,
        params=_params,
        params_source=_SOURCE.format(size=_size, h=_config.get("hidden_dim", 650)),
        task="causal_lm",
        io=_io,
        inputs=lambda config: {"token_ids": TokenIds(config["vocabulary_size"])},
        test_config={"vocabulary_size": 50, "hidden_dim": 8},
        training=_training,
        signatures=_signatures,
        description="Stacked LSTMs with dropout on the non-recurrent connections only.",
    )
