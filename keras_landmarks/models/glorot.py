"""The networks of Glorot & Bengio's study of deep feed-forward training.

Glorot, Bengio. "Understanding the Difficulty of Training Deep Feedforward Neural Networks."
AISTATS 2010. https://proceedings.mlr.press/v9/glorot10a.html

Five hidden layers of 1000 units with a softmax output (§2.3), to compare activations (sigmoid, tanh,
softsign; ReLU for comparison with later work) and initializations:

- `"standard"` (eq. 1): $W_{ij} \\sim U[-1/\\sqrt{n}, 1/\\sqrt{n}]$, $n$ the fan-in;
- `"xavier"`, the normalized initialization (eq. 16):
  $W \\sim U\\big[-\\sqrt{6}/\\sqrt{n_j + n_{j+1}},\\ \\sqrt{6}/\\sqrt{n_j + n_{j+1}}\\big]$;
- `"he"`: He et al. 2015's $\\mathcal{N}(0, 2/n)$ for ReLU, the later correction of eq. 16 for
  rectifiers.

Biases start at 0. Deviations: inputs are MNIST-sized (784) by default; the paper also used Shapeset-3×2
(32×32 inputs, 9 classes) and CIFAR-10 — set `input_dim` and `num_classes`.
"""

from typing import Literal

import keras

from keras_landmarks.models._mlp import MLP_TEST_CONFIG, check_mlp_config, mlp_input, mlp_io
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Understanding the Difficulty of Training Deep Feedforward Neural Networks",
    authors="Xavier Glorot, Yoshua Bengio",
    year=2010,
    venue="AISTATS",
    url="https://proceedings.mlr.press/v9/glorot10a.html",
    extends=(),
    adopted_by=("every Keras layer (glorot_uniform is its default)", "resnet (He initialization)", "snn"),
)

INITIALIZERS = {
    # U[-1/sqrt(n), 1/sqrt(n)] = VarianceScaling with limit sqrt(3 · scale / n), scale = 1/3.
    "standard": lambda: keras.initializers.VarianceScaling(1.0 / 3.0, "fan_in", "uniform"),
    "xavier": lambda: keras.initializers.GlorotUniform(),
    "he": lambda: keras.initializers.HeNormal(),
}


def GlorotMLP(
    *,
    num_layers: int = 5,
    hidden_dim: int = 1000,
    activation: Literal["sigmoid", "tanh", "softsign", "relu"] = "tanh",
    initializer: Literal["standard", "xavier", "he"] = "xavier",
    input_dim: int = 784,
    num_classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "glorot_mlp",
):
    check_mlp_config(name, num_layers=num_layers, hidden_dim=hidden_dim, input_dim=input_dim,
                     num_classes=num_classes, classifier_activation=classifier_activation)
    inputs = mlp_input(input_dim)
    x = inputs
    for i in range(1, num_layers + 1):
        x = keras.layers.Dense(hidden_dim, activation=activation, kernel_initializer=INITIALIZERS[initializer](),
                               name=f"dense{i}")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation,
                                 kernel_initializer=INITIALIZERS[initializer](), name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


register(
    "glorot_mlp",
    family="glorot",
    builder=GlorotMLP,
    paper=PAPER,
    params=4_799_010,
    params_source="Our count for 784 → 5 × 1000 → 10 (§2.3): 785,000 + 4 × 1,001,000 + 10,010.",
    task="image_classification",
    io=mlp_io,
    test_config=MLP_TEST_CONFIG,
    description="Five-layer networks for studying activations and the normalized (Xavier) initialization.",
)
