"""keras_landmarks: the landmark deep-learning papers of 2010-2019 as faithful Keras models.

    import keras_landmarks
    model = keras_landmarks.build("resnet50")
    keras_landmarks.info("resnet50")["paper"]
    keras_landmarks.train("lenet5", "digits", epochs=3)     # a run folder with lenet5.keras

Importing the package imports Keras, registers every model and every custom layer (so `.keras` files
that use them load). Inside the `keras-landmarks` command only, that happens at the first use of
something that needs it, so `--help`, `list` and option errors answer without importing TensorFlow.
"""

import importlib as _importlib
import os as _os

from keras_landmarks._quiet import _cli_process, quiet_tensorflow_import as _quiet_tensorflow_import
from keras_landmarks.errors import ConfigError, ExportError, UnknownModelError

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

__version__ = "0.1.0"

__all__ = ["build", "list_models", "info", "train", "UnknownModelError", "ConfigError", "ExportError", "__version__"]

_LOADED = ("build", "info", "list_models", "train", "layers", "models")


def _load():
    """Import Keras, the layers and every model family (which fills the registry)."""
    with _quiet_tensorflow_import():
        import keras  # noqa: F401

    layers = _importlib.import_module("keras_landmarks.layers")  # not `from . import`: that would ask __getattr__
    models = _importlib.import_module("keras_landmarks.models")  # importing the families fills the registry
    registry = _importlib.import_module("keras_landmarks.registry")
    training = _importlib.import_module("keras_landmarks.training")
    globals().update(build=registry.build, info=registry.info, list_models=registry.list_models, layers=layers,
                     models=models, train=training.train)


def __getattr__(name):
    if name in _LOADED:
        _load()
        return globals()[name]
    raise AttributeError(f"module 'keras_landmarks' has no attribute {name!r}")


if not _cli_process():
    _load()
