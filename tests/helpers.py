"""Helpers shared by the tests."""

from keras_landmarks.inputs import sample_inputs as random_inputs  # noqa: F401
from keras_landmarks.export.signature import feed_inputs
from keras_landmarks.registry import get_spec


def feed(model, data):
    """`data` in the structure the model was built with."""
    return feed_inputs(model, data)


def tiny_model(name, **overrides):
    from keras_landmarks import build

    return build(name, **{**get_spec(name).test_config, **overrides})


def served_greedy_tokens(model, prompt, new_tokens, folder):
    """The tokens the SavedModel of `model` (converted into `folder`) generates greedily from `prompt`
    through its `generate` signature, after checking that the export lists that signature."""
    import numpy as np
    import tensorflow as tf

    from keras_landmarks.export import convert

    manifest = convert(model, formats=("saved_model",), out=folder, progress=False)
    assert manifest["artifacts"][0]["signatures"] == ["serving_default", "generate"]
    loaded = tf.saved_model.load(str(folder / model.name / "saved_model" / "1"))
    served = loaded.signatures["generate"](prompt_ids=tf.constant(prompt), max_new_tokens=tf.constant(new_tokens),
                                           temperature=tf.constant(1.0), top_k=tf.constant(1),
                                           seed=tf.constant([0] * len(prompt)))
    return np.asarray(served["token_ids"])
