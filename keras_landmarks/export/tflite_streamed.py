"""Float TFLite conversion for models whose weights do not fit the TFLite converter's memory.

The TFLite converter holds four to five copies of a model's float32 weights (measured: 15.1 GB for
GPT-2 large's 3.1 GB), so GPT-2 XL's 6.2 GB would need ~29 GB. This module converts the same graph
with every weight replaced by a constant fill, `tf.fill(shape, m_i)`, with a distinct marker value
`m_i` per variable: the converter folds each fill into a splat constant, which costs it nothing until
the flatbuffer is written (once: about two copies of the weights at the end, with the Python bytes).
The file is written with buffer offsets (weights after the flatbuffer), each weight buffer is
identified by its marker, and the real weights are read one variable at a time from the SavedModel's
checkpoint and written over it in place, in the layout the converter chose for that tensor:

    FULLY_CONNECTED weights:  W_tflite = reshape(W_keras, [in, out])^T   ([out, in])
    CONV_2D filters:          W_tflite = transpose(W_keras, [3, 0, 1, 2]) ([out, h, w, in])
    DEPTHWISE_CONV_2D:        W_tflite = reshape(W_keras, [1, h, w, in * multiplier])
    anything else:            W_tflite = reshape(W_keras, shape_tflite)

A buffer whose layout cannot be derived is an error; the conversion's parity gate checks the result
like any other artifact. Float32 only: quantized variants need the converter to see real weights.
"""

import json
import mmap
import os
import pathlib

import numpy as np

from keras_landmarks.errors import ExportError

_FLOAT32 = 0  # TensorType.FLOAT32 in the TFLite schema


def marker_values(count):
    """Distinct float32 marker values in [0.25, 0.75): never 0 or 1, which the converter simplifies."""
    if count >= 8192:
        raise ExportError(f"Too many variables ({count}) for distinct weight markers (at most 8191).")
    return [float(np.float32(0.25 + (i + 1) / 16384.0)) for i in range(count)]


def write_marker_saved_model(model, path, batch_size=None, sequence_length=None):
    """A SavedModel whose `serving_default` is the model's with every float32 weight a constant fill.

    Returns {checkpoint index (position in `model.variables`): marker value}."""
    import tensorflow as tf

    from keras_landmarks.export.signature import input_specs, stateless_outputs

    variables = list(model.variables)
    markers = dict(zip(range(len(variables)), marker_values(len(variables))))
    index = {id(v): i for i, v in enumerate(variables)}
    ordered = list(model.trainable_variables) + list(model.non_trainable_variables)
    specs = input_specs(model, batch_size, sequence_length)
    names = list(specs)

    # Integer state (seed generators) is small and kept as it is.
    constants = {id(v): np.asarray(v.numpy()) for v in variables if v.dtype != "float32"}

    def weight(variable):
        if variable.dtype == "float32":
            return tf.fill(tuple(variable.shape), tf.constant(markers[index[id(variable)]], tf.float32))
        return tf.constant(constants[id(variable)])

    def serve(*args):
        return stateless_outputs(model, [weight(v) for v in ordered], dict(zip(names, args)))

    function = tf.function(serve, input_signature=list(specs.values()), autograph=False)
    module = tf.Module()
    module.serve = function
    tf.saved_model.save(module, str(path), signatures={"serving_default": function.get_concrete_function()})
    return {i: m for i, m in markers.items() if variables[i].dtype == "float32"}


def convert_streamed(marker_saved_model, weights_saved_model, path, markers):
    """Convert the marker SavedModel to `path` and write the real weights (read from the checkpoint of
    `weights_saved_model`, written by `write_saved_model`) over the markers. Returns how many weight
    buffers were written."""
    import tensorflow as tf

    from keras_landmarks.export.tflite import _convert_saved_model

    # Buffer offsets: every weight after the flatbuffer, at an offset the file records.
    pathlib.Path(path).write_bytes(_convert_saved_model(marker_saved_model, "none", None, [], False,
                                                        buffer_offsets=True))
    reader = tf.train.load_checkpoint(os.path.join(str(weights_saved_model), "variables", "variables"))
    return _patch(path, markers, reader)


def _convert_in_child(marker_saved_model, weights_saved_model, path, markers_file):
    markers = {int(k): v for k, v in json.loads(pathlib.Path(markers_file).read_text()).items()}
    convert_streamed(marker_saved_model, weights_saved_model, path, markers)


def _operator_names(model):
    from tensorflow.lite.python import schema_py_generated as schema

    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    codes = []
    for i in range(model.OperatorCodesLength()):
        code = model.OperatorCodes(i)
        codes.append(names.get(max(code.BuiltinCode(), code.DeprecatedBuiltinCode()), "CUSTOM"))
    return codes


def layout(tflite_shape, keras_shape, consumers):
    """The function that turns a Keras weight into the tensor the converter made of it (or None)."""
    t, k = [int(d) for d in tflite_shape], [int(d) for d in keras_shape]
    if int(np.prod(t)) != int(np.prod(k)):
        return None
    if ("FULLY_CONNECTED", 1) in consumers and len(t) == 2:
        for j in range(1, len(k)):
            if int(np.prod(k[:j])) == t[1] and int(np.prod(k[j:])) == t[0]:
                return lambda w: w.reshape(t[1], t[0]).T
    if ("CONV_2D", 1) in consumers and len(k) == 4 and t == [k[3], k[0], k[1], k[2]]:
        return lambda w: w.transpose(3, 0, 1, 2)
    return lambda w: w.reshape(t)


def _patch(path, markers, reader):
    from tensorflow.lite.python import schema_py_generated as schema

    by_marker = {np.float32(m).tobytes(): i for i, m in markers.items()}
    patched = {}
    with open(path, "r+b") as handle, mmap.mmap(handle.fileno(), 0) as data:
        model = schema.Model.GetRootAs(data, 0)
        codes = _operator_names(model)
        consumers, tensors = {}, {}
        for s in range(model.SubgraphsLength()):
            graph = model.Subgraphs(s)
            for o in range(graph.OperatorsLength()):
                op = graph.Operators(o)
                for position in range(op.InputsLength()):
                    t = op.Inputs(position)
                    if t >= 0:
                        consumers.setdefault((s, t), set()).add((codes[op.OpcodeIndex()], position))
            for t in range(graph.TensorsLength()):
                tensor = graph.Tensors(t)
                buffer = model.Buffers(tensor.Buffer())
                tensors[(s, t)] = (tensor.Name().decode(), tensor.Type(), tensor.Buffer(), buffer.Offset(),
                                   buffer.Size(), [tensor.Shape(d) for d in range(tensor.ShapeLength())])
        del model
        for key, (name, dtype, buffer_index, offset, size, shape) in tensors.items():
            if dtype != _FLOAT32 or offset <= 1 or size < 8:
                continue
            index = by_marker.get(bytes(data[offset : offset + 4]))
            if index is None:
                continue
            if buffer_index in patched:
                if patched[buffer_index] != index:
                    raise ExportError("Two weights share one TFLite buffer; the streamed conversion cannot map them.")
                continue
            weight = reader.get_tensor(f"model_variables/{index}/.ATTRIBUTES/VARIABLE_VALUE")
            _write(data, offset, size, markers[index], index, buffer_index, name, shape, weight,
                   consumers.get(key, set()))
            patched[buffer_index] = index
        data.flush()
    missing = [i for i in markers if i not in patched.values()
               and reader.get_tensor(f"model_variables/{i}/.ATTRIBUTES/VARIABLE_VALUE").size > 1]
    if missing:
        raise ExportError(f"{len(missing)} weights (checkpoint indices {missing[:8]}{'…' if len(missing) > 8 else ''}) "
                          "have no TFLite buffer of their own: the converter folded them into other constants "
                          "(batch normalization into convolutions, for instance), which a streamed conversion "
                          "cannot write back.")
    return len(patched)


def _write(data, offset, size, marker, index, buffer_index, name, shape, weight, consumers):
    view = np.frombuffer(data, dtype=np.float32, count=size // 4, offset=offset)
    if not np.all(view == np.float32(marker)):
        raise ExportError(f"TFLite buffer {buffer_index} starts with weight {index}'s marker but holds other "
                          "values: the converter combined weights, which a streamed conversion cannot undo.")
    transform = layout(shape, weight.shape, consumers)
    if transform is None:
        raise ExportError(f"TFLite tensor {name!r} {shape} cannot hold weight {index} {list(weight.shape)}.")
    view[:] = np.ascontiguousarray(transform(weight.astype(np.float32))).ravel()


def convert_tflite_streamed_file(model, weights_saved_model, path, batch_size=None, isolate=True, sequence_length=None):
    """Write `model` as a float TFLite file at `path` with streamed weights (see the module docstring).

    `weights_saved_model` is the model's SavedModel written by `write_saved_model` (the weights are
    read from its checkpoint). With `isolate`, the conversion runs in a child process. Returns the
    child's peak resident memory in bytes with `isolate`, else None.
    """
    import tempfile

    path = pathlib.Path(path)
    with tempfile.TemporaryDirectory(prefix="keras_landmarks_streamed_", dir=path.parent) as tmp:
        marker_model = os.path.join(tmp, "markers_saved_model")
        markers = write_marker_saved_model(model, marker_model, batch_size, sequence_length)
        try:
            if not isolate:
                convert_streamed(marker_model, weights_saved_model, path, markers)
                return None
            from keras_landmarks.export import _child

            markers_file = os.path.join(tmp, "markers.json")
            pathlib.Path(markers_file).write_text(json.dumps(markers))
            return _child.run("keras_landmarks.export.tflite_streamed:_convert_in_child", marker_model,
                              weights_saved_model, path, markers_file, what="TFLite conversion (streamed weights)",
                              scratch=tmp)
        except BaseException:
            if path.exists():
                path.unlink()
            raise
