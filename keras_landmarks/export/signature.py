"""The serving function every artifact is converted from.

A Keras model's inputs become named `tf.TensorSpec`s with a dynamic batch dimension (and the dynamic
dimensions the model already has, such as a token model's sequence length); its outputs become a dict
keyed by the model's own output names. SavedModel signatures, TFLite signature runners and ONNX graphs
made from it therefore use the model's names, never `output_0`.
"""

import numpy as np


def input_specs(model, batch_size=None):
    """{input name: tf.TensorSpec} with the batch dimension set to `batch_size` (None: dynamic)."""
    import tensorflow as tf

    return {
        t.name: tf.TensorSpec([batch_size, *t.shape[1:]], tf.as_dtype(t.dtype), name=t.name)
        for t in model.inputs
    }


def output_names(model):
    """The model's output names: the keys of a dict of outputs, else the output layers' names."""
    structure = getattr(model, "output", None)
    if isinstance(structure, dict):
        return list(structure)
    return list(model.output_names)


def serving_function(model, batch_size=None):
    """A `tf.function` taking the model's inputs as named positional tensors, returning a dict."""
    import tensorflow as tf

    specs = input_specs(model, batch_size)
    names = list(specs)
    outs = output_names(model)

    def serve(*args):
        result = model(feed_inputs(model, dict(zip(names, args))), training=False)
        if isinstance(result, dict):
            return {k: result[k] for k in outs}
        result = result if isinstance(result, (list, tuple)) else [result]
        return dict(zip(outs, result))

    return tf.function(serve, input_signature=list(specs.values()), autograph=False)


def feed_inputs(model, inputs):
    """{input name: value} in the structure the model was built with (dict, list or single tensor)."""
    structure = getattr(model, "input", None)
    if isinstance(structure, dict):
        return {name: inputs[name] for name in structure}
    names = [t.name for t in model.inputs]
    return inputs[names[0]] if len(names) == 1 else [inputs[n] for n in names]


def keras_outputs(model, inputs):
    """Run the Keras model in inference mode on {input name: value}; {output name: np.ndarray}."""
    result = model(feed_inputs(model, inputs), training=False)
    if isinstance(result, dict):
        return {k: np.asarray(result[k]) for k in output_names(model)}
    result = result if isinstance(result, (list, tuple)) else [result]
    return {k: np.asarray(v) for k, v in zip(output_names(model), result)}


def relative_error(actual, expected):
    """max |actual - expected| / max |expected|: the error on the scale of the output."""
    actual = np.asarray(actual, np.float64)
    expected = np.asarray(expected, np.float64)
    if actual.shape != expected.shape:
        return float("inf")
    scale = max(float(np.max(np.abs(expected))) if expected.size else 0.0, 1e-12)
    return float(np.max(np.abs(actual - expected))) / scale if expected.size else 0.0
