"""TFLite conversion (float, fp16, dynamic-range and full-integer int8) and a runner for LiteRT.

Conversion goes through `tf.lite.TFLiteConverter` from the serving function (`signature.py`), so the
`.tflite` file's signature uses the model's own input and output names. Unless `allow_flex=True`, only
TFLite built-in ops are allowed: a graph that would need Flex (TensorFlow) ops, which a phone's
runtime does not have, fails to convert instead of producing a file that fails on the device.

The converter holds four to five times a model's float32 weights while it works; `convert_tflite_file`
can run it in a child process, so that memory goes back to the system when it exits. Models over
the flatbuffer's 2 GB limit are written with their weights after the flatbuffer (buffer offsets).
"""

import os
import pathlib
import tempfile

import numpy as np

from keras_landmarks._quiet import native_output_muted
from keras_landmarks.errors import ExportError
from keras_landmarks.export.artifact import Format, Written
from keras_landmarks.export.saved_model import write_saved_model

VARIANTS = ("none", "fp16", "dynamic", "int8")

# Builtin ops the LiteRT GPU delegate documents as supported (a static check: no GPU runs here).
GPU_DELEGATE_OPS = frozenset("""
ABS ADD AVERAGE_POOL_2D BATCH_MATMUL CAST CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D
DEQUANTIZE DIV ELU EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GELU GREATER GREATER_EQUAL
HARD_SWISH LESS LESS_EQUAL LOG LOGISTIC MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD
POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN REDUCE_PROD RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR RSQRT SELECT SELECT_V2 SIN SLICE SOFTMAX SPACE_TO_DEPTH SPLIT SQRT SQUARE
SQUARED_DIFFERENCE STRIDED_SLICE SUB SUM TANH TILE TRANSPOSE TRANSPOSE_CONV
""".split())


def convert_tflite(model, quantize="none", representative_data=None, allow_flex=False, saved_model_dir=None,
                   batch_size=None):
    """Convert `model` to a TFLite flatbuffer (bytes), in this process.

    The conversion reads a SavedModel written by `write_saved_model` (`saved_model_dir` when the caller
    has one already, else a temporary one): converting from a concrete function instead leaves Keras 3
    variables as resource variables, which the interpreter reads as uninitialized.

    Args:
        quantize: "none" (float32), "fp16" (float16 weights), "dynamic" (int8 weights, float
            activations) or "int8" (full integer: weights and activations, float inputs and outputs).
        representative_data: for "int8", an iterable of input dicts ({input name: array}) used to
            calibrate activation ranges.
        allow_flex: allow TensorFlow (Flex) ops where no built-in op exists.
        batch_size: a fixed batch for the temporary SavedModel (ignored with `saved_model_dir`).
    """
    _check_quantize(quantize, representative_data)
    if saved_model_dir is None:
        with tempfile.TemporaryDirectory(prefix="keras_landmarks_") as tmp:
            write_saved_model(model, tmp, batch_size=batch_size)
            return convert_tflite(model, quantize, representative_data, allow_flex, saved_model_dir=tmp)
    return _convert_saved_model(saved_model_dir, quantize, representative_data, [t.name for t in model.inputs],
                                allow_flex)


def convert_tflite_file(saved_model_dir, path, input_names, quantize="none", representative_data=None,
                        allow_flex=False, isolate=False):
    """Convert the SavedModel at `saved_model_dir` to a TFLite file at `path`.

    With `isolate=True` the converter runs in a child Python process, so what it allocates (four to five
    times the float32 weights, measured: 15.1 GB for GPT-2 large's 3.1 GB) is returned to the system
    when it exits instead of adding to this process's peak. Flatbuffers are limited to 2 GB; the
    converter stores the weights of a larger model after the flatbuffer (buffer offsets), which the
    LiteRT interpreter reads.

    Returns the child's peak resident memory in bytes with `isolate`, else None. Raises ExportError
    (with the converter's message) when the conversion fails; `path` is then not written.
    """
    _check_quantize(quantize, representative_data)
    path = pathlib.Path(path)
    if not isolate:
        content = _convert_saved_model(saved_model_dir, quantize, representative_data, input_names, allow_flex)
        path.write_bytes(content)
        return None
    from keras_landmarks.export import _child

    with tempfile.TemporaryDirectory(prefix="keras_landmarks_tflite_", dir=path.parent) as tmp:
        calibration = ""
        if representative_data is not None:
            samples = list(representative_data)
            calibration = os.path.join(tmp, "calibration.npz")
            np.savez(calibration, **{f"{i}/{name}": np.asarray(sample[name])
                                     for i, sample in enumerate(samples) for name in input_names})
        try:
            return _child.run("keras_landmarks.export.tflite:_convert_in_child", saved_model_dir, path, quantize,
                              ",".join(input_names), calibration, "flex" if allow_flex else "",
                              what=f"TFLite conversion ({quantize})", scratch=tmp)
        except BaseException:
            if path.exists():
                path.unlink()
            raise


def _check_quantize(quantize, representative_data):
    if quantize not in VARIANTS:
        raise ExportError(f"Unknown quantization {quantize!r}. Allowed: {', '.join(VARIANTS)}")
    if quantize == "int8" and representative_data is None:
        raise ExportError("int8 quantization needs representative data to calibrate activation ranges.")


def _convert_saved_model(saved_model_dir, quantize, representative_data, input_names, allow_flex,
                         buffer_offsets=False):
    """The flatbuffer; `buffer_offsets` puts every weight after it at a recorded offset (by default the
    converter does so only past 2 GB)."""
    import tensorflow as tf

    # serving_default alone: the SavedModel may also hold decoders, which are not for the edge file.
    converter = tf.lite.TFLiteConverter.from_saved_model(str(saved_model_dir), signature_keys=["serving_default"])
    converter._experimental_use_buffer_offset = buffer_offsets
    ops_sets = [tf.lite.OpsSet.TFLITE_BUILTINS]
    if quantize == "fp16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif quantize == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif quantize == "int8":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        samples = list(representative_data)

        def dataset():
            for sample in samples:
                yield {n: np.asarray(sample[n]) for n in input_names}

        converter.representative_dataset = dataset
        ops_sets = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
    if allow_flex:
        ops_sets.append(tf.lite.OpsSet.SELECT_TF_OPS)
    converter.target_spec.supported_ops = ops_sets
    try:
        with native_output_muted():
            return converter.convert()
    except Exception as error:  # the converter raises ConverterError and others
        first = str(error).strip().splitlines()
        detail = next((line for line in first if "op" in line.lower() and "not" in line.lower()), first[0] if first else "")
        hint = "" if allow_flex else " (only TFLite built-in ops are allowed; allow_flex=True permits TensorFlow ops)"
        raise ExportError(f"TFLite conversion ({quantize}) failed{hint}: {detail}") from error


def _convert_in_child(saved_model_dir, path, quantize, input_names, calibration, flex):
    """`convert_tflite_file(..., isolate=True)`'s child (arguments as strings)."""
    names = input_names.split(",")
    samples = None
    if calibration:
        data = np.load(calibration)
        count = len({key.split("/", 1)[0] for key in data.files})
        samples = [{name: data[f"{i}/{name}"] for name in names} for i in range(count)]
    content = _convert_saved_model(saved_model_dir, quantize, samples, names, flex == "flex")
    pathlib.Path(path).write_bytes(content)


class TFLiteRunner:
    """Runs a .tflite model in the LiteRT interpreter by signature, with the model's names."""

    def __init__(self, model_content=None, path=None, num_threads=None, delegates=True):
        with native_output_muted():
            from ai_edge_litert.interpreter import Interpreter, OpResolverType

            kwargs = {"model_content": model_content} if model_content is not None else {"model_path": str(path)}
            if not delegates:
                kwargs["experimental_op_resolver_type"] = OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES
            self.interpreter = Interpreter(num_threads=num_threads, **kwargs)
            self.runner = self.interpreter.get_signature_runner()

        self._first = True
        self._delegates = delegates

    def __call__(self, inputs):
        if self._first:  # the XNNPACK delegate announces itself on the first invocation
            self._first = False
            with native_output_muted():
                return {k: np.asarray(v) for k, v in self.runner(**inputs).items()}
        return {k: np.asarray(v) for k, v in self.runner(**inputs).items()}

    def report(self):
        """How the XNNPACK delegate took the graph (after a call): {"xnnpack": {nodes, delegated_nodes,
        partitions}}. Every partition boundary is a hand-over between XNNPACK and the reference kernels;
        a static graph is taken whole (one partition)."""
        if self._first or not self._delegates:
            return {}
        return {"xnnpack": delegation(self.interpreter._get_ops_details())}

    def input_details(self):
        return self.runner.get_input_details()

    def output_details(self):
        return self.runner.get_output_details()


def delegation(ops):
    """{nodes, delegated_nodes, partitions} from an interpreter's op details after delegation: each
    DELEGATE node stands for one partition; its nodes are those on the paths from its inputs back from
    its outputs."""
    delegates = [op for op in ops if op["op_name"] == "DELEGATE"]
    producer = {t: op for op in ops if op["op_name"] != "DELEGATE" for t in op["outputs"]}
    covered = set()
    for node in delegates:
        boundary, stack, seen = set(node["inputs"]), list(node["outputs"]), set()
        while stack:
            tensor = stack.pop()
            if tensor in seen or tensor in boundary or tensor not in producer:
                continue
            seen.add(tensor)
            op = producer[tensor]
            covered.add(op["index"])
            stack += [t for t in op["inputs"] if t >= 0]
    return {"nodes": len(ops) - len(delegates), "delegated_nodes": len(covered), "partitions": len(delegates)}


def tflite_ops(model_content=None, path=None):
    """The sorted op names of a flatbuffer (bytes or a file), before any delegate takes them over."""
    return op_details(model_content, path)[0]


def op_details(model_content=None, path=None):
    """(sorted op names, sorted names of the ops with a float32 output other than (DE)QUANTIZE): the
    second says what an int8 file left in float."""
    with native_output_muted():
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        source = {"model_content": model_content} if model_content is not None else {"model_path": str(path)}
        interpreter = Interpreter(**source, experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    names = sorted({op["op_name"] for op in ops})
    float_ops = sorted({op["op_name"] for op in ops
                        if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
                        and any(i >= 0 and tensors[i]["dtype"] == np.float32 for i in op["outputs"])})
    return names, float_ops


class TFLiteFormat(Format):
    """`<name>.tflite` (float) and `<name>_<variant>.tflite`: TFLite built-in ops only unless `allow_flex`.

    Converted from the SavedModel (the planned artifact, or a scratch one). The float file streams its
    weights where the plan says the converter would not fit. Models with recurrent layers get a batch-1
    graph: TFLite lowers their TensorList loops to built-in ops only with a static batch.
    """

    family = "tflite"
    runtime = "litert"
    sources = ("saved_model",)

    def __init__(self, variant="none"):
        self.variant = variant
        self.name = "tflite" if variant == "none" else f"tflite_{variant}"
        self.needs_calibration = variant == "int8"

    def filename(self, plan):
        return f"{plan.name}.tflite" if self.variant == "none" else f"{plan.name}_{self.variant}.tflite"

    def write(self, ctx, path):
        plan = ctx.plan
        names = [t.name for t in plan.model.inputs]
        details = {}
        fixed = None
        if plan.tflite_streamed and self.variant == "none":
            from keras_landmarks.export.tflite_streamed import convert_tflite_streamed_file

            peak = convert_tflite_streamed_file(plan.model, ctx.source("saved_model"), path, plan.batch_size,
                                                plan.isolate, plan.sequence_length)
            details["weights"] = ("streamed: the graph was converted with placeholder weights and the real ones "
                                  "written in place (tflite_streamed.py)")
        else:
            convert = lambda source: convert_tflite_file(  # noqa: E731
                source, path, names, self.variant, plan.calibration, plan.allow_flex, plan.isolate)
            try:
                peak = convert(ctx.source("saved_model"))
            except ExportError as error:
                # Recurrent layers loop over TensorLists, which TFLite lowers to built-in ops only when
                # their element shape, batch included, is static: convert a batch-1 graph.
                if plan.batch_size is not None or "TensorList" not in str(error):
                    raise
                peak = convert(ctx.source("saved_model", batch_size=1))
                fixed = 1
                details["note"] = ("batch fixed to 1: the recurrent layers' TensorList ops lower to TFLite built-in "
                                   "ops only with a static batch")
        ops, float_ops = op_details(path=path)
        details.update(ops=ops, gpu_delegate_unsupported_ops=sorted(set(ops) - GPU_DELEGATE_OPS),
                       builtin_ops_only=not any(op.startswith("Flex") for op in ops))
        if self.variant == "int8":
            details.update(float_ops_left=float_ops, calibration=plan.calibration_source)
        return Written(fixed_batch=fixed, child_peak=peak, details=details)

    def runner(self, path, num_threads=None):
        return TFLiteRunner(path=path, num_threads=num_threads)
