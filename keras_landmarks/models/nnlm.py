"""NNLM: the neural probabilistic language model.

Bengio, Ducharme, Vincent & Jauvin. "A Neural Probabilistic Language Model." JMLR 3, 2003.
https://www.jmlr.org/papers/v3/bengio03a.html

Each of the n−1 previous words is looked up in one shared table $C$ ($|V| \\times m$); their
concatenation $x = (C(w_{t-1}), \\dots, C(w_{t-n+1}))$ feeds a tanh hidden layer and, through the
optional *direct connections* $W$, the output itself (eq. 1):

$$y = b + W x + U \\tanh(d + H x), \\qquad \\hat P(w_t = i \\mid w_{t-1}, \\dots, w_{t-n+1}) =
\\frac{e^{y_i}}{\\sum_j e^{y_j}}.$$

The free parameters are $\\theta = (b, d, W, U, H, C)$: $|V|(1 + nm + h) + h(1 + (n-1)m)$ with the
direct connections, $|V|(1 + m + h) + h(1 + (n-1)m)$ without (§2). The registered configuration is
the paper's Brown-corpus one: $|V| = 16{,}383$, $n = 5$, $m = 30$, $h = 100$, with direct connections
(4,124,233 parameters; 2,158,273 with `direct_connections=False`).

Training (`keras-landmarks train nnlm text_corpus`, the `language_model` procedure): next-word
cross-entropy by SGD as in §4, the per-example rate $\\varepsilon_0 = 10^{-3}$ applied to a batch of 100
as one step of $100\\,\\varepsilon_0 = 0.1$ on the batch's mean loss, and weight decay $10^{-4}$.

Deviations: none in the network. In training: minibatches of 100 rather than one example per update
(the paper's asynchronous parallel SGD), a constant rate (its decrease $\\varepsilon_0/(1 + rt)$ with
$r = 10^{-8}$ changes it by under 2% over a run here), and the decay, decoupled (Keras's
`weight_decay`), shrinks the biases too. The paper also mixed the network with an interpolated trigram;
the model here is the network alone.
"""

import keras

from keras_landmarks.config import check_positive, fail
from keras_landmarks.inputs import TokenIds
from keras_landmarks.models._decoding import generate_signature, sample_token
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="A Neural Probabilistic Language Model",
    authors="Yoshua Bengio, Réjean Ducharme, Pascal Vincent, Christian Jauvin",
    year=2003,
    venue="JMLR 3",
    url="https://www.jmlr.org/papers/v3/bengio03a.html",
    extends=("n-gram language models", "distributed representations"),
    adopted_by=("word2vec", "rnnlm", "neural machine translation"),
)


def NNLM(*, vocabulary_size: int = 16_383, order: int = 5, embedding_dim: int = 30, hidden_dim: int = 100,
         direct_connections: bool = True, classifier_activation: str | None = "softmax", name: str = "nnlm"):
    """`order` is n: the model reads the n−1 previous words (`context_ids`, shape (batch, n−1)) and
    gives the next word's distribution over the vocabulary (`probabilities`, or logits with
    `classifier_activation=None`)."""
    for key, value in (("vocabulary_size", vocabulary_size), ("embedding_dim", embedding_dim),
                       ("hidden_dim", hidden_dim)):
        check_positive(name, key, value)
    if isinstance(order, bool) or not isinstance(order, int) or order < 2:
        fail(name, "order", order, "an integer >= 2 (n: the next word from the n−1 before it)")
    context = keras.Input(shape=(order - 1,), dtype="int32", name="context_ids")
    x = keras.layers.Embedding(vocabulary_size, embedding_dim, name="C")(context)  # the shared table C
    x = keras.layers.Flatten(name="x")(x)  # (C(w_{t-1}), …, C(w_{t-n+1})): (n−1)·m features
    hidden = keras.layers.Dense(hidden_dim, activation="tanh", name="H")(x)  # tanh(d + Hx)
    y = keras.layers.Dense(vocabulary_size, name="U")(hidden)  # b + U tanh(d + Hx): b is U's bias
    if direct_connections:
        y = keras.layers.Add(name="y")([y, keras.layers.Dense(vocabulary_size, use_bias=False, name="W")(x)])
    if classifier_activation is not None:
        y = keras.layers.Activation(classifier_activation, name="probabilities")(y)
    return keras.Model(context, y, name=name)


def make_generator(model):
    """The `generate` serving signature: from a prompt of at least n−1 words, `max_new_tokens` words
    sampled one at a time from the distribution given the n−1 before (at `temperature`, among the
    `top_k` most likely; 1: greedy), in one `tf.while_loop`. (B, T + max_new_tokens)."""
    import tensorflow as tf

    context = int(model.inputs[0].shape[1])
    probabilities = model.layers[-1].name == "probabilities"

    @tf.function(input_signature=generate_signature())
    def generate(prompt_ids, max_new_tokens, temperature, top_k, seed):
        check = tf.debugging.assert_greater_equal(tf.shape(prompt_ids)[1], context,
                                                  message=f"the prompt must hold at least n − 1 = {context} words")
        with tf.control_dependencies([check]):
            prompt_ids = tf.identity(prompt_ids)

        def body(t, tokens):
            outputs = model(tokens[:, -context:], training=False)
            logits = tf.math.log(tf.maximum(outputs, 1e-30)) if probabilities else outputs
            token = sample_token(logits, temperature, top_k, seed + t)
            return t + 1, tf.concat([tokens, token[:, None]], axis=1)

        _, tokens = tf.while_loop(lambda t, _: t < max_new_tokens, body, (tf.constant(0), prompt_ids),
                                  shape_invariants=(tf.TensorShape([]), tf.TensorShape([None, None])))
        return {"token_ids": tokens}

    return generate


def _signatures(model):
    return {"generate": make_generator(model)}


def _io(config):
    output = "probabilities" if config["classifier_activation"] is not None else "logits"
    return {"inputs": {"context_ids": (None, config["order"] - 1)},
            "outputs": {output: (None, config["vocabulary_size"])}}


def _recipe(config):
    return Recipe(optimizer="sgd", learning_rate=0.1, weight_decay=1e-4, batch_size=100, epochs=10, metrics=(),
                  procedure="language_model",
                  source="Bengio et al. 2003 §4: SGD at ε₀ = 10⁻³ per example (0.1 per batch of 100, the batch's "
                         "mean loss), weight decay 10⁻⁴; next-word cross-entropy")


register(
    "nnlm",
    family="nnlm",
    builder=NNLM,
    paper=PAPER,
    params=4_124_233,
    params_source="§2's count |V|(1 + nm + h) + h(1 + (n−1)m) at the paper's Brown-corpus setting (|V| = 16,383, "
                  "n = 5, m = 30, h = 100, direct connections): 16,383 · 251 + 100 · 121. Without the direct "
                  "connections W: 2,158,273.",
    task="causal_lm",
    io=_io,
    inputs=lambda config: {"context_ids": TokenIds(config["vocabulary_size"])},
    test_config={"vocabulary_size": 50, "order": 4, "embedding_dim": 6, "hidden_dim": 8},
    training=_recipe,
    signatures=_signatures,
    description="A shared word-feature table, a tanh hidden layer and direct connections to the softmax.",
)
