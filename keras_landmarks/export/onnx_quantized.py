"""ONNX variants for inference servers, made from the float ONNX model by onnxruntime's own tools.

- `onnx_fp16` (`<name>_fp16.onnx`): float16 weights and activations, for GPU servers (Triton's or
  onnxruntime's CUDA / TensorRT providers), by `onnxruntime.transformers.float16`; inputs and outputs
  stay float32 (`keep_io_types`), so requests and parity inputs are the float model's. Gate: ≤ 1e-2.
- `onnx_int8` (`<name>_int8.onnx`): static QDQ quantization by `onnxruntime.quantization.quantize_static`
  (uint8 activations, int8 weights per output channel) of the convolutions and matrix products
  (`INT8_OPS`), calibrated on the same samples as TFLite int8.
  Gated like TFLite int8: agreement and accuracy with labelled data, else SQNR reported.

Both run in a child process when the plan isolates (big models), so what the tools hold returns at exit.
"""

import os
import pathlib
import tempfile

import numpy as np

from keras_landmarks._quiet import native_output_muted
from keras_landmarks.errors import ExportError
from keras_landmarks.export.artifact import Format, Written
from keras_landmarks.export.onnx import OnnxRunner, onnx_files


# The ops computed in int8: where the multiply-adds are, and the lookups of weight tables (an embedding
# model, GloVe's or word2vec's, is a table and little else). Normalization, softmax, pooling and the
# element-wise rest stay float (onnxruntime's own advice for transformers; quantizing LayerNorm's mean
# as a pooling op fails at run time in onnxruntime 1.31).
INT8_OPS = ("Conv", "ConvTranspose", "MatMul", "Gemm", "Gather")


def _not_tables(source):
    """The Gather nodes that do not look rows up in a weight table of the main graph (shape arithmetic,
    a recurrent loop's body reading its input sequence), where quantizing saves nothing; and every
    Gather of a graph with a loop (a recurrent layer): onnxruntime 1.31 aborts the process creating a
    session for an LSTM language model whose embedding lookup is quantized."""
    import onnx

    model = onnx.load(str(source), load_external_data=False)
    tables = {t.name for t in model.graph.initializer}
    names = []

    def walk(graph, main):
        for node in graph.node:
            if node.op_type == "Gather" and not (main and node.input[0] in tables):
                names.append(node.name)
            for attribute in node.attribute:
                for subgraph in ([attribute.g] if attribute.HasField("g") else []) + list(attribute.graphs):
                    walk(subgraph, False)

    walk(model.graph, True)
    if any(node.op_type in ("Loop", "Scan") for node in model.graph.node):
        names += [n.name for n in model.graph.node if n.op_type == "Gather" and n.name not in names]
    return names


def _has_external_data(path):
    return len(onnx_files(path)) > 1


def _save(proto, path, external):
    import onnx

    path = pathlib.Path(path)
    if external:
        onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=1024)
    else:
        onnx.save_model(proto, str(path))
    try:
        onnx.checker.check_model(str(path))
    except onnx.checker.ValidationError as error:
        raise ExportError(f"The ONNX graph fails onnx.checker: {str(error).splitlines()[0]}") from error


def _sort_nodes(graph):
    """Order the graph's nodes so that each comes after the nodes whose outputs it reads (the float16
    converter appends its input casts at the end, which onnx.checker refuses)."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(name in available for name in n.input)]
        if not ready:
            raise ExportError("The float16 ONNX graph has a cycle or reads a tensor nothing produces.")
        for node in ready:
            available.update(node.output)
        ordered += ready
        ready_ids = {id(n) for n in ready}
        pending = [n for n in pending if id(n) not in ready_ids]
    copies = [type(n)() for n in ordered]
    for copy, node in zip(copies, ordered):
        copy.CopyFrom(node)
    del graph.node[:]
    graph.node.extend(copies)


def _subgraph_ops(graph):
    """The op types inside the graph's loops and branches (Loop, If, Scan bodies), at any depth."""
    found = set()
    for node in graph.node:
        for attribute in node.attribute:
            for body in [attribute.g] * attribute.HasField("g") + list(attribute.graphs):
                found |= {n.op_type for n in body.node} | _subgraph_ops(body)
    return found


def _block_list(graph):
    """The converter's default list of ops kept in float32, less those inside a loop body (a recurrent
    layer's clipping: Min, Max): for those it inserts the float32 casts in the outer graph, which then
    reads tensors nothing produces. onnxruntime runs Min and Max in float16."""
    from onnxruntime.transformers.float16 import DEFAULT_OP_BLOCK_LIST

    inside = _subgraph_ops(graph)
    return [op for op in DEFAULT_OP_BLOCK_LIST if not (op in inside and op in ("Min", "Max"))]


def _index_casts(graph):
    """The Casts from float to an integer type: index arithmetic (tf2onnx computes a dynamic slice's end
    as float32, clamped to ±10⁹ by Max / Min, then cast back), kept in float32. Left to the converter,
    the clamped value is cast to float16 first, where 10⁹ is infinity, and the slice comes out empty."""
    import onnx

    integers = {onnx.TensorProto.INT8, onnx.TensorProto.INT16, onnx.TensorProto.INT32, onnx.TensorProto.INT64,
                onnx.TensorProto.UINT8, onnx.TensorProto.UINT16, onnx.TensorProto.UINT32, onnx.TensorProto.UINT64}
    return [node.name for node in graph.node if node.op_type == "Cast"
            and any(a.name == "to" and a.i in integers for a in node.attribute)]


def _drop_round_trips(graph):
    """Where the converter casts a float32 tensor to float16 and straight back to float32 (between two
    nodes it keeps in float32), read the float32 tensor itself: the round trip loses precision, and
    turns an index clamped at 10⁹ into infinity."""
    import onnx

    def cast_to(node):
        return next((a.i for a in node.attribute if a.name == "to"), None) if node.op_type == "Cast" else None

    producer = {out: node for node in graph.node for out in node.output}
    rename, dropped = {}, []
    for node in graph.node:
        source = producer.get(node.input[0]) if cast_to(node) == onnx.TensorProto.FLOAT else None
        # the converter's own casts of float32 tensors (a model's Cast from an integer type is converted to
        # cast to float16 too, and reading its input would read integers)
        if source is not None and cast_to(source) == onnx.TensorProto.FLOAT16 and source.name.endswith(
                "_cast_to_fp16_node"):
            rename[node.output[0]] = source.input[0]
            dropped.append(node)
    if not rename:
        return
    outputs = {o.name for o in graph.output}
    for node in dropped:
        if node.output[0] in outputs:  # a graph output keeps its name
            rename.pop(node.output[0])
        else:
            graph.node.remove(node)
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name in rename:
                node.input[i] = rename[name]


def to_fp16(source, path):
    """Write the float16 version of the ONNX model at `source` to `path` (inputs and outputs float32)."""
    import onnx

    with native_output_muted():
        from onnxruntime.transformers.float16 import convert_float_to_float16

    external = _has_external_data(source)
    model = onnx.load(str(source))
    half = convert_float_to_float16(model, keep_io_types=True, disable_shape_infer=external,
                                    op_block_list=_block_list(model.graph), node_block_list=_index_casts(model.graph))
    del model
    _drop_round_trips(half.graph)
    _sort_nodes(half.graph)
    _save(half, path, external)


class _Samples:
    """onnxruntime's CalibrationDataReader protocol over a list of input dicts."""

    def __init__(self, samples):
        self._iterator = iter(samples)

    def get_next(self):
        return next(self._iterator, None)


def to_int8(source, path, calibration):
    """Quantize the ONNX model at `source` to QDQ int8 at `path`, calibrated on `calibration` (input dicts)."""
    with native_output_muted():
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    reader = type("Reader", (_Samples, CalibrationDataReader), {})(calibration)
    try:
        with native_output_muted():
            quantize_static(str(source), str(path), reader, quant_format=QuantFormat.QDQ, per_channel=True,
                            activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8,
                            op_types_to_quantize=list(INT8_OPS), nodes_to_exclude=_not_tables(source),
                            use_external_data_format=_has_external_data(source))
    except Exception as error:
        raise ExportError(f"onnxruntime quantization failed: {str(error).strip().splitlines()[0]}") from error


def _fp16_child(source, path):
    to_fp16(source, path)


def _int8_child(source, path, calibration_file):
    with np.load(calibration_file) as data:
        count = len({key.split("/", 1)[0] for key in data.files})
        samples = [{key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(f"{i}/")}
                   for i in range(count)]
    to_int8(source, path, samples)


class _OnnxVariant(Format):
    family = "onnx"
    runtime = "onnxruntime"
    sources = ("onnx",)

    def filename(self, plan):
        return f"{plan.name}_{self.variant}.onnx"

    def runner(self, path, num_threads=None):
        return OnnxRunner(path, num_threads=num_threads)

    def files(self, path):
        return onnx_files(path)

    def _run(self, ctx, path, function, *child_args):
        """`function(source, path)` here, or `_<variant>_child(source, path, *child_args)` in a child process
        when the plan isolates; returns the child's peak memory (or None)."""
        source = ctx.source("onnx")
        try:
            if not ctx.plan.isolate:
                function(source, path)
                return None
            from keras_landmarks.export import _child

            return _child.run(f"{__name__}:_{self.variant}_child", source, path, *child_args,
                              what=f"ONNX {self.variant} conversion", scratch=path.parent)
        except BaseException:
            for leftover in onnx_files(path):
                leftover.unlink(missing_ok=True)
            raise


class OnnxFp16Format(_OnnxVariant):
    name = "onnx_fp16"
    variant = "fp16"

    def write(self, ctx, path):
        return Written(child_peak=self._run(ctx, path, to_fp16), details={"opset": ctx.plan.opset,
                                                                          "io_dtype": "float32"})


class OnnxInt8Format(_OnnxVariant):
    name = "onnx_int8"
    variant = "int8"
    needs_calibration = True

    def write(self, ctx, path):
        plan = ctx.plan
        details = {"opset": plan.opset, "quantization": "QDQ static: uint8 activations, int8 per-channel weights, "
                   f"ops {', '.join(INT8_OPS)}; the rest in float",
                   "calibration": plan.calibration_source}
        quantize = lambda source, target: to_int8(source, target, plan.calibration)  # noqa: E731
        if not plan.isolate:
            return Written(child_peak=self._run(ctx, path, quantize), details=details)
        with tempfile.TemporaryDirectory(prefix="keras_landmarks_calibration_", dir=path.parent) as tmp:
            calibration = os.path.join(tmp, "calibration.npz")
            np.savez(calibration, **{f"{i}/{k}": np.asarray(v) for i, sample in enumerate(plan.calibration)
                                     for k, v in sample.items()})
            return Written(child_peak=self._run(ctx, path, quantize, calibration), details=details)
