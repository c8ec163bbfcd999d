"""Pieces the fully connected landmarks share: a flat input, a softmax output, the I/O spec."""

import keras

from keras_landmarks.config import check_activation, check_positive

INPUT_NAME = "inputs"


def check_mlp_config(model, *, num_layers, hidden_dim, input_dim, num_classes, classifier_activation):
    check_positive(model, "num_layers", num_layers)
    check_positive(model, "hidden_dim", hidden_dim)
    check_positive(model, "input_dim", input_dim)
    check_positive(model, "num_classes", num_classes)
    if classifier_activation is not None:
        check_activation(model, "classifier_activation", classifier_activation)


def mlp_input(input_dim):
    return keras.Input(shape=(input_dim,), name=INPUT_NAME)


def mlp_io(config):
    return {
        "inputs": {INPUT_NAME: (None, config["input_dim"])},
        "outputs": {"predictions": (None, config["num_classes"])},
    }


MLP_TEST_CONFIG = {"input_dim": 12, "hidden_dim": 8, "num_layers": 3, "num_classes": 4}
