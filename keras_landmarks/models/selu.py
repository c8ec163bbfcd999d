"""Self-normalizing networks (SNN).

Klambauer, Unterthiner, Mayr, Hochreiter. "Self-Normalizing Neural Networks." NeurIPS 2017.
https://arxiv.org/abs/1706.02515

Scaled exponential linear units (eq. 2) with $\\lambda \\approx 1.0507$, $\\alpha \\approx 1.6733$,

$$\\mathrm{selu}(x) = \\lambda \\begin{cases} x & x > 0 \\\\ \\alpha e^x - \\alpha & x \\le 0 \\end{cases}$$

drive activations towards zero mean and unit variance (the fixed point of Theorem 1) when weights are
drawn with $\\mathrm{Var}(w) = 1/n$ (LeCun normal); alpha dropout (§4, "New Dropout Technique") sets
dropped units to $-\\lambda\\alpha$ and applies the affine correction that keeps mean and variance.
Keras's `selu` activation, `lecun_normal` initializer and `AlphaDropout` implement exactly these.

The default network is the paper's deep fully connected SNN on MNIST-sized inputs: 8 hidden layers of
512 units, alpha dropout 0.05 (the paper searched depths 2–32, widths 256–2048 and rates 0–0.1 per
data set; these defaults are in that grid).
"""

import keras

from keras_landmarks.config import check_rate
from keras_landmarks.models._mlp import MLP_TEST_CONFIG, check_mlp_config, mlp_input, mlp_io
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Self-Normalizing Neural Networks",
    authors="Günter Klambauer, Thomas Unterthiner, Andreas Mayr, Sepp Hochreiter",
    year=2017,
    venue="NeurIPS",
    url="https://arxiv.org/abs/1706.02515",
    extends=("dropout", "glorot (variance-preserving initialization)", "batch normalization"),
    adopted_by=("self-normalizing convolutional and recurrent nets",),
)


def SelfNormalizingMLP(
    *,
    num_layers: int = 8,
    hidden_dim: int = 512,
    dropout: float = 0.05,
    input_dim: int = 784,
    num_classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "snn_mlp",
):
    check_mlp_config(name, num_layers=num_layers, hidden_dim=hidden_dim, input_dim=input_dim,
                     num_classes=num_classes, classifier_activation=classifier_activation)
    check_rate(name, "dropout", dropout)

    inputs = mlp_input(input_dim)
    x = inputs
    for i in range(1, num_layers + 1):
        x = keras.layers.Dense(hidden_dim, activation="selu", kernel_initializer="lecun_normal", name=f"dense{i}")(x)
        if dropout:
            x = keras.layers.AlphaDropout(dropout, name=f"dense{i}_alpha_dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, kernel_initializer="lecun_normal",
                                 name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


register(
    "snn_mlp",
    family="selu",
    builder=SelfNormalizingMLP,
    paper=PAPER,
    params=2_245_642,
    params_source="Our count for 784 → 8 × 512 SELU → 10: 401,920 + 7 × 262,656 + 5,130.",
    task="image_classification",
    io=mlp_io,
    test_config=MLP_TEST_CONFIG,
    description="SELU activations, LeCun-normal initialization and alpha dropout keep activations normalized.",
)
