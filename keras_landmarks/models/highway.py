"""Highway networks.

Srivastava, Greff, Schmidhuber. "Training Very Deep Networks." NeurIPS 2015.
https://arxiv.org/abs/1507.06228 (also "Highway Networks", arXiv 1505.00387)

A highway layer carries part of its input through unchanged, gated by a learned transform gate
$T$ (eq. 2–3):

$$y = H(x, W_H) \\cdot T(x, W_T) + x \\cdot (1 - T(x, W_T)), \\qquad T(x) = \\sigma(W_T^\\top x + b_T)$$

$b_T$ is initialized negative (§2.2: "e.g. -1, -3"), so the network starts close to the identity and
trains at depths where plain networks do not. As in the paper's MNIST experiments (§3.1), the first
layer is a plain fully connected layer that maps the input to the highway width; `num_layers` counts it
(a 10-layer net is 1 plain + 9 highway layers), and each layer has 50 units.

Deviations:
- The transform-gate bias defaults to -2.0, inside the paper's range; the best value per depth was
  chosen by search in the paper.
"""

from typing import Literal

import keras
from keras import ops

from keras_landmarks.models._mlp import MLP_TEST_CONFIG, check_mlp_config, mlp_input, mlp_io
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Training Very Deep Networks",
    authors="Rupesh K. Srivastava, Klaus Greff, Jürgen Schmidhuber",
    year=2015,
    venue="NeurIPS",
    url="https://arxiv.org/abs/1507.06228",
    extends=("lstm gating (Hochreiter & Schmidhuber 1997)",),
    adopted_by=("resnet (ungated identity shortcuts)",),
)


@keras.saving.register_keras_serializable(package="keras_landmarks")
class Highway(keras.layers.Layer):
    """One highway layer: $y = H(x) \\cdot T(x) + x \\cdot (1 - T(x))$, input and output widths equal."""

    def __init__(self, activation="relu", gate_bias=-2.0, **kwargs):
        super().__init__(**kwargs)
        self.activation = keras.activations.get(activation)
        self.gate_bias = float(gate_bias)

    def build(self, input_shape):
        units = int(input_shape[-1])
        self.transform = keras.layers.Dense(units, name="transform")  # H's affine part, W_H
        self.gate = keras.layers.Dense(
            units, bias_initializer=keras.initializers.Constant(self.gate_bias), name="gate"
        )  # W_T, b_T
        self.transform.build(input_shape)
        self.gate.build(input_shape)

    def call(self, inputs):
        h = self.activation(self.transform(inputs))  # H(x, W_H)
        t = ops.sigmoid(self.gate(inputs))  # T(x, W_T), eq. 3
        return h * t + inputs * (1.0 - t)  # eq. 2

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "activation": keras.activations.serialize(self.activation),
                "gate_bias": self.gate_bias}


def HighwayMLP(
    *,
    num_layers: int = 10,
    hidden_dim: int = 50,
    gate_bias: float = -2.0,
    activation: Literal["relu", "tanh", "sigmoid"] = "relu",
    input_dim: int = 784,
    num_classes: int = 10,
    classifier_activation: str | None = "softmax",
    name: str = "highway_mlp",
):
    check_mlp_config(name, num_layers=num_layers, hidden_dim=hidden_dim, input_dim=input_dim,
                     num_classes=num_classes, classifier_activation=classifier_activation)
    inputs = mlp_input(input_dim)
    x = keras.layers.Dense(hidden_dim, activation=activation, name="layer1_plain")(inputs)  # (B, 50)
    for i in range(2, num_layers + 1):
        x = Highway(activation, gate_bias, name=f"layer{i}_highway")(x)  # (B, 50)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    return keras.Model(inputs, outputs, name=name)


register(
    "highway_mlp",
    family="highway",
    builder=HighwayMLP,
    paper=PAPER,
    params=85_660,
    params_source="Our count for the paper's 10-layer MNIST highway net (§3.1): 784→50 plain "
    "(39,250) + 9 highway layers of 50 units (9 × 5,100: H and T each 50×50 + 50) + 50→10 softmax (510). "
    "The paper sizes layers so that each has ≈5,000 parameters.",
    task="image_classification",
    io=mlp_io,
    test_config=MLP_TEST_CONFIG,
    description="Gated shortcuts (transform and carry gates) that make very deep nets trainable.",
)
