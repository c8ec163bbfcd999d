"""The conversion pipeline: SavedModel (TF Serving layout), TFLite, ONNX — each proven equal to Keras.

`convert()` checks every option before doing any work, writes every artifact into a temporary folder
inside `out`, runs each artifact in its own runtime on the same inputs as the Keras model (several
seeds, batch 1 and a larger batch, two sequence lengths for token models), and only when every
parity gate passes moves the folder into place as `out/<name>/` with a `manifest.json`. A miss raises
`ExportError` naming the artifact and its error, and leaves nothing in `out`.

Gates: float artifacts (SavedModel, TFLite float, ONNX) ≤ 1e-4 relative error (max-abs error over the
output's scale); fp16 ≤ 1e-2. Dynamic-range and int8 artifacts are gated on top-1 agreement ≥ 99% and
an accuracy drop ≤ 1 point when labelled evaluation data is given (`eval_data`), which only means
something for trained weights; otherwise their signal-to-quantization-noise ratio is reported.

Memory: for models over `ISOLATE_BYTES` of weights (or with `isolate=True`), the TFLite converter,
onnxruntime's graph optimization and every artifact's parity run happen in child processes
(`_child.py`), because TensorFlow keeps most of what a loaded SavedModel or the converter allocated
until the process ends. This process then holds the Keras model and little else. Before any work,
the TFLite converter's need is compared with the memory available: where it does not fit, the float
TFLite file is written with streamed weights (`tflite_streamed.py`), and quantized variants that do
not fit are refused with an error.
"""

import dataclasses
import gc
import hashlib
import json
import os
import pathlib
import resource
import shutil
import sys
import tempfile
import time

import numpy as np

from keras_landmarks.errors import ConfigError, ExportError
from keras_landmarks.export.inputs import has_dynamic_length, sample_inputs
from keras_landmarks.export.signature import keras_outputs, output_names, relative_error

FORMATS = ("saved_model", "tflite", "onnx")
QUANTIZATIONS = ("none", "fp16", "dynamic", "int8")
FLOAT_TOLERANCE = 1e-4
FP16_TOLERANCE = 1e-2
SEEDS = (0, 1, 2)
LENGTHS = (8, 16)
LARGE_BATCH = 4
INT8_AGREEMENT = 0.99
INT8_ACCURACY_DROP = 0.01
LATENCY_RUNS = 10
# Models with more weight bytes than this convert and check their artifacts in child processes (auto).
ISOLATE_BYTES = 256 << 20
# Measured peak of a TFLite conversion: about 4.6x the float32 weights plus the converter's own ~0.7 GB
# (GPT-2 large, 3.1 GB of weights: 15.1 GB; a 2.56 GB embedding table: 10.9 GB).
TFLITE_MEMORY_FACTOR = 4.6
TFLITE_MEMORY_BASE = 0.75e9
# A float TFLite conversion with streamed weights (`tflite_streamed.py`) holds about two copies, at the
# end (GPT-2 large: 7.6 GB; GPT-2 XL, 6.2 GB of weights: 14.5 GB).
STREAMED_MEMORY_FACTOR = 2.3
STREAMED_MEMORY_BASE = 0.75e9

# Builtin ops the LiteRT GPU delegate documents as supported (a static check: no GPU runs here).
GPU_DELEGATE_OPS = frozenset("""
ABS ADD AVERAGE_POOL_2D BATCH_MATMUL CAST CONCATENATION CONV_2D COS CUMSUM DEPTH_TO_SPACE DEPTHWISE_CONV_2D
DEQUANTIZE DIV ELU EQUAL EXP FLOOR FLOOR_DIV FLOOR_MOD FULLY_CONNECTED GATHER GELU GREATER GREATER_EQUAL
HARD_SWISH LESS LESS_EQUAL LOG LOGISTIC MAXIMUM MAX_POOL_2D MEAN MINIMUM MIRROR_PAD MUL NEG NOT_EQUAL PACK PAD
POW PRELU QUANTIZE REDUCE_MAX REDUCE_MIN REDUCE_PROD RELU RELU6 RELU_N1_TO_1 RESHAPE RESIZE_BILINEAR
RESIZE_NEAREST_NEIGHBOR RSQRT SELECT SELECT_V2 SIN SLICE SOFTMAX SPACE_TO_DEPTH SPLIT SQRT SQUARE
SQUARED_DIFFERENCE STRIDED_SLICE SUB SUM TANH TILE TRANSPOSE TRANSPOSE_CONV
""".split())


@dataclasses.dataclass
class _Target:
    model: object
    name: str
    spec: object  # registry ModelSpec or None
    config: dict


def _log(message, quiet):
    if not quiet:
        print(message, file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------
# Options.


def _resolve(model_or_name, overrides):
    import keras

    from keras_landmarks import registry

    if isinstance(model_or_name, keras.Model):
        if overrides:
            raise ConfigError("Overrides (--set) apply to registry names, not to a model instance.")
        return _Target(model_or_name, model_or_name.name, None, {})
    text = str(model_or_name)
    if text.endswith(".keras"):
        path = pathlib.Path(text)
        if not path.is_file():
            raise ConfigError(f"No such .keras file: {text!r}")
        if overrides:
            raise ConfigError("Overrides (--set) apply to registry names, not to a .keras file.")
        import keras_landmarks  # noqa: F401  (registers the custom layers the file may use)

        return _Target(keras.saving.load_model(path), path.stem, None, {})
    spec = registry.get_spec(text)  # UnknownModelError names close matches
    model = registry.build(text, **(overrides or {}))
    return _Target(model, spec.name, spec, spec.full_config(**(overrides or {})))


def _check_options(formats, quantize, batch_size, version, out):
    formats = tuple(formats)
    quantize = tuple(quantize)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown or not formats:
        raise ConfigError(f"Unknown format {unknown[0] if unknown else '(none)'!r}. Allowed: {', '.join(FORMATS)}",
                          key="formats", value=formats)
    bad = [q for q in quantize if q not in QUANTIZATIONS]
    if bad or not quantize:
        raise ConfigError(f"Unknown quantization {bad[0] if bad else '(none)'!r}. Allowed: {', '.join(QUANTIZATIONS)}",
                          key="quantize", value=quantize)
    if any(q != "none" for q in quantize) and "tflite" not in formats:
        raise ConfigError(f"Quantization {quantize} applies to TFLite, which --formats {','.join(formats)} leaves out.")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ConfigError(f"Invalid batch size {batch_size!r}: expected a positive integer or 'dynamic'.",
                          key="batch_size", value=batch_size)
    if not isinstance(version, int) or version < 1:
        raise ConfigError(f"Invalid version {version!r}: expected a positive integer (TF Serving's version folder).",
                          key="version", value=version)
    out = pathlib.Path(out)
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise ConfigError(f"Output folder {str(out)!r} is not writable ({str(probe)!r} is not a writable folder).",
                          key="out", value=str(out))
    return formats, quantize, out


def _load_representative(path, model):
    """A .npz file of arrays keyed by input name, first dimension = samples."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"No such representative data file: {str(path)!r}")
    data = dict(np.load(path))
    missing = [t.name for t in model.inputs if t.name not in data]
    if missing:
        raise ConfigError(f"Representative data {str(path)!r} lacks inputs {missing}; it has {sorted(data)}")
    count = len(next(iter(data.values())))
    return [{k: data[k][i : i + 1] for k in (t.name for t in model.inputs)} for i in range(count)]


def _calibration(target, quantize, representative_data):
    """Calibration samples for int8, and where they come from."""
    if "int8" not in quantize:
        return None, None
    if representative_data is not None:
        if isinstance(representative_data, (str, os.PathLike)):
            return _load_representative(representative_data, target.model), f"file {representative_data}"
        return list(representative_data), "given by the caller"
    if target.spec is not None and target.spec.sample_data is not None:
        inputs, _ = target.spec.sample_data(target.config)
        name = target.model.inputs[0].name
        return [{name: inputs[i : i + 1]} for i in range(min(200, len(inputs)))], target.spec.sample_data.__doc__.strip()
    if target.spec is not None:
        samples = [sample_inputs(target.model, batch=1, seed=1000 + i, length=LENGTHS[0]) for i in range(64)]
        return samples, ("synthetic: 64 samples like the parity inputs (standard-normal floats, random token ids); "
                         "this model has no real data here, so int8 ranges fit these, not a real input distribution")
    raise ConfigError("int8 quantization needs representative data (--representative-data FILE.npz with one array "
                      "per input name) for a model that is not in the registry.", key="quantize", value="int8")


# ----------------------------------------------------------------------------------------------------
# Runtimes.


def _cases(model, batch_size):
    """Parity inputs: seeds × batch sizes (× two sequence lengths for token models)."""
    batches = (batch_size,) if batch_size else (1, LARGE_BATCH)
    lengths = LENGTHS if has_dynamic_length(model) else (LENGTHS[0],)
    return [(f"seed{s}_batch{b}" + (f"_length{n}" if len(lengths) > 1 else ""), sample_inputs(model, b, s, n))
            for s in SEEDS for b in batches for n in lengths]


class _SavedModelRunner:
    def __init__(self, path):
        import tensorflow as tf

        self.fn = tf.saved_model.load(str(path)).signatures["serving_default"]

    def __call__(self, inputs):
        import tensorflow as tf

        return {k: v.numpy() for k, v in self.fn(**{k: tf.constant(v) for k, v in inputs.items()}).items()}


def artifact_runner(fmt, path):
    from keras_landmarks.export.onnx import OnnxRunner
    from keras_landmarks.export.tflite import TFLiteRunner

    if fmt == "saved_model":
        return _SavedModelRunner(path)
    if fmt == "tflite":
        return TFLiteRunner(path=path)
    return OnnxRunner(path)


def _latency_ms(run, inputs):
    for _ in range(2):
        run(inputs)
    times = []
    for _ in range(LATENCY_RUNS):
        start = time.perf_counter()
        run(inputs)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 3)


def outputs_in_child(fmt, path, parity_file, labels):
    """Run the artifact on the parity cases `labels` in a child process: (outputs, latency, child peak)."""
    from keras_landmarks.export import _child

    with tempfile.TemporaryDirectory(prefix="keras_landmarks_outputs_") as tmp:
        result = os.path.join(tmp, "outputs.npz")
        peak = _child.run("keras_landmarks.export.convert:_outputs_child", fmt, path, parity_file, result,
                          ",".join(labels), what=f"running {pathlib.Path(path).name}", scratch=tmp)
        with np.load(result) as data:
            actuals = [{key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(f"{label}/")}
                       for label in labels]
            latency = float(data["latency_ms"])
    return actuals, latency, peak


def _outputs_child(fmt, path, parity_file, result, labels):
    """`outputs_in_child`'s child (arguments as strings)."""
    labels = labels.split(",")
    with np.load(parity_file) as data:
        cases = [{key.split("/", 2)[2]: data[key] for key in data.files if key.startswith(f"{label}/input/")}
                 for label in labels]
    run = artifact_runner(fmt, path)
    outputs = {f"{label}/{k}": v for label, inputs in zip(labels, cases) for k, v in run(inputs).items()}
    np.savez(result, latency_ms=_latency_ms(run, cases[0]), **outputs)


def weak_references(references):
    """Output names whose Keras values make a weak parity check: constant, or a saturated softmax (every
    value 0 or 1), which any runtime reproduces exactly whatever it computes before the softmax."""
    weak = []
    for name in references[0]:
        values = np.concatenate([np.ravel(np.asarray(ref[name], np.float64)) for ref in references])
        saturated = np.all((np.abs(values) < 1e-6) | (np.abs(values - 1.0) < 1e-6))
        if values.size and (np.ptp(values) == 0 or saturated):
            weak.append(name)
    return weak


def _sqnr_db(reference, actual):
    noise = np.sum((np.asarray(reference, np.float64) - np.asarray(actual, np.float64)) ** 2)
    signal = np.sum(np.asarray(reference, np.float64) ** 2)
    return float("inf") if noise == 0 else round(float(10 * np.log10(signal / noise)), 2)


def _parity(labels, actuals, references, kind, tolerance, eval_data, model, make_runner):
    """Compare the artifact's outputs with Keras's on every case; return the parity record (with `passed`)."""
    errors = {}
    sqnr = []
    for label, actual, expected in zip(labels, actuals, references):
        errors[label] = max(relative_error(actual.get(k, np.array([])), v) for k, v in expected.items())
        sqnr += [_sqnr_db(v, actual[k]) for k, v in expected.items() if k in actual]
    worst = max(errors.values())
    record = {"max_error": worst, "cases": len(errors)}
    if kind in ("float", "fp16"):
        limit = tolerance if tolerance is not None else (FLOAT_TOLERANCE if kind == "float" else FP16_TOLERANCE)
        record.update(tolerance=limit, passed=bool(worst <= limit), metric="max-abs error / output scale")
        return record
    record["sqnr_db"] = min(sqnr)
    if eval_data is None:
        record.update(passed=True, gate="none: weights without labelled evaluation data; SQNR reported")
        return record
    x, y = eval_data
    name = model.inputs[0].name
    run = make_runner()
    keras_pred = keras_outputs(model, {name: x})[output_names(model)[0]].argmax(-1)
    quant_pred = np.concatenate([run({name: x[i : i + 1]})[output_names(model)[0]] for i in range(len(x))]).argmax(-1)
    agreement = float(np.mean(keras_pred == quant_pred))
    drop = float(np.mean(keras_pred == y) - np.mean(quant_pred == y))
    record.update(top1_agreement=agreement, accuracy_keras=float(np.mean(keras_pred == y)),
                  accuracy_quantized=float(np.mean(quant_pred == y)), accuracy_drop=drop,
                  gate=f"top-1 agreement >= {INT8_AGREEMENT}, accuracy drop <= {INT8_ACCURACY_DROP}",
                  passed=bool(agreement >= INT8_AGREEMENT and drop <= INT8_ACCURACY_DROP))
    return record


# ----------------------------------------------------------------------------------------------------
# Files.


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _tree_files(path):
    path = pathlib.Path(path)
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


def tree_sha256(path):
    """sha256 of a file, or of a folder's files (relative names and contents) in sorted order."""
    path = pathlib.Path(path)
    if path.is_file():
        return _sha256(path)
    digest = hashlib.sha256()
    for file in _tree_files(path):
        digest.update(str(file.relative_to(path)).encode())
        digest.update(_sha256(file).encode())
    return digest.hexdigest()


def _size(path):
    return sum(f.stat().st_size for f in _tree_files(path))


def artifact_files(path):
    """An artifact's path, then the files it reads beside it (an ONNX model's external data)."""
    path = pathlib.Path(path)
    data = path.with_name(path.name + ".data")
    return [path, data] if path.suffix == ".onnx" and data.is_file() else [path]


def _io_spec(model, batch_size):
    from keras_landmarks.export.signature import input_specs

    specs = input_specs(model, batch_size)
    structure = model.output if isinstance(model.output, dict) else dict(zip(output_names(model), model.outputs))
    return (
        [{"name": n, "shape": [None if d is None else int(d) for d in s.shape], "dtype": s.dtype.name}
         for n, s in specs.items()],
        [{"name": n, "shape": [batch_size, *(None if d is None else int(d) for d in t.shape[1:])], "dtype": str(t.dtype)}
         for n, t in structure.items()],
    )


def _warmup_requests(path, name, cases):
    """assets.extra/tf_serving_warmup_requests: PredictionLog records TF Serving replays at load."""
    import tensorflow as tf
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    path.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path / "tf_serving_warmup_requests")) as writer:
        for _, inputs in cases[:2]:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=name, signature_name="serving_default"))
            for key, value in inputs.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request))
            writer.write(log.SerializeToString())


def _serving_files(root, name, version, signatures, inputs):
    (root / "models.config").write_text(
        "model_config_list {\n  config {\n"
        f'    name: "{name}"\n    base_path: "/models/{name}/saved_model"\n    model_platform: "tensorflow"\n'
        "  }\n}\n")
    (root / "kserve.yaml").write_text(
        "apiVersion: serving.kserve.io/v1beta1\nkind: InferenceService\nmetadata:\n"
        f"  name: {name.replace('_', '-')}\nspec:\n  predictor:\n    model:\n      modelFormat:\n"
        "        name: tensorflow\n"
        f"      storageUri: <the URI where exports/{name}/saved_model is uploaded>\n")
    example = ", ".join(f'"{i["name"]}": ...' for i in inputs)
    (root / "README.md").write_text(f"""# {name}

Converted by keras-landmarks; `manifest.json` lists every artifact with its parity against Keras.

## TF Serving

```bash
docker run --rm -p 8501:8501 -v "$PWD/saved_model:/models/{name}" -e MODEL_NAME={name} tensorflow/serving
# or, with the model config file:
docker run --rm -p 8501:8501 -v "$PWD:/models/{name}" tensorflow/serving --model_config_file=/models/{name}/models.config
curl -X POST localhost:8501/v1/models/{name}:predict -d '{{"inputs": {{{example}}}}}'
```

Version {version} is `saved_model/{version}/`; signatures: {', '.join(signatures)}. TF Serving replays
`assets.extra/tf_serving_warmup_requests` when it loads the model.

Without Docker: `keras-landmarks serve exports/{name}` serves the same REST API (KServe's V1 protocol).

## KServe

`kserve.yaml` is an InferenceService for this SavedModel: upload `saved_model/` and set `storageUri`.
""")


def _tflite_details(path):
    from keras_landmarks._quiet import native_output_muted

    with native_output_muted():
        from ai_edge_litert.interpreter import Interpreter, OpResolverType

        interpreter = Interpreter(model_path=str(path),
                                  experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    ops = interpreter._get_ops_details()
    names = sorted({op["op_name"] for op in ops})
    float_ops = sorted({op["op_name"] for op in ops
                        if op["op_name"] not in ("QUANTIZE", "DEQUANTIZE")
                        and any(i >= 0 and tensors[i]["dtype"] == np.float32 for i in op["outputs"])})
    return names, float_ops


# ----------------------------------------------------------------------------------------------------
# The pipeline.


def convert(model_or_name, *, formats=FORMATS, quantize=("none",), representative_data=None, eval_data=None,
            overrides=None, batch_size=None, version=1, out="exports", overwrite=False, allow_flex=False,
            tolerance=None, opset=None, isolate=None, check_memory=True, stream_tflite_weights=None, progress=True):
    """Convert a registry model (by name), a `.keras` file or a `keras.Model`, and prove each artifact.

    Args:
        formats: any of "saved_model", "tflite", "onnx".
        quantize: TFLite variants: "none" (float32), "fp16", "dynamic", "int8" (full integer).
        representative_data: int8 calibration: a .npz path (one array per input name) or an iterable
            of input dicts. Registry models fall back on their real data, else on synthetic data.
        eval_data: (inputs, labels) for the int8 / dynamic accuracy gate (single-input classifiers).
        overrides: registry overrides, as `build(name, **overrides)`.
        batch_size: a fixed batch dimension; None (default) keeps it dynamic.
        version: TF Serving's version folder, `saved_model/<version>/`.
        out: the output folder; artifacts go to `out/<name>/`.
        overwrite: replace an existing `out/<name>/`.
        allow_flex: allow TensorFlow (Flex) ops in TFLite files.
        tolerance: replace the float / fp16 tolerance (0 forces a miss, for testing the gate).
        opset: the ONNX opset (default: `keras_landmarks.export.onnx.DEFAULT_OPSET`).
        isolate: run the TFLite converter, onnxruntime's optimization and each artifact's parity check
            in child processes, so their memory (the converter's: about 4.6x the float32 weights) is
            returned when each ends. None (default): for models with more than `ISOLATE_BYTES` of weights.
        check_memory: before any work, compare the TFLite converter's need (estimated as
            `TFLITE_MEMORY_FACTOR` x the float32 weights + `TFLITE_MEMORY_BASE`) with the memory
            available. Where it does not fit, the float TFLite file is written with streamed weights
            (`tflite_streamed.py`, about half the memory) if that fits; otherwise, or for quantized
            variants, the conversion is refused with an error.
        stream_tflite_weights: force (True) or forbid (False) streamed weights for the float TFLite
            file; None (default) decides by the memory check.
        progress: report each artifact on stderr as it is converted and checked.

    Returns the manifest (a dict, also written as `out/<name>/manifest.json`); `format_table(manifest)`
    renders the summary table.

    Raises:
        ConfigError: a bad option, an unknown model, an existing output without `overwrite`.
        ExportError: a conversion failed, an artifact missed its parity gate, or the TFLite converter
            would not fit in the available memory (nothing is written).
    """
    from keras_landmarks.export.onnx import DEFAULT_OPSET

    formats, quantize, out = _check_options(formats, quantize, batch_size, version, out)
    started = time.perf_counter()
    target = _resolve(model_or_name, overrides)
    name = target.name
    final = out / name
    if final.exists() and not overwrite:
        raise ConfigError(f"{str(final)!r} already exists; pass --overwrite (overwrite=True) to replace it.",
                          key="out", value=str(final))
    weights = weight_bytes(target.model)
    streamed = "tflite" in formats and _tflite_plan(name, weights, quantize, check_memory, stream_tflite_weights)
    calibration, calibration_source = _calibration(target, quantize, representative_data)
    job = _Job(target=target, formats=formats, quantize=quantize, calibration=calibration,
               calibration_source=calibration_source, eval_data=eval_data, batch_size=batch_size, version=version,
               allow_flex=allow_flex, tolerance=tolerance, opset=opset or DEFAULT_OPSET,
               isolate=weights > ISOLATE_BYTES if isolate is None else bool(isolate), quiet=not progress,
               tflite_streamed=streamed)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob(f".{name}.*"):  # left by a conversion that was killed (SIGKILL skips cleanup)
        shutil.rmtree(stale, ignore_errors=True)
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{name}.", dir=out))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes it private; the export is an ordinary folder
    try:
        manifest = _run(job, work)
        manifest["conversion_seconds"] = round(time.perf_counter() - started, 2)
        manifest["peak_memory_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        children = [a["peak_memory_mb"] for a in manifest["artifacts"] if "peak_memory_mb" in a]
        if children:
            manifest["peak_memory_mb_child_processes"] = max(children)
        (work / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)  # same file system: the finished export appears at once
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return manifest


@dataclasses.dataclass
class _Job:
    target: _Target
    formats: tuple
    quantize: tuple
    calibration: list
    calibration_source: str
    eval_data: tuple
    batch_size: int
    version: int
    allow_flex: bool
    tolerance: float
    opset: int
    isolate: bool
    quiet: bool
    tflite_streamed: bool = False
    inputs_spec: list = None  # set by _run
    extra_signatures: dict = None


def weight_bytes(model):
    """The bytes of the model's variables (each counted once)."""
    from keras_landmarks.export.signature import variable_bytes

    return variable_bytes(model.variables)


def _release_memory():
    """Collect garbage and hand freed heap pages back to the system (glibc's malloc_trim, where present)."""
    gc.collect()
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def available_memory():
    """Bytes of memory available to a new process (Linux's MemAvailable), or None where unknown."""
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _tflite_plan(name, weights, quantize, check_memory, stream):
    """Whether the float TFLite conversion streams its weights; raises when TFLite cannot fit in memory."""
    if stream is not None:
        if stream and any(q != "none" for q in quantize):
            raise ConfigError("Streamed weights apply to the float TFLite file only (--quantize none).",
                              key="quantize", value=quantize)
        return bool(stream)
    available = available_memory() if check_memory else None
    needed = TFLITE_MEMORY_FACTOR * weights + TFLITE_MEMORY_BASE
    if available is None or needed <= available:
        return False
    streamed = STREAMED_MEMORY_FACTOR * weights + STREAMED_MEMORY_BASE
    advice = ("Leave TFLite out (--formats saved_model,onnx), convert on a machine with more memory, or try anyway "
              "with --skip-memory-check.")
    if streamed > available:
        raise ExportError(
            f"{name}: converting to TFLite needs about {needed / 1e9:.1f} GB of memory (the converter holds about "
            f"{TFLITE_MEMORY_FACTOR:g}x the {weights / 1e9:.2f} GB of weights; {streamed / 1e9:.1f} GB with streamed "
            f"weights), and {available / 1e9:.1f} GB is available with the model loaded. {advice}")
    quantized = [q for q in quantize if q != "none"]
    if quantized:
        raise ExportError(
            f"{name}: converting to TFLite needs about {needed / 1e9:.1f} GB of memory (the converter holds about "
            f"{TFLITE_MEMORY_FACTOR:g}x the {weights / 1e9:.2f} GB of weights), and {available / 1e9:.1f} GB is "
            f"available with the model loaded. The float TFLite file can be written with streamed weights "
            f"(about {streamed / 1e9:.1f} GB), the quantized variants {quantized} cannot: leave them out "
            f"(--quantize none). {advice}")
    return True


def _convert_artifact(job, work, saved_dir, fmt, variant, cases):
    """Write one artifact; returns (path, fixed batch or None, child peak memory in bytes or None)."""
    from keras_landmarks.export.onnx import convert_onnx
    from keras_landmarks.export.saved_model import write_saved_model
    from keras_landmarks.export.tflite import convert_tflite_file

    model, name = job.target.model, job.target.name
    if fmt == "saved_model":
        write_saved_model(model, saved_dir, extra_signatures=job.extra_signatures, batch_size=job.batch_size)
        _warmup_requests(saved_dir / "assets.extra", name, cases)
        _serving_files(work, name, job.version, ["serving_default", *job.extra_signatures], job.inputs_spec)
        return saved_dir, None, None
    if fmt == "onnx":
        path = work / f"{name}.onnx"
        convert_onnx(model, job.opset, job.batch_size, path=path, isolate=job.isolate)
        return path, None, None
    path = work / (f"{name}.tflite" if variant == "none" else f"{name}_{variant}.tflite")
    names = [t.name for t in model.inputs]
    if job.tflite_streamed and variant == "none":
        from keras_landmarks.export.tflite_streamed import convert_tflite_streamed_file

        return path, None, convert_tflite_streamed_file(model, saved_dir, path, job.batch_size, job.isolate)
    try:
        peak = convert_tflite_file(saved_dir, path, names, variant, job.calibration, job.allow_flex, job.isolate)
        return path, None, peak
    except ExportError as error:
        # Recurrent layers loop over TensorLists, which TFLite lowers to built-in ops only when their
        # element shape, batch included, is static: convert a batch-1 graph.
        if job.batch_size is not None or "TensorList" not in str(error):
            raise
    batch1 = work / ".tflite_batch1"
    if not batch1.exists():
        write_saved_model(model, batch1, batch_size=1)
    peak = convert_tflite_file(batch1, path, names, variant, job.calibration, job.allow_flex, job.isolate)
    return path, 1, peak


def _run(job, work):
    from keras_landmarks.export.saved_model import write_saved_model

    target = job.target
    model, name = target.model, target.name
    cases = _cases(model, job.batch_size)
    references = [keras_outputs(model, inputs) for _, inputs in cases]
    np.savez(work / "parity.npz", **{f"{label}/input/{k}": v for (label, inputs) in cases for k, v in inputs.items()},
             **{f"{label}/output/{k}": v for (label, _), ref in zip(cases, references) for k, v in ref.items()})
    job.inputs_spec, outputs_spec = _io_spec(model, job.batch_size)
    planned = [("saved_model", "none")] * ("saved_model" in job.formats)
    planned += [("tflite", q) for q in job.quantize] * ("tflite" in job.formats)
    planned += [("onnx", "none")] * ("onnx" in job.formats)
    artifacts = []
    saved_dir = work / "saved_model" / str(job.version)
    job.extra_signatures = _extra_signatures(target)  # decoders / samplers: built once, saved with the model
    if "tflite" in job.formats and "saved_model" not in job.formats:
        # TFLite converts from a SavedModel; without one asked for, it is a scratch folder, removed below.
        saved_dir = work / ".tflite_source"
        write_saved_model(model, saved_dir, batch_size=job.batch_size)
    for index, (fmt, variant) in enumerate(planned, 1):
        label = fmt if variant == "none" else f"{fmt} ({variant})"
        where = " (in a child process)" if fmt == "tflite" and job.isolate else ""
        if fmt == "tflite" and variant == "none" and job.tflite_streamed:
            where += " with streamed weights"
        _log(f"[{index}/{len(planned)}] {name}: {label}{where} ...", job.quiet)
        start = time.perf_counter()
        try:
            path, fixed_batch, child_peak = _convert_artifact(job, work, saved_dir, fmt, variant, cases)
        except ExportError as error:
            raise ExportError(f"{name}: {label}: {error}") from error
        seconds = round(time.perf_counter() - start, 2)
        _release_memory()  # what writing the artifact left freed, for the child processes that follow
        kind = {"none": "float", "fp16": "fp16"}.get(variant, "quantized")
        files = artifact_files(path)
        pairs = [(c, r) for c, r in zip(cases, references)
                 if fixed_batch is None or len(next(iter(c[1].values()))) == fixed_batch]
        labels = [label for (label, _), _ in pairs]
        run_peak = None
        if job.isolate:
            # TensorFlow keeps most of a loaded SavedModel after it is deleted: load artifacts in a child.
            actuals, latency, run_peak = outputs_in_child(fmt, path, work / "parity.npz", labels)
        else:
            run = artifact_runner(fmt, path)
            actuals = [run(inputs) for (_, inputs), _ in pairs]
            latency = _latency_ms(run, pairs[0][0][1])
            del run
            _release_memory()
        parity = _parity(labels, actuals, [r for _, r in pairs], kind, job.tolerance,
                         job.eval_data if kind == "quantized" else None, model, lambda: artifact_runner(fmt, path))
        record = {
            "format": fmt, "variant": variant, "path": str(path.relative_to(work)),
            "size_bytes": sum(_size(f) for f in files), "sha256": tree_sha256(path),
            "inputs": job.inputs_spec, "outputs": outputs_spec,
            "conversion_seconds": seconds, "parity": parity, "latency_ms_batch1": latency,
        }
        if len(files) > 1:
            record["external_data"] = [{"path": str(f.relative_to(work)), "sha256": tree_sha256(f),
                                        "size_bytes": _size(f)} for f in files[1:]]
        if child_peak is not None:
            record["peak_memory_mb"] = round(child_peak / 2**20, 1)
            record["process"] = "child"
        if run_peak is not None:
            record["parity_peak_memory_mb"] = round(run_peak / 2**20, 1)
        if fmt == "tflite" and variant == "none" and job.tflite_streamed:
            record["weights"] = ("streamed: the graph was converted with placeholder weights and the real ones "
                                 "written in place (tflite_streamed.py)")
        if fixed_batch:
            record["inputs"] = [{**i, "shape": [fixed_batch, *i["shape"][1:]]} for i in job.inputs_spec]
            record["outputs"] = [{**o, "shape": [fixed_batch, *o["shape"][1:]]} for o in outputs_spec]
            record["batch_size"] = fixed_batch
            record["note"] = ("batch fixed to 1: the recurrent layers' TensorList ops lower to TFLite built-in "
                              "ops only with a static batch")
        if fmt == "tflite":
            ops, float_ops = _tflite_details(path)
            record.update(ops=ops, gpu_delegate_unsupported_ops=sorted(set(ops) - GPU_DELEGATE_OPS),
                          builtin_ops_only=not any(op.startswith("Flex") for op in ops))
            if variant == "int8":
                record.update(float_ops_left=float_ops, calibration=job.calibration_source)
        elif fmt == "onnx":
            record["opset"] = job.opset
        elif fmt == "saved_model":
            record["signatures"] = ["serving_default", *job.extra_signatures]
        artifacts.append(record)
        verdict = "ok" if parity["passed"] else "MISS"
        detail = f"max error {parity['max_error']:.2e}" + (f", SQNR {parity['sqnr_db']} dB" if "sqnr_db" in parity else "")
        memory = f", converter process peak {child_peak / 2**20:,.0f} MB" if child_peak else ""
        _log(f"      {seconds:.1f} s{memory}, {record['size_bytes'] / 1e6:.2f} MB, {detail}, {latency} ms/batch-1: "
             f"{verdict}", job.quiet)
        if not parity["passed"]:
            gate = parity.get("tolerance", parity.get("gate"))
            raise ExportError(f"{name}: {label} does not match the Keras model: {detail} (gate: {gate}).")
    for scratch in (work / ".tflite_source", work / ".tflite_batch1"):
        shutil.rmtree(scratch, ignore_errors=True)
    manifest = _manifest(target, artifacts, cases, job.batch_size, job.version)
    weak = weak_references(references)
    if weak:
        hint = (" Convert with --set classifier_activation=None (overrides={'classifier_activation': None}) to "
                "compare logits." if target.spec is not None and "classifier_activation" in target.config else "")
        manifest["warnings"] = [
            f"The Keras outputs {weak} are constant or a saturated softmax (all 0 or 1) on the parity inputs, "
            f"as an untrained deep network's often are: every artifact matches them trivially, so parity on "
            f"them says little.{hint}"]
    return manifest


def _extra_signatures(target):
    """Decoders and samplers of the models that generate, exported as their own signatures."""
    if target.spec is None:
        return {}
    family = target.spec.family
    if family == "gpt":
        from keras_landmarks.models.gpt import make_generator

        return {"generate": make_generator(target.model)}
    if family in ("transformer", "rnnsearch"):
        from keras_landmarks.models import rnnsearch, transformer

        greedy, beam = (transformer if family == "transformer" else rnnsearch).make_decoder(target.model)
        return {"greedy_decode": greedy, "beam_decode": beam}
    return {}


def _manifest(target, artifacts, cases, batch_size, version):
    from keras_landmarks.registry import paper_param_count

    fastest = {}
    for art in artifacts:
        runtime = {"saved_model": "tensorflow", "tflite": "litert", "onnx": "onnxruntime"}[art["format"]]
        if art["parity"]["passed"] and (runtime not in fastest or art["latency_ms_batch1"] < fastest[runtime][1]):
            fastest[runtime] = (art["path"], art["latency_ms_batch1"])
    float_tflite = next((a for a in artifacts if a["format"] == "tflite" and a["variant"] == "none"), None)
    for art in artifacts:
        if art["format"] == "tflite" and art["variant"] != "none" and float_tflite:
            art["slower_than_float"] = art["latency_ms_batch1"] > float_tflite["latency_ms_batch1"]
    spec = target.spec
    return {
        "model": target.name,
        "paper": None if spec is None else dataclasses.asdict(spec.paper),
        "config": {k: v for k, v in target.config.items()},
        "parameters": paper_param_count(target.model),
        "batch_size": batch_size or "dynamic",
        "saved_model_version": version if "saved_model" in {a["format"] for a in artifacts} else None,
        "parity_inputs": {"file": "parity.npz", "cases": [label for label, _ in cases]},
        "artifacts": artifacts,
        "fastest_verified": {runtime: path for runtime, (path, _) in fastest.items()},
    }


def format_table(manifest):
    """The end-of-conversion table: format, file, size, max error vs Keras, latency."""
    rows = [("artifact", "file", "size", "max error", "latency (batch 1)", "")]
    float_latency = next((a["latency_ms_batch1"] for a in manifest["artifacts"]
                          if a["format"] == "tflite" and a["variant"] == "none"), None)
    for art in manifest["artifacts"]:
        label = art["format"] + ("" if art["variant"] == "none" else f" ({art['variant']})")
        error = f"{art['parity']['max_error']:.1e}"
        if "sqnr_db" in art["parity"]:
            error += f" (SQNR {art['parity']['sqnr_db']} dB)"
        note = ""
        if art.get("slower_than_float"):
            note = f"slower than float TFLite ({float_latency} ms)"
        path = art["path"] + (" (+ .data)" if art.get("external_data") else "")
        rows.append((label, path, f"{art['size_bytes'] / 1e6:.1f} MB", error, f"{art['latency_ms_batch1']} ms", note))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    fastest = ", ".join(f"{k}: {v}" for k, v in manifest["fastest_verified"].items())
    return "\n".join([f"{manifest['model']}: {len(manifest['artifacts'])} artifacts, all verified", *lines,
                      f"fastest verified per runtime: {fastest}",
                      f"peak memory {manifest.get('peak_memory_mb')} MB"
                      + (f" (TFLite converter processes: {manifest['peak_memory_mb_child_processes']} MB)"
                         if "peak_memory_mb_child_processes" in manifest else "")
                      + f", {manifest.get('conversion_seconds')} s",
                      *(f"warning: {w}" for w in manifest.get("warnings", []))])
