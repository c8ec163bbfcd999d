"""The serving function every artifact is converted from.

A Keras model's inputs become named `tf.TensorSpec`s with a dynamic batch dimension (and the dynamic
dimensions the model already has, such as a token model's sequence length); its outputs become a dict
keyed by the model's own output names. SavedModel signatures, TFLite signature runners and ONNX graphs
made from it therefore use the model's names, never `output_0`.
"""

import numpy as np


def input_specs(model, batch_size=None, sequence_length=None):
    """{input name: tf.TensorSpec} with the batch dimension set to `batch_size` (None: dynamic) and the
    other dynamic dimensions (a token model's sequence length) to `sequence_length` (None: dynamic)."""
    import tensorflow as tf

    return {
        t.name: tf.TensorSpec([batch_size, *(sequence_length if d is None else d for d in t.shape[1:])],
                              tf.as_dtype(t.dtype), name=t.name)
        for t in model.inputs
    }


def output_names(model):
    """The model's output names: the keys of a dict of outputs, else the output layers' names."""
    structure = getattr(model, "output", None)
    if isinstance(structure, dict):
        return list(structure)
    return list(model.output_names)


def serving_function(model, batch_size=None, sequence_length=None):
    """A `tf.function` taking the model's inputs as named positional tensors, returning a dict."""
    import tensorflow as tf

    specs = input_specs(model, batch_size, sequence_length)
    names = list(specs)

    def serve(*args):
        return output_dict(model, model(feed_inputs(model, dict(zip(names, args))), training=False))

    return tf.function(serve, input_signature=list(specs.values()), autograph=False)


def output_dict(model, result):
    """A model call's result as {output name: tensor}, whatever structure the model returns."""
    outs = output_names(model)
    if isinstance(result, dict):
        return {k: result[k] for k in outs}
    return dict(zip(outs, result if isinstance(result, (list, tuple)) else [result]))


def stateless_outputs(model, weights, inputs):
    """{output name: tensor} of the model run on `inputs` with `weights` (one value per variable, in
    `model.trainable_variables + model.non_trainable_variables` order) in place of its variables."""
    count = len(model.trainable_variables)
    result, _ = model.stateless_call(weights[:count], weights[count:], feed_inputs(model, inputs), training=False)
    return output_dict(model, result)


def variable_bytes(variables):
    """The bytes the variables' values take."""
    import keras

    return sum(int(np.prod(v.shape)) * np.dtype(keras.backend.standardize_dtype(v.dtype)).itemsize
               for v in variables)


def feed_inputs(model, inputs):
    """{input name: value} in the structure the model was built with (dict, list or single tensor)."""
    structure = getattr(model, "input", None)
    if isinstance(structure, dict):
        return {name: inputs[name] for name in structure}
    names = [t.name for t in model.inputs]
    return inputs[names[0]] if len(names) == 1 else [inputs[n] for n in names]


def keras_outputs(model, inputs):
    """Run the Keras model in inference mode on {input name: value}; {output name: np.ndarray}."""
    return {k: np.asarray(v) for k, v in output_dict(model, model(feed_inputs(model, inputs), training=False)).items()}


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|: the error on the scale of the output."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-12)
    return float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0
