"""ONNX conversion through tf2onnx, with the model's own output names, and an onnxruntime runner."""

import numpy as np

from keras_landmarks._quiet import native_output_muted
from keras_landmarks.errors import ExportError
from keras_landmarks.export.signature import input_specs, output_names, serving_function

DEFAULT_OPSET = 17


def _rename_outputs(proto, names):
    """tf2onnx names outputs after graph nodes (`Identity:0`); give them the model's names."""
    graph = proto.graph
    renames = {out.name: new for out, new in zip(graph.output, names)}
    for node in graph.node:
        node.output[:] = [renames.get(n, n) for n in node.output]
        node.input[:] = [renames.get(n, n) for n in node.input]
    for out in graph.output:
        out.name = renames.get(out.name, out.name)


def convert_onnx(model, opset=DEFAULT_OPSET, batch_size=None):
    """Convert `model` to an `onnx.ModelProto` (dynamic batch unless `batch_size`), checked by `onnx.checker`."""
    import onnx

    with native_output_muted():
        import tf2onnx
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

    with native_output_muted():
        patch_tf2onnx()  # Keras's own fix-up of tf2onnx 1.17 for NumPy 2 (idempotent)
    fn = serving_function(model, batch_size)
    specs = list(input_specs(model, batch_size).values())
    try:
        with native_output_muted():
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=specs, opset=opset)
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {str(error).strip().splitlines()[0]}") from error
    # The serving function returns a dict, which TensorFlow flattens in sorted key order.
    _rename_outputs(proto, sorted(output_names(model)))
    try:
        onnx.checker.check_model(proto)
    except onnx.checker.ValidationError as error:
        raise ExportError(f"The ONNX graph fails onnx.checker: {str(error).splitlines()[0]}") from error
    return proto


class OnnxRunner:
    """Runs an ONNX model in onnxruntime with named inputs; returns {output name: array}."""

    def __init__(self, model, num_threads=None):
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
