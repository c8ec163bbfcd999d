"""One module per paper family; importing this package registers every model."""

from keras_landmarks.models import (  # noqa: F401
    alexnet,
    bert,
    dropout,
    elmo,
    gan,
    glorot,
    gpt,
    highway,
    inception,
    lenet,
    lstm,
    nnlm,
    resnet,
    rnnsearch,
    selu,
    stylegan,
    transformer,
    vae,
    vgg,
    word2vec,
)
