"""VGG.

Simonyan, Zisserman. "Very Deep Convolutional Networks for Large-Scale Image Recognition." ICLR 2015
(arXiv 2014). https://arxiv.org/abs/1409.1556

Stacks of 3×3 convolutions (stride 1, padding 1) and five 2×2/2 max-pooling layers, then the
4096-4096-1000 classifier with dropout 0.5 in the first two (§2.1, §3.1). `vgg11`, `vgg13`, `vgg16`,
`vgg19` are configurations A, B, D and E of Table 1.

Deviations:
- Configuration A-LRN and configuration C (with 1×1 convolutions) are not registered.
- The `_bn` variants put BatchNormalization between each convolution and its ReLU. Batch normalization
  came after the paper (Ioffe & Szegedy 2015); these are the variants torchvision and most training
  recipes use. Their convolutions keep their bias, as torchvision's do.
- Weights use Keras's default Glorot-uniform initialization. The paper trained configuration A from
  N(0, 0.01²) and initialized deeper nets from it, then noted Glorot's initialization works without
  pre-training (§3.1).
"""

from typing import Literal

import keras

from keras_landmarks.config import check_length, check_positive, check_rate, fail
from keras_landmarks.models._image import check_image_config, features, image_input, image_io
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER = Paper(
    title="Very Deep Convolutional Networks for Large-Scale Image Recognition",
    authors="Karen Simonyan, Andrew Zisserman",
    year=2014,
    venue="ICLR 2015",
    url="https://arxiv.org/abs/1409.1556",
    extends=("alexnet",),
    adopted_by=("resnet", "style transfer (Gatys et al.) and perceptual losses"),
)

# Table 1: convolutions per stage for configurations A, B, D, E.
STACKWISE_NUM_CONVS = {11: (1, 1, 2, 2, 2), 13: (2, 2, 2, 2, 2), 16: (2, 2, 3, 3, 3), 19: (2, 2, 4, 4, 4)}
DOWNSAMPLING = ((2, 2, "valid"),) * 5


def VGG(
    *,
    depth: Literal[11, 13, 16, 19] = 16,
    batch_norm: bool = False,
    stackwise_num_filters: tuple[int, ...] = (64, 128, 256, 512, 512),
    fc_units: int = 4096,
    dropout: float = 0.5,
    input_shape: tuple[int | None, ...] = (224, 224, 3),
    include_top: bool = True,
    num_classes: int = 1000,
    pooling: Literal["avg", "max"] | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "vgg16",
):
    if depth not in STACKWISE_NUM_CONVS:
        fail(name, "depth", depth, "one of 11, 13, 16, 19")
    check_length(name, "stackwise_num_filters", stackwise_num_filters, 5)
    check_positive(name, "stackwise_num_filters", stackwise_num_filters)
    check_positive(name, "fc_units", fc_units)
    check_rate(name, "dropout", dropout)
    check_image_config(name, input_shape=input_shape, downsampling=DOWNSAMPLING, include_top=include_top,
                       num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation,
                       flattens=True)

    inputs = image_input(input_shape)
    x = inputs
    for stage, (num_convs, filters) in enumerate(zip(STACKWISE_NUM_CONVS[depth], stackwise_num_filters), 1):
        for i in range(1, num_convs + 1):
            label = f"block{stage}_conv{i}"
            if batch_norm:
                x = keras.layers.Conv2D(filters, 3, padding="same", name=label)(x)
                x = keras.layers.BatchNormalization(name=f"{label}_bn")(x)
                x = keras.layers.ReLU(name=f"{label}_relu")(x)
            else:
                x = keras.layers.Conv2D(filters, 3, padding="same", activation="relu", name=label)(x)
        x = keras.layers.MaxPooling2D(2, 2, name=f"block{stage}_pool")(x)  # (B, H/2^stage, W/2^stage, filters)
    if include_top:
        x = keras.layers.Flatten(name="flatten")(x)  # (B, 7·7·512) at 224×224
        for i in (1, 2):
            x = keras.layers.Dense(fc_units, activation="relu", name=f"fc{i}")(x)
            x = keras.layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
        outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)
    else:
        outputs = features(x, pooling)
    return keras.Model(inputs, outputs, name=name)


_PARAMS = {
    (11, False): 132_863_336, (13, False): 133_047_848, (16, False): 138_357_544, (19, False): 143_667_240,
    (11, True): 132_868_840, (13, True): 133_053_736, (16, True): 138_365_992, (19, True): 143_678_248,
}
_LETTER = {11: "A", 13: "B", 16: "D", 19: "E"}

# §3.1: mini-batch gradient descent with momentum 0.9, batch 256, L2 5·10⁻⁴, learning rate 10⁻² divided by
# 10 three times when validation accuracy stopped improving, 74 epochs.
RECIPE = Recipe(optimizer="sgd", learning_rate=0.01, momentum=0.9, weight_decay=5e-4, schedule="steps",
                boundaries=(0.4, 0.7, 0.9), batch_size=256, epochs=74,
                source="Simonyan & Zisserman 2015, §3.1: SGD 0.01 with momentum 0.9, ÷10 three times at plateaus "
                "(here at 0.4, 0.7, 0.9 of the run), weight decay 5e-4 (Keras's decoupled form), batch 256, "
                "74 epochs")

for _depth in (11, 13, 16, 19):
    for _bn in (False, True):
        _name = f"vgg{_depth}" + ("_bn" if _bn else "")
        register(
            _name,
            aliases=("vgg",) if _name == "vgg16" else (),
            family="vgg",
            builder=VGG,
            paper=PAPER,
            config={"depth": _depth, "batch_norm": _bn, "name": _name},
            params=_PARAMS[(_depth, _bn)],
            params_source=f"Configuration {_LETTER[_depth]} of Table 1, 1000 classes"
            + (" (Table 2 gives 133, 133, 138, 144 million for A, B, D, E)" if not _bn else
               "; BatchNorm adds gamma/beta per conv channel (torchvision's vgg*_bn count)"),
            task="image_classification",
            io=lambda c: image_io(c, DOWNSAMPLING, c["stackwise_num_filters"][-1]),
            test_config={"input_shape": (32, 32, 3), "stackwise_num_filters": (4, 4, 8, 8, 8), "fc_units": 16,
                         "num_classes": 5},
            description="Depth from stacks of small 3×3 convolutions"
            + (", with batch normalization." if _bn else "."),
            training=lambda c: RECIPE,
        )
