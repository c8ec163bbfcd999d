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

Deviations: none in the network. The paper trained it with asynchronous parallel SGD on 1.2M words and
mixed it with an interpolated trigram; the network here is the model alone.
"""

import keras

from keras_landmarks.config import check_positive, fail
from keras_landmarks.inputs import TokenIds
from keras_landmarks.registry import Paper, register

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


def _io(config):
    output = "probabilities" if config["classifier_activation"] is not None else "logits"
    return {"inputs": {"context_ids": (None, config["order"] - 1)},
            "outputs": {output: (None, config["vocabulary_size"])}}


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
    description="A shared word-feature table, a tanh hidden layer and direct connections to the softmax.",
)
