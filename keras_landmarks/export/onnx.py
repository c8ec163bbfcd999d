"""ONNX conversion through tf2onnx, with the model's own output names, and an onnxruntime runner.

The model's variables are passed to the traced function as inputs (`keras.Model.stateless_call`), so
tf2onnx converts a graph that holds no weights; they are then streamed to a data file and attached as
initializers that point into it (ONNX's external-data format), so no copy of them is ever held in a
protobuf. Freezing them into graph constants instead, as `model.export(format="onnx")` does, took
tf2onnx past 24 GB for VGG-19's 575 MB of weights on a 24 GB machine (killed). onnxruntime's basic
optimizations (hardware-independent: constant folding, redundant-node elimination) then fold the
layout transposes tf2onnx places on the weight inputs and write the final model: one self-contained
`.onnx` file, or for weights over `EXTERNAL_DATA_BYTES` (a protobuf cannot exceed 2 GB) the graph in
`<name>.onnx` and its weights in `<name>.onnx.data` beside it.
"""

import json
import os
import pathlib
import tempfile

import numpy as np

from keras_landmarks._quiet import native_output_muted
from keras_landmarks.errors import ExportError
from keras_landmarks.export.artifact import Format, Written
from keras_landmarks.export.signature import input_specs, output_names, stateless_outputs, variable_bytes

DEFAULT_OPSET = 17
# Above this many bytes of weights, `convert_onnx` stores them as external data (a protobuf, hence
# a single-file ONNX model, is limited to 2 GB).
EXTERNAL_DATA_BYTES = 1 << 30
_WEIGHT = "keras_landmarks_weight_"
_ALIGNMENT = 1 << 16
_INLINE_BYTES = 1024  # smaller weights stay in the graph file (onnx.save's own threshold)


def _rename_outputs(proto, names):
    """tf2onnx names outputs after graph nodes (`Identity:0`); give them the model's names."""
    graph = proto.graph
    renames = {out.name: new for out, new in zip(graph.output, names)}
    for node in graph.node:
        node.output[:] = [renames.get(n, n) for n in node.output]
        node.input[:] = [renames.get(n, n) for n in node.input]
    for out in graph.output:
        out.name = renames.get(out.name, out.name)


def _weightless_function(model, batch_size, sequence_length=None):
    """A tf.function of (inputs..., variables...) and its input signature."""
    import tensorflow as tf

    variables = list(model.trainable_variables) + list(model.non_trainable_variables)
    specs = list(input_specs(model, batch_size, sequence_length).values())
    names = [s.name for s in specs]
    weight_specs = [tf.TensorSpec(v.shape, v.dtype, name=f"{_WEIGHT}{i}") for i, v in enumerate(variables)]

    def serve(*args):
        return stateless_outputs(model, list(args[len(names) :]), dict(zip(names, args[: len(names)])))

    signature = specs + weight_specs
    return tf.function(serve, input_signature=signature, autograph=False), signature, variables


def _attach_weights(proto, variables, data_path=None):
    """Make each variable the graph takes as an input an initializer. With `data_path`, the ones of at
    least `_INLINE_BYTES` are written there, one after another (64 KiB aligned so runtimes can map
    them), and the initializer points into the file: they are never copied into the protobuf, which
    could not hold more than 2 GB of them anyway."""
    from onnx import TensorProto, helper, numpy_helper

    graph_inputs = {i.name for i in proto.graph.input}
    offset = 0
    handle = open(data_path, "wb") if data_path else None
    try:
        for index, variable in enumerate(variables):
            name = f"{_WEIGHT}{index}"
            if name not in graph_inputs:
                continue
            value = np.ascontiguousarray(variable.numpy())
            if handle is None or value.nbytes < _INLINE_BYTES:
                proto.graph.initializer.append(numpy_helper.from_array(value, name=name))
                continue
            padding = -offset % _ALIGNMENT
            handle.write(b"\0" * padding)
            offset += padding
            handle.write(value.tobytes())
            tensor = TensorProto(name=name, dims=list(value.shape), data_type=helper.np_dtype_to_tensor_dtype(value.dtype))
            for key, text in (("location", os.path.basename(data_path)), ("offset", offset), ("length", value.nbytes)):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, str(text)
            tensor.data_location = TensorProto.EXTERNAL
            proto.graph.initializer.append(tensor)
            offset += value.nbytes
    finally:
        if handle is not None:
            handle.close()
    kept = [i for i in proto.graph.input if not i.name.startswith(_WEIGHT)]
    del proto.graph.input[:]
    proto.graph.input.extend(kept)


def _external_locations(path):
    import onnx

    proto = onnx.load(str(path), load_external_data=False)
    return {entry.value for tensor in proto.graph.initializer if tensor.data_location == onnx.TensorProto.EXTERNAL
            for entry in tensor.external_data if entry.key == "location"}


def convert_onnx(model, opset=DEFAULT_OPSET, batch_size=None, path=None, external_data=None, isolate=False,
                 sequence_length=None):
    """Convert `model` to ONNX (dynamic batch unless `batch_size`), checked by `onnx.checker` and loaded
    by onnxruntime.

    Args:
        path: where to write the `.onnx` file; the `onnx.ModelProto` is returned when None (only for
            models whose weights fit a protobuf's 2 GB).
        external_data: store the weights in `<path>.data` beside the graph (ONNX's external-data
            format). None (default) does so when the weights exceed `EXTERNAL_DATA_BYTES`: a protobuf,
            hence a single-file ONNX model, cannot exceed 2 GB.

    Returns the written path, or the ModelProto when `path` is None.
    """
    return _convert(model, opset, batch_size, path, external_data, isolate, sequence_length)[0]


def _convert(model, opset, batch_size, path, external_data, isolate, sequence_length=None):
    """`convert_onnx`, and the peak memory of the child process that optimized the model (or None)."""
    import onnx

    with native_output_muted():
        import tf2onnx
        from keras.src.export.tf2onnx_lib import patch_tf2onnx

        patch_tf2onnx()  # Keras's own fix-up of tf2onnx 1.17 for NumPy 2 (idempotent)
    fn, signature, variables = _weightless_function(model, batch_size, sequence_length)
    weight_bytes = variable_bytes(variables)
    if external_data is None:
        external_data = weight_bytes > EXTERNAL_DATA_BYTES
    if path is None and external_data:
        raise ExportError(f"The model's {weight_bytes / 1e9:.2f} GB of weights need ONNX's external-data format: "
                          "pass a path to write the model to.")
    try:
        with native_output_muted():
            proto, _ = tf2onnx.convert.from_function(fn, input_signature=signature, opset=opset)
    except Exception as error:
        raise ExportError(f"ONNX conversion failed: {str(error).strip().splitlines()[0]}") from error
    # The serving function returns a dict, which TensorFlow flattens in sorted key order.
    _rename_outputs(proto, sorted(output_names(model)))
    with tempfile.TemporaryDirectory(prefix="keras_landmarks_onnx_",
                                     dir=None if path is None else os.path.dirname(os.path.abspath(path))) as tmp:
        raw = os.path.join(tmp, "raw.onnx")
        _attach_weights(proto, variables, raw + ".data" if external_data else None)
        shared = json.dumps(_shared_transposes(proto))
        onnx.save(proto, raw)
        del proto
        folded = os.path.join(tmp, "folded.onnx") if path is None else str(path)
        peak = None
        try:
            if isolate:
                from keras_landmarks.export import _child

                peak = _child.run("keras_landmarks.export.onnx:_optimize_and_check", raw, folded,
                                  "external" if external_data else "", shared, what="ONNX optimization", scratch=tmp)
            else:
                _optimize_and_check(raw, folded, external_data, shared)
        except BaseException:
            for leftover in (folded, folded + ".data"):
                if os.path.exists(leftover):
                    os.remove(leftover)
            raise
        return (onnx.load(folded) if path is None else path), peak


def _shared_transposes(proto):
    """[(output, weight, perm)] for each Transpose of a weight that the graph also reads untransposed: a
    tied embedding, looked up by Gather and multiplied transposed for the output logits (GPT, GPT-2)."""
    readers = {}
    for node in proto.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    shared = []
    for node in proto.graph.node:
        weight = node.input[0] if node.op_type == "Transpose" and node.input else ""
        if weight.startswith(_WEIGHT) and any(r.op_type != "Transpose" for r in readers[weight]):
            perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), [])
            shared.append((node.output[0], weight, perm))
    return shared


def _restore_shared_transposes(path, shared, external_data):
    """onnxruntime's constant folding stores the transposed copy of a tied weight beside the weight (GPT-2's
    embedding twice: 652 MB where the SavedModel takes 498 MB). Put the Transpose back in its place, so the
    file holds the weight once; onnxruntime folds it again in memory when it loads the model."""
    import onnx
    from onnx import helper

    proto = onnx.load(str(path), load_external_data=False)
    initializers = {t.name: t for t in proto.graph.initializer}
    restored = [(out, weight, perm) for out, weight, perm in shared if out in initializers and weight in initializers]
    if not restored:
        return 0
    for out, weight, perm in restored:
        proto.graph.initializer.remove(initializers[out])
        proto.graph.node.insert(0, helper.make_node("Transpose", [weight], [out], name=f"{out}_shared", perm=perm))
    if external_data:
        _compact_external_data(proto, path)
    onnx.save(proto, str(path))
    return len(restored)


def _compact_external_data(proto, path):
    """Rewrite `<path>.data` with only the tensors `proto` still refers to, one tensor at a time."""
    import onnx

    data = str(path) + ".data"
    compacted = data + ".compact"
    offset = 0
    with open(data, "rb") as source, open(compacted, "wb") as target:
        for tensor in proto.graph.initializer:
            if tensor.data_location != onnx.TensorProto.EXTERNAL:
                continue
            entries = {e.key: e for e in tensor.external_data}
            source.seek(int(entries["offset"].value) if "offset" in entries else 0)
            blob = source.read(int(entries["length"].value))
            padding = -offset % _ALIGNMENT
            target.write(b"\0" * padding)
            offset += padding
            target.write(blob)
            if "offset" in entries:
                entries["offset"].value = str(offset)
            else:
                entry = tensor.external_data.add()
                entry.key, entry.value = "offset", str(offset)
            offset += len(blob)
    os.replace(compacted, data)


def _optimize_and_check(raw, folded, external_data, shared="[]"):
    """Let onnxruntime fold `raw` into `folded` (weights to `<folded>.data` if `external_data`), keep tied
    weights once (`shared`: JSON of `_shared_transposes`), then check that the result refers to no other
    data file and passes `onnx.checker`."""
    import onnx

    with native_output_muted():
        import onnxruntime as ort
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    options.optimized_model_filepath = folded
    if external_data:
        options.add_session_config_entry("session.optimized_model_external_initializers_file_name",
                                         os.path.basename(folded) + ".data")
        options.add_session_config_entry("session.optimized_model_external_initializers_min_size_in_bytes",
                                         str(_INLINE_BYTES))
    try:
        with native_output_muted():
            ort.InferenceSession(raw, options, providers=["CPUExecutionProvider"])
    except Exception as error:
        raise ExportError(f"onnxruntime cannot load the converted model: {str(error).splitlines()[0]}") from error
    _restore_shared_transposes(folded, [tuple(s) for s in json.loads(shared)], external_data)
    expected = {os.path.basename(folded) + ".data"} if external_data else set()
    found = _external_locations(folded)
    if not found <= expected:
        raise ExportError(f"The optimized ONNX model refers to data files {sorted(found)}, expected {sorted(expected)}")
    try:
        onnx.checker.check_model(folded)  # by path: also reads external data
    except onnx.checker.ValidationError as error:
        raise ExportError(f"The ONNX graph fails onnx.checker: {str(error).splitlines()[0]}") from error


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


def onnx_files(path):
    """An ONNX model's path, then its external data file where it has one."""
    path = pathlib.Path(path)
    data = path.with_name(path.name + ".data")
    return [path, data] if data.is_file() else [path]


class OnnxFormat(Format):
    """`<name>.onnx`: float32, dynamic batch, opset `plan.opset`; weights over `EXTERNAL_DATA_BYTES` in
    `<name>.onnx.data` beside it."""

    name = family = "onnx"
    runtime = "onnxruntime"

    def filename(self, plan):
        return f"{plan.name}.onnx"

    def write(self, ctx, path):
        plan = ctx.plan
        _, peak = _convert(plan.model, plan.opset, plan.batch_size, path, None, plan.isolate, plan.sequence_length)
        return Written(child_peak=peak, details={"opset": plan.opset})

    def runner(self, path, num_threads=None):
        return OnnxRunner(path, num_threads=num_threads)

    def files(self, path):
        return onnx_files(path)
