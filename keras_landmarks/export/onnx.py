"""ONNX conversion through tf2onnx, with the model's own output names, and an onnxruntime runner.

The model's variables are passed to the traced function as inputs (`keras.Model.stateless_call`), so
tf2onnx converts a graph that holds no weights, and they are attached afterwards as initializers,
once. Freezing them into graph constants instead, as `model.export(format="onnx")` does, took tf2onnx
past 24 GB for VGG-19's 575 MB of weights on a 24 GB machine (killed); this way the whole ONNX step
peaks near 5.5 GB. onnxruntime's basic optimizations (hardware-independent: constant folding,
redundant-node elimination) then fold the layout transposes tf2onnx places on the weight inputs, and
the folded graph is what is returned.
"""

import os
import tempfile

import numpy as np

from keras_landmarks._quiet import native_output_muted
from keras_landmarks.errors import ExportError
from keras_landmarks.export.signature import feed_inputs, input_specs, output_names

DEFAULT_OPSET = 17
_WEIGHT = "keras_landmarks_weight_"


def _rename_outputs(proto, names):
    """tf2onnx names outputs after graph nodes (`Identity:0`); give them the model's names."""
    graph = proto.graph
    renames = {out.name: new for out, new in zip(graph.output, names)}
    for node in graph.node:
        node.output[:] = [renames.get(n, n) for n in node.output]
        node.input[:] = [renames.get(n, n) for n in node.input]
    for out in graph.output:
        out.name = renames.get(out.name, out.name)


def _weightless_function(model, batch_size):
    """A tf.function of (inputs..., variables...) and its input signature."""
    import tensorflow as tf

    trainable, non_trainable = list(model.trainable_variables), list(model.non_trainable_variables)
    specs = list(input_specs(model, batch_size).values())
    names = [s.name for s in specs]
    weight_specs = [tf.TensorSpec(v.shape, v.dtype, name=f"{_WEIGHT}{i}") for i, v in enumerate(trainable + non_trainable)]
    outs = output_names(model)

    def serve(*args):
        inputs, weights = dict(zip(names, args[: len(names)])), list(args[len(names) :])
        result, _ = model.stateless_call(weights[: len(trainable)], weights[len(trainable) :], feed_inputs(model, inputs),
                                         training=False)
        if isinstance(result, dict):
            return {k: result[k] for k in outs}
        return dict(zip(outs, result if isinstance(result, (list, tuple)) else [result]))

    signature = specs + weight_specs
    return tf.function(serve, input_signature=signature, autograph=False), signature, trainable + non_trainable


def convert_onnx(model, opset=DEFAULT_OPSET, batch_size=None):
    """Convert `model` to an `onnx.ModelProto` (dynamic batch unless `batch_size`), checked by `onnx.checker`."""
    import onnx
    from onnx import numpy_helper

    with native_output_muted():
        import onnxruntime as ort
        import tf2onnx
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        patch_tf2onnx()  # Keras's own fix-up of tf2onnx 1.17 for NumPy 2 (idempotent)
    fn, signature, variables = _weightless_function(model, batch_size)
    try:
        with native_output_muted():
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {str(error).strip().splitlines()[0]}") from error
    # The variables become initializers: stored once, no longer inputs.
    graph_inputs = {i.name for i in proto.graph.input}
    for index, variable in enumerate(variables):
        name = f"{_WEIGHT}{index}"
        if name in graph_inputs:
            proto.graph.initializer.append(numpy_helper.from_array(np.asarray(variable.numpy()), name=name))
    kept = [i for i in proto.graph.input if not i.name.startswith(_WEIGHT)]
    del proto.graph.input[:]
    proto.graph.input.extend(kept)
    # The serving function returns a dict, which TensorFlow flattens in sorted key order.
    _rename_outputs(proto, sorted(output_names(model)))
    with tempfile.TemporaryDirectory(prefix="keras_landmarks_onnx_") as tmp:
        raw, folded = os.path.join(tmp, "raw.onnx"), os.path.join(tmp, "folded.onnx")
        onnx.save(proto, raw)
        del proto
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
        options.optimized_model_filepath = folded
        try:
            with native_output_muted():
                ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ExportError(f"onnxruntime cannot load the converted model: {str(error).splitlines()[0]}") from error
        try:
            onnx.checker.check_model(folded)
        except onnx.checker.ValidationError as error:
            raise ExportError(f"The ONNX graph fails onnx.checker: {str(error).splitlines()[0]}") from error
        return onnx.load(folded)


class OnnxRunner:
    """Runs an ONNX model in onnxruntime with named inputs; returns {output name: array}."""

    def __init__(self, model, num_threads=None):
        """`model`: an `onnx.ModelProto` or the path of an .onnx file."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = num_threads
        content = model.SerializeToString() if hasattr(model, "SerializeToString") else str(model)
        try:
            self.session = ort.InferenceSession(content, options, providers=["CPUExecutionProvider"])
        except Exception as error:
            raise ExportError(f"onnxruntime cannot load the model: {str(error).splitlines()[0]}") from error
        self.output_names = [o.name for o in self.session.get_outputs()]

    def __call__(self, inputs):
        values = self.session.run(self.output_names, {k: np.asarray(v) for k, v in inputs.items()})
        return dict(zip(self.output_names, values))
