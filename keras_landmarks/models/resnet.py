"""ResNet: residual networks, v1 (ImageNet and CIFAR) and v2 (pre-activation).

He, Zhang, Ren, Sun. "Deep Residual Learning for Image Recognition." CVPR 2016 (arXiv 2015).
https://arxiv.org/abs/1512.03385

He, Zhang, Ren, Sun. "Identity Mappings in Deep Residual Networks." ECCV 2016.
https://arxiv.org/abs/1603.05027

A residual block learns the residual $\\mathcal{F}$ of a mapping instead of the mapping itself (eq. 1,
2 of the first paper):

$$y = \\mathcal{F}(x, \\{W_i\\}) + W_s x, \\qquad x_{l+1} = \\mathrm{ReLU}(y)$$

with $W_s$ the identity, or a projection where the shape changes. v1 (`resnet18` … `resnet152`,
Table 1) uses basic blocks (two 3×3 convolutions) up to 34 layers and bottleneck blocks
(1×1 → 3×3 → 1×1, 4× expansion) from 50 on; projection shortcuts where dimensions change (option B,
§3.3); batch normalization after every convolution, before the activation; convolutions without bias;
He-normal initialization. Downsampling is done by the first convolution of conv3_1, conv4_1 and conv5_1
with stride 2 (for bottlenecks, the first 1×1, as in the paper's released models).

v2 (`resnet*_v2`) moves BN and ReLU before each convolution (full pre-activation, Figure 4e of the
second paper), so the shortcut path is a pure identity: $x_{l+1} = x_l + \\mathcal{F}(\\hat f(x_l))$.
As in the authors' released pre-activation code, the stem keeps conv-BN-ReLU-maxpool and the first
block, which follows it, skips its own pre-activation; a final BN-ReLU follows the last block.

The CIFAR networks of §4.2 (`resnet20` … `resnet110`, 6n+2 layers): a 3×3 convolution with 16 filters,
three stages of n basic blocks with 16, 32, 64 filters on 32×32, 16×16, 8×8 maps, global average
pooling and a 10-way classifier; shortcuts are identities, zero-padded where the width doubles
(option A, no parameters). `plain20` … `plain56` are the same networks without shortcuts.

Deviations:
- v2 downsamples in the 3×3 convolution of the first block of a stage (as the authors' pre-activation
  models); Keras's ResNetV2 downsamples in the last block and has no BN-ReLU in its stem, so its zero
  padding before max pooling sees negative values (an ONNX export fuses that padding into MaxPool,
  which pads with -inf, and no longer matches Keras).
- Option A subsamples the shortcut by taking every other pixel and appends the zero channels after the
  identity channels.
"""

from typing import Literal

import keras
from keras import ops

from keras_landmarks.config import check_length, check_positive, fail
from keras_landmarks.models._image import check_image_config, image_input, image_io, pooled_classifier
from keras_landmarks.registry import Paper, register
from keras_landmarks.training.recipe import Recipe

PAPER_V1 = Paper(
    title="Deep Residual Learning for Image Recognition",
    authors="Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun",
    year=2015,
    venue="CVPR 2016",
    url="https://arxiv.org/abs/1512.03385",
    extends=("alexnet", "vgg", "highway"),
    adopted_by=("resnet_v2", "transformer (residual connections)", "bert", "gpt", "vision transformer (ViT)"),
)
PAPER_V2 = Paper(
    title="Identity Mappings in Deep Residual Networks",
    authors="Kaiming He, Xiangyu Zhang, Shaoqing Ren, Jian Sun",
    year=2016,
    venue="ECCV 2016",
    url="https://arxiv.org/abs/1603.05027",
    extends=("resnet",),
    adopted_by=("gpt2 (pre-LN transformer)", "wide residual networks", "big transfer (BiT)"),
)

# Table 1: blocks per stage, and whether the stages use bottleneck blocks.
DEPTHS = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}
DOWNSAMPLING = ((7, 2, "same"), (3, 2, "same"), (3, 2, "same"), (3, 2, "same"), (3, 2, "same"))
CIFAR_DOWNSAMPLING = ((3, 2, "same"), (3, 2, "same"))


def _conv(x, filters, size, strides, name):
    if size > 1:
        x = keras.layers.ZeroPadding2D(size // 2, name=f"{name}_pad")(x) if strides > 1 else x
    padding = "valid" if size == 1 or strides > 1 else "same"
    return keras.layers.Conv2D(filters, size, strides=strides, padding=padding, use_bias=False,
                               kernel_initializer="he_normal", name=name)(x)


def _bn(x, name):
    return keras.layers.BatchNormalization(epsilon=1.001e-5, name=name)(x)


def _relu(x, name):
    return keras.layers.ReLU(name=name)(x)


# ----------------------------------------------------------------------------------------------------
# v1: post-activation blocks.


def _block_v1(x, filters, strides, bottleneck, name):
    out_filters = filters * 4 if bottleneck else filters
    if strides != 1 or x.shape[-1] != out_filters:  # projection shortcut W_s (option B)
        shortcut = _bn(_conv(x, out_filters, 1, strides, f"{name}_0_conv"), f"{name}_0_bn")
    else:
        shortcut = x
    if bottleneck:
        y = _relu(_bn(_conv(x, filters, 1, strides, f"{name}_1_conv"), f"{name}_1_bn"), f"{name}_1_relu")
        y = _relu(_bn(_conv(y, filters, 3, 1, f"{name}_2_conv"), f"{name}_2_bn"), f"{name}_2_relu")
        y = _bn(_conv(y, out_filters, 1, 1, f"{name}_3_conv"), f"{name}_3_bn")  # F(x)
    else:
        y = _relu(_bn(_conv(x, filters, 3, strides, f"{name}_1_conv"), f"{name}_1_bn"), f"{name}_1_relu")
        y = _bn(_conv(y, filters, 3, 1, f"{name}_2_conv"), f"{name}_2_bn")  # F(x)
    y = keras.layers.Add(name=f"{name}_add")([shortcut, y])  # F(x) + W_s x  (eq. 2)
    return _relu(y, f"{name}_out")


# ----------------------------------------------------------------------------------------------------
# v2: full pre-activation blocks.


def _block_v2(x, filters, strides, bottleneck, name, preactivate=True):
    out_filters = filters * 4 if bottleneck else filters
    # f̂(x_l); the first block follows the stem's BN-ReLU and skips its own (the authors' 'first' block).
    preact = _relu(_bn(x, f"{name}_preact_bn"), f"{name}_preact_relu") if preactivate else x
    if strides != 1 or x.shape[-1] != out_filters:
        shortcut = _conv(preact, out_filters, 1, strides, f"{name}_0_conv")
    else:
        shortcut = x  # the pure identity path of the second paper
    if bottleneck:
        y = _conv(preact, filters, 1, 1, f"{name}_1_conv")
        y = _conv(_relu(_bn(y, f"{name}_1_bn"), f"{name}_1_relu"), filters, 3, strides, f"{name}_2_conv")
        y = _conv(_relu(_bn(y, f"{name}_2_bn"), f"{name}_2_relu"), out_filters, 1, 1, f"{name}_3_conv")
    else:
        y = _conv(preact, filters, 3, strides, f"{name}_1_conv")
        y = _conv(_relu(_bn(y, f"{name}_1_bn"), f"{name}_1_relu"), filters, 3, 1, f"{name}_2_conv")
    return keras.layers.Add(name=f"{name}_out")([shortcut, y])  # x_{l+1} = x_l + F(f̂(x_l))


def _check_resnet(name, depth, stackwise_num_filters, stem_filters):
    if depth not in DEPTHS:
        fail(name, "depth", depth, "one of " + ", ".join(str(d) for d in DEPTHS))
    check_length(name, "stackwise_num_filters", stackwise_num_filters, 4)
    check_positive(name, "stackwise_num_filters", stackwise_num_filters)
    check_positive(name, "stem_filters", stem_filters)


def ResNet(
    *,
    depth: int = 50,
    preactivation: bool = False,
    stackwise_num_filters: tuple[int, ...] = (64, 128, 256, 512),
    stem_filters: int = 64,
    input_shape: tuple[int | None, ...] = (224, 224, 3),
    include_top: bool = True,
    num_classes: int = 1000,
    pooling: Literal["avg", "max"] | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "resnet50",
):
    """ImageNet ResNet of Table 1 (`preactivation=False`) or its pre-activation form (`True`)."""
    _check_resnet(name, depth, stackwise_num_filters, stem_filters)
    check_image_config(name, input_shape=input_shape, downsampling=DOWNSAMPLING, include_top=include_top,
                       num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation)
    blocks, bottleneck = DEPTHS[depth]

    inputs = image_input(input_shape)
    x = _conv(inputs, stem_filters, 7, 2, "conv1_conv")  # (B, 112, 112, 64)
    x = _relu(_bn(x, "conv1_bn"), "conv1_relu")
    # Zero padding equals the paper's max-pooling padding here because the input is >= 0 (after ReLU).
    x = keras.layers.ZeroPadding2D(1, name="pool1_pad")(x)
    x = keras.layers.MaxPooling2D(3, 2, name="pool1_pool")(x)  # (B, 56, 56, 64)
    for stage, (num_blocks, filters) in enumerate(zip(blocks, stackwise_num_filters), 2):
        for i in range(1, num_blocks + 1):
            strides = 2 if i == 1 and stage > 2 else 1  # conv3_1, conv4_1, conv5_1 downsample
            label = f"conv{stage}_block{i}"
            if preactivation:
                x = _block_v2(x, filters, strides, bottleneck, label, preactivate=(stage, i) != (2, 1))
            else:
                x = _block_v1(x, filters, strides, bottleneck, label)
    if preactivation:
        x = _relu(_bn(x, "post_bn"), "post_relu")
    outputs = pooled_classifier(x, include_top=include_top, num_classes=num_classes, pooling=pooling,
                                classifier_activation=classifier_activation)
    return keras.Model(inputs, outputs, name=name)


# ----------------------------------------------------------------------------------------------------
# CIFAR (§4.2): 6n+2 layers, option-A shortcuts.


@keras.saving.register_keras_serializable(package="keras_landmarks")
class ZeroPadShortcut(keras.layers.Layer):
    """Option A shortcut (§3.3): identity, subsampled by `strides`, with zero channels appended.

    $$W_s x = [\\,x_{::s,\\,::s};\\; 0\\,]$$ — parameter-free.
    """

    def __init__(self, filters, strides=2, **kwargs):
        super().__init__(**kwargs)
        self.filters = int(filters)
        self.strides = int(strides)

    def call(self, inputs):
        x = inputs[:, :: self.strides, :: self.strides, :]  # (B, H/s, W/s, C)
        extra = self.filters - inputs.shape[-1]
        return ops.pad(x, [[0, 0], [0, 0], [0, 0], [0, extra]])  # (B, H/s, W/s, filters)

    def compute_output_shape(self, input_shape):
        side = [None if s is None else -(-s // self.strides) for s in input_shape[1:3]]
        return (input_shape[0], *side, self.filters)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "strides": self.strides}


def _cifar_block(x, filters, strides, shortcuts, name):
    y = _relu(_bn(_conv(x, filters, 3, strides, f"{name}_1_conv"), f"{name}_1_bn"), f"{name}_1_relu")
    y = _bn(_conv(y, filters, 3, 1, f"{name}_2_conv"), f"{name}_2_bn")
    if shortcuts:
        shortcut = x
        if strides != 1 or x.shape[-1] != filters:
            shortcut = ZeroPadShortcut(filters, strides, name=f"{name}_shortcut")(x)
        y = keras.layers.Add(name=f"{name}_add")([shortcut, y])
    return _relu(y, f"{name}_out")


def CifarResNet(
    *,
    depth: int = 20,
    shortcuts: bool = True,
    stackwise_num_filters: tuple[int, ...] = (16, 32, 64),
    input_shape: tuple[int | None, ...] = (32, 32, 3),
    include_top: bool = True,
    num_classes: int = 10,
    pooling: Literal["avg", "max"] | None = None,
    classifier_activation: str | None = "softmax",
    name: str = "resnet20",
):
    """The CIFAR-10 networks of §4.2: `depth` = 6n + 2; `shortcuts=False` gives the plain net."""
    if depth < 8 or (depth - 2) % 6:
        fail(name, "depth", depth, "6n + 2 for n >= 1 (20, 32, 44, 56, 110, ...)")
    check_length(name, "stackwise_num_filters", stackwise_num_filters, 3)
    check_positive(name, "stackwise_num_filters", stackwise_num_filters)
    check_image_config(name, input_shape=input_shape, downsampling=CIFAR_DOWNSAMPLING, include_top=include_top,
                       num_classes=num_classes, pooling=pooling, classifier_activation=classifier_activation)
    n = (depth - 2) // 6

    inputs = image_input(input_shape)
    x = _relu(_bn(_conv(inputs, stackwise_num_filters[0], 3, 1, "conv1_conv"), "conv1_bn"), "conv1_relu")
    for stage, filters in enumerate(stackwise_num_filters, 2):
        for i in range(1, n + 1):
            strides = 2 if i == 1 and stage > 2 else 1  # 32×32 → 16×16 → 8×8
            x = _cifar_block(x, filters, strides, shortcuts, f"conv{stage}_block{i}")
    outputs = pooled_classifier(x, include_top=include_top, num_classes=num_classes, pooling=pooling,
                                classifier_activation=classifier_activation)
    return keras.Model(inputs, outputs, name=name)


# ----------------------------------------------------------------------------------------------------
# Variants.

_V1_PARAMS = {18: 11_689_512, 34: 21_797_672, 50: 25_557_032, 101: 44_549_160, 152: 60_192_808}
# v1 minus the BatchNorm channels pre-activation removes: 896 channels (basic), 3,840 (bottleneck), × 2.
_V2_PARAMS = {18: 11_687_720, 34: 21_795_880, 50: 25_549_352, 101: 44_541_480, 152: 60_185_128}
_SMALL = {"input_shape": (32, 32, 3), "stackwise_num_filters": (4, 4, 8, 8), "stem_filters": 4, "num_classes": 5}

for _depth in DEPTHS:
    register(
        f"resnet{_depth}",
        aliases=("resnet",) if _depth == 50 else (),
        family="resnet",
        builder=ResNet,
        paper=PAPER_V1,
        config={"depth": _depth, "name": f"resnet{_depth}"},
        params=_V1_PARAMS[_depth],
        params_source=f"Table 1, {_depth}-layer, option B shortcuts, no convolution bias, 1000 classes "
        "(the same count as torchvision's resnet" + str(_depth) + ")",
        task="image_classification",
        io=lambda c: image_io(c, DOWNSAMPLING, c["stackwise_num_filters"][-1] * (4 if DEPTHS[c["depth"]][1] else 1)),
        test_config=_SMALL,
        description="Residual learning with identity / projection shortcuts.",
        training=lambda c: IMAGENET_RECIPE,
    )
    register(
        f"resnet{_depth}_v2",
        family="resnet",
        builder=ResNet,
        paper=PAPER_V2,
        config={"depth": _depth, "preactivation": True, "name": f"resnet{_depth}_v2"},
        params=_V2_PARAMS[_depth],
        params_source=f"Our count: Table 1 widths, {_depth} layers, full pre-activation blocks (Fig. 4e), "
        "no convolution bias, 1000 classes; BN moves before each convolution and one BN follows the last "
        "block, so it differs from v1 only in BatchNorm gamma/beta (v1 minus 896 channels for basic "
        "blocks, 3,840 for bottlenecks, two parameters each).",
        task="image_classification",
        io=lambda c: image_io(c, DOWNSAMPLING, c["stackwise_num_filters"][-1] * (4 if DEPTHS[c["depth"]][1] else 1)),
        test_config=_SMALL,
        description="Pre-activation residual network: BN-ReLU before each convolution, pure identity path.",
        training=lambda c: IMAGENET_RECIPE,
    )

# §3.4: SGD, mini-batch 256, learning rate 0.1 divided by 10 when the error plateaus, weight decay 1e-4,
# momentum 0.9, up to 60×10⁴ iterations; the plateaus at the usual epochs 30 and 60 of 90.
IMAGENET_RECIPE = Recipe(optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4, schedule="steps",
                         boundaries=(1 / 3, 2 / 3), batch_size=256, epochs=90,
                         source="He et al. 2016, §3.4: SGD 0.1 (÷10 at plateaus, here at 1/3 and 2/3 of the run), "
                         "momentum 0.9, weight decay 1e-4 (Keras's decoupled form), batch 256")
# §4.2: SGD 0.1, ÷10 at 32k and 48k iterations, stop at 64k; weight decay 1e-4, momentum 0.9, batch 128
# (ResNet-110's 0.01 warm-up until training error < 80% is not applied).
CIFAR_RECIPE = Recipe(optimizer="sgd", learning_rate=0.1, momentum=0.9, weight_decay=1e-4, schedule="steps",
                      boundaries=(0.5, 0.75), batch_size=128, epochs=182,
                      source="He et al. 2016, §4.2: SGD 0.1, ÷10 at 32k and 48k of 64k iterations (1/2 and 3/4 of "
                      "the run), momentum 0.9, weight decay 1e-4 (Keras's decoupled form), batch 128; "
                      "ResNet-110's 0.01 warm-up is not applied")

_CIFAR_PARAMS = {20: 269_722, 32: 464_154, 44: 658_586, 56: 853_018, 110: 1_727_962}
for _depth, _params in _CIFAR_PARAMS.items():
    for _shortcuts in (True, False):
        if not _shortcuts and _depth == 110:
            continue  # the paper compares plain nets of 20-56 layers (Figure 6)
        _name = f"{'resnet' if _shortcuts else 'plain'}{_depth}"
        register(
            _name,
            family="resnet_cifar",
            builder=CifarResNet,
            paper=PAPER_V1,
            config={"depth": _depth, "shortcuts": _shortcuts, "name": _name},
            params=_params,
            params_source=f"§4.2, 6n+2 = {_depth}, option A shortcuts (no parameters), 10 classes; Table 6 "
            "lists 0.27M / 0.46M / 0.66M / 0.85M / 1.7M for 20 / 32 / 44 / 56 / 110 layers."
            + ("" if _shortcuts else " The plain net has the same parameters as its residual twin."),
            task="image_classification",
            io=lambda c: image_io(c, CIFAR_DOWNSAMPLING, c["stackwise_num_filters"][-1]),
            # Plain nets keep the paper's widths: at 4-8 filters the untrained 56-layer plain net's signal
            # vanishes (output scale ~1e-4, the degradation of §4.2) and float rounding dominates it.
            test_config={"stackwise_num_filters": (4, 8, 8), "num_classes": 5} if _shortcuts else {"num_classes": 5},
            description="CIFAR-10 " + ("residual" if _shortcuts else "plain (no shortcuts)") + f" net, {_depth} layers.",
            training=lambda c: CIFAR_RECIPE,
        )
