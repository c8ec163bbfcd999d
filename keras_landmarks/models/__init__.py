"""One module per paper family; importing this package registers every model."""

from keras_landmarks.models import (  # noqa: F401
    alexnet,
    dropout,
    glorot,
    highway,
    inception,
    lenet,
    resnet,
    selu,
    vgg,
)
