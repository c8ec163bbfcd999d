"""GoogLeNet (Inception v1).

Szegedy, Liu, Jia, Sermanet, Reed, Anguelov, Erhan, Vanhoucke, Rabinovich. "Going Deeper with
Convolutions." CVPR 2015 (arXiv 2014). https://arxiv.org/abs/1409.4842

An Inception module runs four branches in parallel and concatenates them along channels:

$$y = [\\,C_{1×1}(x);\\; C_{3×3}(C_{1×1}(x));\\; C_{5×5}(C_{1×1}(x));\\; C_{1×1}(\\mathrm{maxpool}_{3×3}(x))\\,]$$

the 1×1 "reduce" convolutions keeping the 3×3 and 5×5 branches cheap (§4). Widths follow Table 1
(`#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj`). All convolutions, reductions included, use
ReLU; dropout 0.4 precedes the classifier. `aux_classifiers=True` adds the two auxiliary classifiers of
§5 on inception 4a and 4d (5×5/3 average pooling, 1×1 convolution with 128 filters, 1024-unit dense
layer, dropout 0.7, softmax), as extra outputs `aux1_predictions` and `aux2_predictions`; the paper
weights their losses by 0.3 during training and discards them at inference.

Parameters. With biases and 1000 classes the network has 6,998,552 parameters (6,990,272 weights
and 8,280 biases). Table 1's params column sums to 6,797.7K ("≈6.8M"); it counts weights only, in
units of 1,024. Counted that way ours is 6,826.4K. Row by row the column agrees with the widths in the
table's other columns to within 1% for conv2, 3a, 3b, 4a, 4b and 4e, and not for five rows, which it
contradicts: conv1 is listed as 2.7K although its 7×7×3×64 kernel has 9,408 weights (9.2K); 4c's
widths give 509,440 weights (497.5K, listed 463K); 4d 590.5K (580K); 5a 1,018K (1,072K); 5b 1,409K
(1,388K). We follow the widths. `aux_classifiers=True` adds 3,188,840 (on 4a) + 3,190,888 (on 4d).

Deviations:
- LRN uses AlexNet's hyper-parameters (k=2, n=5, α=1e-4, β=0.75); the paper does not give its own.
- Max pooling uses `padding="same"`, so 224×224 maps to 112, 56, 28, 14, 7 exactly as in Table 1.
"""

from typing import Literal

import keras

from keras_landmarks.config import check_rate
from keras_landmarks.layers import LocalResponseNormalization
from keras_landmarks.models._image import check_image_config, image_input, image_io, pooled_classifier
from keras_landmarks.registry import Paper, register

PAPER = Paper(
    title="Going Deeper with Convolutions",
    authors="Christian Szegedy, Wei Liu, Yangqing Jia, Pierre Sermanet, Scott Reed, Dragomir Anguelov, "
    "Dumitru Erhan, Vincent Vanhoucke, Andrew Rabinovich",
    year=2014,
    venue="CVPR 2015",
    url="https://arxiv.org/abs/1409.4842",
    extends=("alexnet", "network in network (Lin et al. 2013)"),
    adopted_by=("batch normalization (Inception v2)", "Inception v3/v4", "resnet (bottleneck 1×1 reductions)"),
)

# Table 1: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj) per module.
MODULES = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
DOWNSAMPLING = ((7, 2, "same"),) + ((3, 2, "same"),) * 4
# Inception 4a sits after four halvings; the auxiliary head then pools 5×5/3 without padding.
AUX_DOWNSAMPLING = DOWNSAMPLING[:4] + ((5, 3, "valid"),)


def _conv(x, filters, size, name, strides=1):
    return keras.layers.Conv2D(filters, size, strides=strides, padding="same", activation="relu", name=name)(x)


def _inception_module(x, widths, name):
    n1, r3, n3, r5, n5, proj = widths
    b1 = _conv(x, n1, 1, f"{name}_1x1")
    b3 = _conv(_conv(x, r3, 1, f"{name}_3x3_reduce"), n3, 3, f"{name}_3x3")
    b5 = _conv(_conv(x, r5, 1, f"{name}_5x5_reduce"), n5, 5, f"{name}_5x5")
    bp = keras.layers.MaxPooling2D(3, 1, padding="same", name=f"{name}_pool")(x)
    bp = _conv(bp, proj, 1, f"{name}_pool_proj")
    return keras.layers.Concatenate(name=f"{name}_output")([b1, b3, b5, bp])  # (B, H, W, n1+n3+n5+proj)


def _aux_classifier(x, num_classes, classifier_activation, name):
    x = keras.layers.AveragePooling2D(5, 3, name=f"{name}_avg_pool")(x)  # (B, 4, 4, C) at 224×224
    x = _conv(x, 128, 1, f"{name}_conv")
    x = keras.layers.Flatten(name=f"{name}_flatten")(x)
    x = keras.layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = keras.layers.Dropout(0.7, name=f"{name}_dropout")(x)
    return keras.layers.Dense(num_classes, activation=classifier_activation, name=f"{name}_predictions")(x)


def GoogLeNet(
    *,
    aux_classifiers: bool = False,
    dropout: float = 0.4,
    local_response_norm: bool = True,
    input_shape: tuple[int | None, ...] = (224, 224, 3),
    include_top: bool = True,
    num_classes: int = 1000,
    pooling: Literal["avg", "max"] | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "inception_v1",
):
    check_rate(name, "dropout", dropout)
    check_image_config(name, input_shape=input_shape, downsampling=DOWNSAMPLING, include_top=include_top,
                       num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation)
    if aux_classifiers and include_top:
        check_image_config(name, input_shape=input_shape, downsampling=AUX_DOWNSAMPLING, include_top=True,
                           num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation,
                           flattens=True)

    inputs = image_input(input_shape)
    x = _conv(inputs, 64, 7, "conv1_7x7", strides=2)  # (B, 112, 112, 64)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool1")(x)  # (B, 56, 56, 64)
    if local_response_norm:
        x = LocalResponseNormalization(name="pool1_lrn")(x)
    x = _conv(x, 64, 1, "conv2_3x3_reduce")
    x = _conv(x, 192, 3, "conv2_3x3")  # (B, 56, 56, 192)
    if local_response_norm:
        x = LocalResponseNormalization(name="conv2_lrn")(x)
    x = keras.layers.MaxPooling2D(3, 2, padding="same", name="pool2")(x)  # (B, 28, 28, 192)
    aux_outputs = []
    for module, widths in MODULES.items():
        if module in ("4a", "5a"):
            x = keras.layers.MaxPooling2D(3, 2, padding="same", name=f"pool{module[0]}")(x)  # (B, 14|7, ...)
        x = _inception_module(x, widths, f"inception_{module}")
        if aux_classifiers and include_top and module in ("4a", "4d"):
            label = "aux1" if module == "4a" else "aux2"
            aux_outputs.append(_aux_classifier(x, num_classes, classifier_activation, label))
    outputs = pooled_classifier(x, include_top=include_top, num_classes=num_classes, pooling=pooling,
                                classifier_activation=classifier_activation, dropout=dropout)
    return keras.Model(inputs, [outputs, *aux_outputs] if aux_outputs else outputs, name=name)


def _io(config):
    extra = {}
    if config["aux_classifiers"] and config["include_top"]:
        extra = {f"aux{i}_predictions": (None, config["num_classes"]) for i in (1, 2)}
    return image_io(config, DOWNSAMPLING, sum(MODULES["5b"][i] for i in (0, 2, 4, 5)), extra)


register(
    "inception_v1",
    aliases=("googlenet",),
    family="inception",
    builder=GoogLeNet,
    paper=PAPER,
    params=6_998_552,
    params_source="Table 1's widths with biases, 1000 classes, without the auxiliary classifiers (the "
    "inference network). The paper's ≈6.8M (6,797.7K) counts weights only in units of 1,024; counted so, "
    "ours is 6,826.4K, the difference coming from five rows of the params column that contradict the "
    "table's own widths (module docstring). aux_classifiers=True adds 3,188,840 + 3,190,888.",
    task="image_classification",
    io=_io,
    test_config={"input_shape": (96, 96, 3), "num_classes": 5, "aux_classifiers": True},
    description="Inception modules: parallel 1×1/3×3/5×5/pool branches with 1×1 reductions; 22 layers.",
)
