"""Layers the landmark papers need, written in `keras.ops` and registered for serialization."""

from keras_landmarks.layers.normalization import LocalResponseNormalization

__all__ = ["LocalResponseNormalization"]
