"""LeNet-5.

LeCun, Bottou, Bengio, Haffner. "Gradient-Based Learning Applied to Document Recognition."
Proceedings of the IEEE, 1998. http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf

C1 (6@5×5) → S2 → C3 (16@5×5) → S4 → C5 (120@5×5) → F6 (84) → output (10), on 32×32 inputs, with
the squashing function of Appendix A, $f(a) = A\\tanh(S a)$, $A = 1.7159$, $S = 2/3$.

C3 connects every S2 map by default (`c3_connections="full"`, 61,706 parameters, the count usually
quoted); `c3_connections="paper"` uses Table I of the paper, where each C3 map sees only 3, 4 or 6 of
the six S2 maps (1,516 parameters in C3 instead of 2,416: 60,806 in all).

Deviations:
- S2 and S4 are plain 2×2 average pooling. In the paper each subsampling map also has a trainable
  coefficient and bias followed by a sigmoid (12 + 32 parameters).
- The output layer is a dense softmax layer (850 parameters) instead of the paper's Euclidean RBF units
  with fixed, hand-designed parameters, trained with the paper's MAP criterion.
"""

from typing import Literal

import keras
import numpy as np
from keras import ops

from keras_landmarks.config import check_activation, check_choice
from keras_landmarks.inputs import Image
from keras_landmarks.models._image import check_image_config, features, image_input, image_io
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="Gradient-Based Learning Applied to Document Recognition",
    authors="Yann LeCun, Léon Bottou, Yoshua Bengio, Patrick Haffner",
    year=1998,
    venue="Proceedings of the IEEE",
    url="http://yann.lecun.com/exdb/publis/pdf/lecun-98.pdf",
    extends=(),
    adopted_by=("alexnet", "vgg", "resnet"),
)

# Table I: the S2 maps (rows 0-5) each C3 map (0-15) is connected to.
C3_TABLE = (
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (0, 4, 5), (0, 1, 5),
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (0, 3, 4, 5), (0, 1, 4, 5), (0, 1, 2, 5),
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)

DOWNSAMPLING = ((5, 1, "valid"), (2, 2, "valid"), (5, 1, "valid"), (2, 2, "valid"), (5, 1, "valid"))


@keras.saving.register_keras_serializable(package="keras_landmarks")
def scaled_tanh(x):
    """LeCun's squashing function (Appendix A): $f(a) = 1.7159 \\tanh(\\tfrac{2}{3} a)$."""
    return 1.7159 * ops.tanh(x * (2.0 / 3.0))


@keras.saving.register_keras_serializable(package="keras_landmarks")
class SparseC3Conv(keras.layers.Layer):
    """C3 with the paper's connection table: output map $j$ sees only the S2 maps in `table[j]`.

    Only the connected weights exist ($25 \\cdot 60 + 16 = 1516$ parameters). They are scattered into
    a dense 5×5×6×16 kernel by a constant 0/1 placement matrix, so the layer runs (and exports) as one
    ordinary convolution.
    """

    def __init__(self, table=C3_TABLE, kernel_size=5, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.table = tuple(tuple(int(i) for i in row) for row in table)
        self.kernel_size = int(kernel_size)
        self.activation = keras.activations.get(activation)

    def build(self, input_shape):
        in_channels = int(input_shape[-1])
        out_channels = len(self.table)
        if max(max(row) for row in self.table) >= in_channels:
            raise ValueError(f"The connection table names more input maps than the {in_channels} received.")
        connections = sum(len(row) for row in self.table)
        placement = np.zeros((connections, in_channels * out_channels), "float32")
        slot = 0
        for j, row in enumerate(self.table):
            for i in row:
                placement[slot, i * out_channels + j] = 1.0  # weight `slot` → kernel[..., i, j]
                slot += 1
        self._placement = placement
        self._kernel_shape = (self.kernel_size, self.kernel_size, in_channels, out_channels)
        self.kernel = self.add_weight(
            name="kernel", shape=(self.kernel_size * self.kernel_size, connections),
            initializer=keras.initializers.VarianceScaling(1.0, "fan_in", "uniform"),
        )
        self.bias = self.add_weight(name="bias", shape=(out_channels,), initializer="zeros")

    def call(self, inputs):
        placement = ops.convert_to_tensor(self._placement, dtype=self.kernel.dtype)
        kernel = ops.reshape(ops.matmul(self.kernel, placement), self._kernel_shape)  # (5, 5, 6, 16)
        kernel = ops.cast(kernel, inputs.dtype)
        x = ops.conv(inputs, kernel, strides=1, padding="valid") + ops.cast(self.bias, inputs.dtype)
        return self.activation(x)

    def compute_output_shape(self, input_shape):
        side = [None if s is None else s - self.kernel_size + 1 for s in input_shape[1:3]]
        return (input_shape[0], *side, len(self.table))

    def get_config(self):
        return {
            **super().get_config(),
            "table": [list(row) for row in self.table],
            "kernel_size": self.kernel_size,
            "activation": keras.activations.serialize(self.activation),
        }


def LeNet5(
    *,
    c3_connections: Literal["full", "paper"] = "full",
    activation: str = "scaled_tanh",
    input_shape: tuple[int | None, ...] = (32, 32, 1),
    include_top: bool = True,
    num_classes: int = 10,
    pooling: Literal["avg", "max"] | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "lenet5",
):
    """LeNet-5. `activation` is `"scaled_tanh"` (the paper's) or any Keras activation name."""
    check_choice(name, "c3_connections", c3_connections, ("full", "paper"))
    check_activation(name, "activation", activation, extra=("scaled_tanh",))
    act = scaled_tanh if activation == "scaled_tanh" else activation
    check_image_config(name, input_shape=input_shape, downsampling=DOWNSAMPLING, include_top=include_top,
                       num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation,
                       flattens=True)

    inputs = image_input(input_shape)
    x = keras.layers.Conv2D(6, 5, activation=act, name="c1")(inputs)  # (B, 28, 28, 6)
    x = keras.layers.AveragePooling2D(2, name="s2")(x)  # (B, 14, 14, 6)
    if c3_connections == "full":
        x = keras.layers.Conv2D(16, 5, activation=act, name="c3")(x)  # (B, 10, 10, 16)
    else:
        x = SparseC3Conv(C3_TABLE, 5, activation=act, name="c3")(x)
    x = keras.layers.AveragePooling2D(2, name="s4")(x)  # (B, 5, 5, 16)
    x = keras.layers.Conv2D(120, 5, activation=act, name="c5")(x)  # (B, 1, 1, 120)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dense(84, activation=act, name="f6")(x)
        outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    else:
        outputs = features(x, pooling)
    return keras.Model(inputs, outputs, name=name)


def _digits(config):
    """real: scikit-learn's handwritten digits (1,797 images, 8×8 enlarged to 32×32)"""
    from keras_landmarks.data import digits

    return digits(config["input_shape"][0])


register(
    "lenet5",
    aliases=("lenet",),
    family="lenet",
    builder=LeNet5,
    paper=PAPER,
    config={},
    params=61_706,
    params_source="C1 156 + C3 2,416 + C5 48,120 + F6 10,164 + output 850, with C3 fully connected to S2 "
    "(the count usually quoted); c3_connections='paper' (Table I) gives 60,806.",
    task="image_classification",
    io=lambda c: image_io(c, DOWNSAMPLING, 120),
    test_config={"num_classes": 5},
    description="Convolutional network for handwritten digits: convolutions, subsampling, shared weights.",
    sample_data=_digits,
    inputs=lambda c: {"images": Image(value_range=(0.0, 1.0))},  # as the digits data
    # The paper trains with stochastic diagonal Levenberg-Marquardt (Appendix C), which Keras does not
    # offer: Adam stands in.
    training=lambda c: Recipe(optimizer="adam", learning_rate=1e-3, batch_size=128, epochs=10,
                              source="Adam 1e-3, batch 128, in place of the paper's stochastic diagonal "
                              "Levenberg-Marquardt (LeCun et al. 1998, Appendix C)"),
)
