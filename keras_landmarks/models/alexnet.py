"""AlexNet.

Krizhevsky, Sutskever, Hinton. "ImageNet Classification with Deep Convolutional Neural Networks."
NeurIPS 2012. https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks

Five convolutional layers (96@11×11/4, 256@5×5, 384@3×3, 384@3×3, 256@3×3) and three fully connected
layers (4096, 4096, 1000), ReLU everywhere (§3.1), local response normalization after conv1 and conv2
(§3.3), overlapping 3×3/2 max pooling after both LRN layers and after conv5 (§3.4), dropout 0.5 in the
first two fully connected layers (§4.2), on 227×227 inputs (the paper's "224" does not tile with an
11×11/4 convolution without padding; 227 is what the layer sizes in Figure 2 need).

`groups=2` (default) reproduces the two-GPU split of §3.2: conv2, conv4 and conv5 see only the kernel
maps on their own GPU (grouped convolutions), conv3 and the dense layers see all of them: 60,965,224
parameters. `groups=1` is the single-tower network (62,378,344).

The grouped convolutions are `GroupedConv2D`: one convolution per group on its slice of the channels,
concatenated, exactly the two towers of Figure 2. Keras's `Conv2D(groups=2)` computes the same thing,
but on CPU Keras runs it inside a nested XLA-compiled function that tf2onnx cannot convert.

Initialization as in §5: weights from N(0, 0.01²); biases 1 in conv2, conv4, conv5 and the hidden dense
layers, 0 elsewhere.

Deviations:
- With `groups=2` the LRN of conv1 and conv2 sums over neighbours across both groups; in the paper each
  GPU normalized its own 48 (or 128) maps. The two differ only at the two maps at the group boundary.
"""

from typing import Literal

import keras
from keras import ops

from keras_landmarks.config import check_length, check_positive, check_rate, fail
from keras_landmarks.layers import LocalResponseNormalization
from keras_landmarks.layers._init import fresh
from keras_landmarks.models._image import check_image_config, features, image_input, image_io
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="ImageNet Classification with Deep Convolutional Neural Networks",
    authors="Alex Krizhevsky, Ilya Sutskever, Geoffrey E. Hinton",
    year=2012,
    venue="NeurIPS",
    url="https://papers.nips.cc/paper/4824-imagenet-classification-with-deep-convolutional-neural-networks",
    extends=("lenet",),
    adopted_by=("vgg", "inception", "resnet", "dropout"),
)

DOWNSAMPLING = ((11, 4, "valid"), (3, 2, "valid"), (3, 2, "valid"), (3, 2, "valid"))


@keras.saving.register_keras_serializable(package="keras_landmarks")
class GroupedConv2D(keras.layers.Layer):
    """A convolution split into `groups` towers (§3.2): tower $g$ sees only its slice of the channels.

    $$y = [\\,W_1 * x_{[:, :, :, 0:C/G]};\\; \\ldots;\\; W_G * x_{[:, :, :, (G-1)C/G:C]}\\,]$$

    Same weights as `keras.layers.Conv2D(groups=G)`; built from ordinary convolutions so that it runs
    without XLA and converts to TFLite and ONNX. Takes Conv2D's arguments.
    """

    def __init__(self, filters, kernel_size, groups=2, **conv_kwargs):
        layer_kwargs = {k: conv_kwargs.pop(k) for k in ("name", "dtype", "trainable") if k in conv_kwargs}
        super().__init__(**layer_kwargs)
        if filters % groups:
            raise ValueError(f"`filters` must be divisible by `groups`. Received: filters={filters}, groups={groups}")
        self.filters, self.kernel_size, self.groups = filters, kernel_size, groups
        self.conv_kwargs = conv_kwargs
        self.towers = [
            keras.layers.Conv2D(filters // groups, kernel_size, name=f"tower{g}", dtype=self.dtype_policy,
                                **{**conv_kwargs, "kernel_initializer": fresh(conv_kwargs.get("kernel_initializer",
                                                                                              "glorot_uniform"))})
            for g in range(groups)
        ]

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels % self.groups:
            raise ValueError(f"Input channels ({channels}) must be divisible by groups={self.groups}.")
        for tower in self.towers:
            tower.build((*input_shape[:-1], channels // self.groups))

    def call(self, inputs):
        slices = ops.split(inputs, self.groups, axis=-1)  # G × (B, H, W, C/G)
        return ops.concatenate([tower(x) for tower, x in zip(self.towers, slices)], axis=-1)  # (B, H', W', filters)

    def compute_output_shape(self, input_shape):
        shape = self.towers[0].compute_output_shape((*input_shape[:-1], input_shape[-1] // self.groups))
        return (*shape[:-1], self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "groups": self.groups, **self.conv_kwargs}


def AlexNet(
    *,
    groups: Literal[1, 2] = 2,
    stackwise_num_filters: tuple[int, ...] = (96, 256, 384, 384, 256),
    fc_units: int = 4096,
    dropout: float = 0.5,
    local_response_norm: bool = True,
    input_shape: tuple[int | None, ...] = (227, 227, 3),
    include_top: bool = True,
    num_classes: int = 1000,
    pooling: Literal["avg", "max"] | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "alexnet",
):
    check_length(name, "stackwise_num_filters", stackwise_num_filters, 5)
    check_positive(name, "stackwise_num_filters", stackwise_num_filters)
    check_positive(name, "fc_units", fc_units)
    check_rate(name, "dropout", dropout)
    if groups not in (1, 2):
        fail(name, "groups", groups, "1 or 2")
    if any(f % groups for f in stackwise_num_filters):
        fail(name, "stackwise_num_filters", stackwise_num_filters, f"filter counts divisible by groups={groups}")
    check_image_config(name, input_shape=input_shape, downsampling=DOWNSAMPLING, include_top=include_top,
                       num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation,
                       flattens=True)

    weights = keras.initializers.RandomNormal(stddev=0.01)

    def conv(x, filters, size, stride, groups, bias, label):
        kwargs = dict(strides=stride, padding="valid" if size == 11 else "same", activation="relu",
                      kernel_initializer=fresh(weights), bias_initializer=keras.initializers.Constant(bias), name=label)
        if groups > 1:
            return GroupedConv2D(filters, size, groups, **kwargs)(x)
        return keras.layers.Conv2D(filters, size, **kwargs)(x)

    f1, f2, f3, f4, f5 = stackwise_num_filters
    inputs = image_input(input_shape)
    x = conv(inputs, f1, 11, 4, 1, 0.0, "conv1")  # (B, 55, 55, 96)
    if local_response_norm:
        x = LocalResponseNormalization(name="conv1_lrn")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="pool1")(x)  # (B, 27, 27, 96)
    x = conv(x, f2, 5, 1, groups, 1.0, "conv2")  # (B, 27, 27, 256)
    if local_response_norm:
        x = LocalResponseNormalization(name="conv2_lrn")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="pool2")(x)  # (B, 13, 13, 256)
    x = conv(x, f3, 3, 1, 1, 0.0, "conv3")  # crosses the GPUs (§3.2)
    x = conv(x, f4, 3, 1, groups, 1.0, "conv4")
    x = conv(x, f5, 3, 1, groups, 1.0, "conv5")  # (B, 13, 13, 256)
    x = keras.layers.MaxPooling2D(3, 2, name="pool5")(x)  # (B, 6, 6, 256)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)
        for i in (6, 7):
            x = keras.layers.Dense(fc_units, activation="relu", kernel_initializer=fresh(weights),
                                   bias_initializer=keras.initializers.Constant(1.0), name=f"fc{i}")(x)
            x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        outputs = keras.layers.Dense(num_classes, activation=classifier_activation, kernel_initializer=fresh(weights),
                                     name="predictions")(x)
    else:
        outputs = features(x, pooling)
    return keras.Model(inputs, outputs, name=name)


register(
    "alexnet",
    family="alexnet",
    builder=AlexNet,
    paper=PAPER,
    params=60_965_224,
    params_source="Layer sizes of §3.5 / Figure 2 with the two-GPU grouping of conv2, conv4, conv5 "
    "(groups=2, the paper's '60 million parameters'); groups=1 gives 62,378,344.",
    task="image_classification",
    io=lambda c: image_io(c, DOWNSAMPLING, c["stackwise_num_filters"][-1]),
    test_config={"input_shape": (67, 67, 3), "stackwise_num_filters": (8, 8, 8, 8, 8), "fc_units": 16,
                 "num_classes": 5},
    description="Deep CNN on GPUs: ReLU, LRN, overlapping pooling, dropout, data augmentation.",
    # §5: SGD, batch 128, momentum 0.9, weight decay 0.0005, learning rate 0.01 divided by 10 three times
    # when the validation error stopped improving, about 90 epochs.
    training=lambda c: Recipe(optimizer="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4, schedule="steps",
                              boundaries=(0.4, 0.7, 0.9), batch_size=128, epochs=90,
                              source="Krizhevsky et al. 2012, §5: SGD 0.01, momentum 0.9, weight decay 5e-4 (Keras's "
                              "decoupled form), batch 128, ÷10 three times at plateaus (here at 0.4, 0.7, 0.9 of "
                              "the run), 90 epochs"),
)
