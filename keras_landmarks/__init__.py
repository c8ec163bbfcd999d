"""keras_landmarks: the landmark deep-learning papers of 2010-2019 as faithful Keras models.

    import keras_landmarks
    model = keras_landmarks.build("resnet50")
    keras_landmarks.info("resnet50")["paper"]
"""

import os as _os

from keras_landmarks._quiet import quiet_tensorflow_import as _quiet_tensorflow_import

_os.environ.setdefault("KERAS_BACKEND", "tensorflow")

with _quiet_tensorflow_import():
    import keras  # noqa: F401

from keras_landmarks import layers, models  # noqa: E402,F401  (importing models fills the registry)
from keras_landmarks.errors import ConfigError, ExportError, UnknownModelError  # noqa: E402
from keras_landmarks.registry import build, info, list_models  # noqa: E402

__version__ = "0.1.0"

__all__ = ["build", "list_models", "info", "UnknownModelError", "ConfigError", "ExportError", "__version__"]
