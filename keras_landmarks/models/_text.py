"""Pieces the token models share: named int32 inputs with a dynamic sequence length, and checks."""

import keras

from keras_landmarks.config import check_positive, check_rate, fail


def token_input(name):
    return keras.Input(shape=(None,), dtype="int32", name=name)


def check_transformer_config(model, *, vocabulary_size, num_layers, num_heads, hidden_dim, intermediate_dim,
                             dropout, max_sequence_length=None):
    for key, value in (("vocabulary_size", vocabulary_size), ("num_layers", num_layers), ("num_heads", num_heads),
                       ("hidden_dim", hidden_dim), ("intermediate_dim", intermediate_dim)):
        check_positive(model, key, value)
    if max_sequence_length is not None:
        check_positive(model, "max_sequence_length", max_sequence_length)
    check_rate(model, "dropout", dropout)
    if hidden_dim % num_heads:
        fail(model, "num_heads", num_heads, f"a divisor of hidden_dim={hidden_dim}")


def init(stddev):
    return keras.initializers.TruncatedNormal(stddev=stddev)


TOKEN_TEST_CONFIG = {"vocabulary_size": 50, "num_layers": 2, "num_heads": 2, "hidden_dim": 8, "intermediate_dim": 16}
