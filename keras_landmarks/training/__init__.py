"""Training: registry models on the package's datasets, with checkpoints that resume bit for bit.

`train(model, data, ...)` (the `keras-landmarks train` command) runs Keras's `fit` with the model's
recipe (`Recipe`: its paper's optimizer and schedule where the registry records them), writes a run
folder whose `<model>.keras` is the input of `keras-landmarks convert`, and continues a killed run with
`resume=True`. See `loop.py` for the run folder and `data.py` for how images meet the model's input.
"""

from keras_landmarks.training.data import Preprocessing, Stream
from keras_landmarks.training.loop import PRECISIONS, STRATEGIES, train
from keras_landmarks.training.recipe import OPTIMIZERS, SCHEDULES, Recipe, default_recipe

__all__ = ["OPTIMIZERS", "PRECISIONS", "Preprocessing", "Recipe", "SCHEDULES", "STRATEGIES", "Stream",
           "default_recipe", "train"]
