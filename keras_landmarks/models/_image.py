"""Pieces every image classifier shares: the input, keras.applications-style heads, the I/O spec.

Heads follow keras.applications: with `include_top=True` the paper's classifier ends in a Dense layer
named `predictions`; with `include_top=False` the output is named `features` and is the last feature
map (`pooling=None`) or its global average / max (`pooling="avg"` / `"max"`).
"""

import keras

from keras_landmarks.config import _downsampled, check_head, check_image_input

INPUT_NAME = "images"


def image_input(input_shape):
    return keras.Input(shape=tuple(input_shape), name=INPUT_NAME)


def check_image_config(model, *, input_shape, downsampling, include_top, num_classes, pooling,
                       classifier_activation, flattens=False):
    """The checks every image builder runs before building anything."""
    check_head(model, include_top=include_top, num_classes=num_classes, pooling=pooling,
               classifier_activation=classifier_activation)
    check_image_input(model, input_shape, downsampling, fixed=flattens and include_top)


def features(x, pooling):
    """The `include_top=False` output: the feature map, or its global pooling."""
    if pooling == "avg":
        return keras.layers.GlobalAveragePooling2D(name="features")(x)
    if pooling == "max":
        return keras.layers.GlobalMaxPooling2D(name="features")(x)
    return keras.layers.Identity(name="features")(x)


def pooled_classifier(x, *, include_top, num_classes, pooling, classifier_activation, dropout=0.0):
    """Global average pooling then one linear classifier (GoogLeNet, ResNet)."""
    if not include_top:
        return features(x, pooling)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout:
        x = keras.layers.Dropout(dropout, name="top_dropout")(x)
    return keras.layers.Dense(num_classes, activation=classifier_activation, name="predictions")(x)


def image_io(config, downsampling, channels, extra_outputs=None):
    """The I/O spec of an image classifier, from its config, downsampling chain and last width."""
    height, width, chans = config["input_shape"]
    if config.get("include_top", True):
        outputs = {"predictions": (None, config["num_classes"])}
    elif config.get("pooling"):
        outputs = {"features": (None, channels)}
    else:
        side = [None if s is None else _downsampled(s, downsampling) for s in (height, width)]
        outputs = {"features": (None, *side, channels)}
    outputs.update(extra_outputs or {})
    return {"inputs": {INPUT_NAME: (None, height, width, chans)}, "outputs": outputs}
