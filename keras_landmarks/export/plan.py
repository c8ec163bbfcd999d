"""The plan: every option checked and every decision taken before any work, frozen.

`make_plan(...)` resolves the model (a registry name, a `.keras` file or a `keras.Model`), reads what
the model declares (input kinds and extra signatures, from its registry entry), picks the artifacts
from the format table (`--formats` names formats or families; a family contributes the variants named
in `--quantize`), orders them so that each source comes before what is made from it, loads the
calibration data, and runs the memory check. Steps read the plan; none changes it.
"""

import dataclasses
import os
import pathlib
import zipfile

import numpy as np

from keras_landmarks import options
from keras_landmarks.errors import ConfigError
from keras_landmarks.export import memory
from keras_landmarks.export.formats import FORMATS, QUANTIZATIONS, families
from keras_landmarks.export.manifest import io_spec

CALIBRATION_SAMPLES = 200  # real samples, where a model has some
SYNTHETIC_CALIBRATION_SAMPLES = 64


@dataclasses.dataclass(frozen=True)
class Plan:
    model: object
    name: str
    spec: object  # registry ModelSpec, or None
    config: dict
    kinds: dict  # {input name: keras_landmarks.inputs.InputKind}
    formats: tuple  # Format objects, in the order they are written
    extra_signatures: dict  # {signature name: tf.function}, served beside serving_default
    inputs: list  # [{name, shape, dtype}] as exported (batch as planned)
    outputs: list
    latency_shape: dict  # {input name: shape} at batch 1 that latency is measured at
    batch_size: int | None = None
    version: int = 1
    calibration: list | None = None
    calibration_source: str | None = None
    quality: object = None  # the quantized artifacts' gate: a parity.GATES entry, parity.SampleGate, or None
    allow_flex: bool = False
    tolerance: float | None = None
    opset: int = 17
    isolate: bool = False
    tflite_streamed: bool = False
    sequence_length: int | None = None  # fixes every dynamic dimension after the batch (edge files run one length)
    bench_length: int = 128
    quiet: bool = False


def resolve_model(model_or_name, overrides, weights=None):
    """(model, name, spec or None, full config) for a registry name, a `.keras` path or a keras.Model."""
    import keras

    from keras_landmarks import registry

    if weights is not None and (isinstance(model_or_name, keras.Model) or str(model_or_name).endswith(".keras")):
        raise ConfigError("--weights fills a registry model by name; a model instance or .keras file has its own.",
                          key="weights", value=str(weights))
    if isinstance(model_or_name, keras.Model):
        if overrides:
            raise ConfigError("Overrides (--set) apply to registry names, not to a model instance.")
        spec, config = registry.built_from(model_or_name) or (None, {})
        return model_or_name, model_or_name.name, spec, config
    text = str(model_or_name)
    if text.endswith(".keras"):
        path = pathlib.Path(text)
        if not path.is_file():
            raise ConfigError(f"No such .keras file: {text!r}")
        if overrides:
            raise ConfigError("Overrides (--set) apply to registry names, not to a .keras file.")
        import keras_landmarks

        keras_landmarks._load()  # registers the custom layers the file may use

        import zipfile

        if not zipfile.is_zipfile(path):  # Keras would say "File not found" of a file that exists
            raise ConfigError(f"{text!r} is not a .keras file Keras can load: it is not a zip archive "
                              f"({path.stat().st_size:,} bytes; a .keras file is one, as `model.save` writes it).",
                              key="model", value=text)
        try:
            return keras.saving.load_model(path), path.stem, None, {}
        except Exception as error:  # a truncated, empty or foreign file fails in zipfile, h5py or Keras
            first = (str(error).strip().splitlines() or [""])[0][:200]
            raise ConfigError(f"{text!r} is not a .keras file Keras can load ({type(error).__name__}: {first}).",
                              key="model", value=text) from None
    spec = registry.get_spec(text)  # UnknownModelError names close matches
    model = registry.build(text, weights=weights, **(overrides or {}))
    return model, spec.name, spec, registry.built_from(model)[1]


def select_formats(formats, quantize):
    """The Format objects that `formats` (format or family names) and `quantize` (variants) ask for,
    ordered so that every source is written before the formats made from it."""
    formats, quantize = options.check_format_names(formats, quantize,
                                                   {f.name: (f.family, f.variant) for f in FORMATS.values()})
    known = families()
    chosen = []
    for fmt in FORMATS.values():
        single = len(known[fmt.family]) == 1  # a family with one variant is taken whatever --quantize says
        named_itself = fmt.name in formats and fmt.name not in known  # "tflite" names the family, not its float file
        if named_itself or (fmt.family in formats and (single or fmt.variant in quantize)):
            chosen.append(fmt)
    named = {f for f in formats if f in known}
    for variant in quantize:
        if named and not any(fmt.variant == variant for fmt in chosen if fmt.family in named):
            offered = dict.fromkeys(f.family for f in FORMATS.values() if f.variant == variant)
            raise ConfigError(f"Quantization {variant!r} applies to {', '.join(offered)}, which --formats "
                              f"{','.join(formats)} leaves out.", key="quantize", value=quantize)
    return _sources_first(chosen)


def _sources_first(chosen):
    names = {f.name for f in chosen}
    ordered, placed = [], set()

    def place(fmt):
        if fmt.name in placed:
            return
        for source in fmt.sources:
            if source in names:
                place(FORMATS[source])
        ordered.append(fmt)
        placed.add(fmt.name)

    for fmt in chosen:
        place(fmt)
    return tuple(ordered)


def check_options(batch_size, version, out, opset=None, tolerance=None):
    options.batch_size(batch_size)
    options.version(version)
    options.opset(opset)
    options.tolerance(tolerance)
    return options.writable_folder(out)


def _load_representative(path, model, kinds):
    """A .npz file of arrays keyed by input name, first dimension = samples (no pickled objects)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise ConfigError(f"No such representative data file: {str(path)!r}", key="representative_data",
                          value=str(path))
    try:
        with np.load(path) as loaded:  # allow_pickle=False: a pickle is refused, never run
            data = {key: loaded[key] for key in loaded.files}
    except (AttributeError, TypeError):  # a .npy file: one array, no input names
        raise ConfigError(f"Representative data {str(path)!r} is a single .npy array; expected an .npz file with "
                          f"one array per input ({[t.name for t in model.inputs]}).", key="representative_data",
                          value=str(path)) from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise ConfigError(f"Representative data {str(path)!r} is not a readable .npz file of arrays "
                          f"({type(error).__name__}: {error}).", key="representative_data", value=str(path)) from None
    missing = [t.name for t in model.inputs if t.name not in data]
    if missing:
        raise ConfigError(f"Representative data {str(path)!r} lacks inputs {missing}; it has {sorted(data)}",
                          key="representative_data", value=str(path))
    samples = [{k: data[k][i : i + 1] for k in (t.name for t in model.inputs)}
               for i in range(len(data[model.inputs[0].name]) if data[model.inputs[0].name].ndim else 0)]
    return check_samples(samples, model, f"Representative data {str(path)!r}", kinds)


def check_samples(samples, model, what, kinds):
    """Calibration samples ({input name: array of batch 1}) that fit the model's inputs and their declared
    kinds (the checks the server applies to requests), else one line."""
    if not samples:
        raise ConfigError(f"{what} holds no sample: int8 ranges need at least one.", key="representative_data")
    for tensor in model.inputs:
        expected = [None, *tensor.shape[1:]]
        for index, sample in enumerate(samples):
            array = np.asarray(sample.get(tensor.name))
            fits = array.ndim == len(expected) and all(w is None or g == w for g, w in zip(array.shape, expected))
            if not fits or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool):
                raise ConfigError(f"{what}: array {tensor.name!r} has samples of shape {list(array.shape[1:])} "
                                  f"({array.dtype}); {model.name} takes {list(tensor.shape[1:])} "
                                  f"({tensor.dtype}) per sample.", key="representative_data")
            try:
                kinds[tensor.name].check(tensor.name, array)
            except ValueError as error:
                raise ConfigError(f"{what}, sample {index}: {error}", key="representative_data") from None
    return samples


def calibration(model, spec, config, kinds, representative_data, sequence_length=None, run=None):
    """Calibration samples for int8, and where they come from."""
    from keras_landmarks.export.parity import LENGTHS
    from keras_landmarks.inputs import sample_inputs

    if representative_data is not None:
        if isinstance(representative_data, (str, os.PathLike)):
            return _load_representative(representative_data, model, kinds), f"file {representative_data}"
        return (check_samples(list(representative_data), model, "The representative data given", kinds),
                "given by the caller")
    if run is not None:
        from keras_landmarks.training import runs

        from keras_landmarks.inputs import complete_inputs, token_input

        samples = runs.calibration_samples(run, token_input(model, kinds))
        samples = [complete_inputs(model, sample, kinds, seed=i) for i, sample in enumerate(samples)]
        others = [t.name for t in model.inputs if t.name not in samples[0]] if samples else []
        drawn = f" ({', '.join(others)} drawn from the declared kinds)" if others else ""
        return samples, f"{len(samples)} examples of the training split of {runs.describe(run)}{drawn}"
    if spec is not None and spec.sample_data is not None:
        inputs, _ = spec.sample_data(config)
        name = model.inputs[0].name
        samples = [{name: inputs[i : i + 1]} for i in range(min(CALIBRATION_SAMPLES, len(inputs)))]
        return samples, spec.sample_data.__doc__.strip()
    if spec is not None:
        length = sequence_length or LENGTHS[0]
        samples = [sample_inputs(model, 1, 1000 + i, length, kinds) for i in range(SYNTHETIC_CALIBRATION_SAMPLES)]
        described = ", ".join(f"{n}: {k.describe()['kind']}" for n, k in kinds.items())
        return samples, (f"synthetic: {SYNTHETIC_CALIBRATION_SAMPLES} samples drawn from the declared input kinds "
                         f"({described}); this model has no real data here, so int8 ranges fit these, not a real "
                         "input distribution")
    raise ConfigError("int8 quantization needs representative data (--representative-data FILE.npz with one array "
                      "per input name) for a model that is not in the registry.", key="quantize", value="int8")


def quality_gate(name, chosen, kinds, eval_data, judge, metric="accuracy"):
    """The gate quantized artifacts must pass: `metric` on labelled data (a classifier's accuracy, a
    language model's perplexity: `parity.GATES`), or a judge's Fréchet distance (generators: a model with
    a latent input); None when neither is given."""
    from keras_landmarks.export.parity import GATES, SampleGate
    from keras_landmarks.inputs import Latent

    if judge is None:
        return GATES[metric](*eval_data, kinds=kinds) if eval_data is not None else None
    if not any(f.precision == "quantized" for f in chosen):
        raise ConfigError(f"A judge gates quantized generators, and none is asked for (--formats "
                          f"{','.join(f.name for f in chosen)}); add --quantize int8 or dynamic, or leave it out.",
                          key="judge", value=str(judge))
    if not any(isinstance(kind, Latent) for kind in kinds.values()):
        raise ConfigError(f"A judge gates generators (a model with a latent input); {name}'s inputs are "
                          f"{', '.join(sorted(kinds))}.", key="judge", value=str(judge))
    if eval_data is not None:
        raise ConfigError("Pass either labelled evaluation data (a classifier) or a judge (a generator), not both.",
                          key="judge", value=str(judge))
    from keras_landmarks.training.judge import Judge

    return SampleGate(judge if isinstance(judge, Judge) else Judge(judge), kinds)


def make_plan(model_or_name, *, formats, quantize, representative_data, eval_data, judge, overrides, weights,
              batch_size, version, out, overwrite, allow_flex, tolerance, opset, isolate, check_memory,
              stream_tflite_weights, bench_length, sequence_length, inputs, progress):
    """Check every option and take every decision; returns (Plan, output folder)."""
    from keras_landmarks.export.onnx import DEFAULT_OPSET
    from keras_landmarks.export.parity import AGENT_TASKS
    from keras_landmarks.inputs import BENCH_LENGTH, input_kinds, representative_length

    chosen = select_formats(formats, quantize)
    out = check_options(batch_size, version, out, opset, tolerance)
    bench_length = BENCH_LENGTH if bench_length is None else bench_length
    options.positive("bench_length", bench_length)
    options.positive("sequence_length", sequence_length)
    model, name, spec, config = resolve_model(model_or_name, overrides, weights)
    run, metric = None, "accuracy"  # labelled data given by the caller is a classifier's
    if spec is not None and spec.task in AGENT_TASKS:
        metric = "action"  # an agent's evaluation data: recorded states (and their legal moves)
    if isinstance(model_or_name, (str, os.PathLike)) and str(model_or_name).endswith(".keras"):
        from keras_landmarks.training import runs

        run = runs.record_for(model_or_name)  # a run's network: its registry entry (and a classifier's data)
        if run is not None:
            entry, entry_config = runs.registry_entry(run, model_or_name)
            if entry is not None:
                spec, config = entry, entry_config
            metric = runs.quality_metric(run)
            if metric is None:
                run = None
            elif eval_data is None and (len(model.inputs) == 1 or metric == "perplexity") and any(
                    f.precision == "quantized" for f in chosen):  # the perplexity gate gives state inputs empty
                eval_data = runs.evaluation_data(run)
    final = out / name
    if final.exists() and not overwrite:
        raise ConfigError(f"{str(final)!r} already exists; pass --overwrite (overwrite=True) to replace it.",
                          key="out", value=str(final))
    declared = {} if spec is None or spec.inputs is None else spec.inputs(config)
    try:
        kinds = input_kinds(model, {**declared, **(inputs or {})})
    except ValueError as error:
        raise ConfigError(str(error), key="inputs", value=sorted(inputs or {})) from None
    quality = quality_gate(name, chosen, kinds, eval_data, judge, metric)
    if sequence_length is not None:
        from keras_landmarks.inputs import has_dynamic_length

        longest = min([k.max_length for k in kinds.values() if k.max_length] or [None], key=lambda n: n or 0)
        if not has_dynamic_length(model):
            raise ConfigError(f"{name} has no dynamic dimension for --sequence-length to fix "
                              f"(its inputs: {[tuple(t.shape) for t in model.inputs]}).", key="sequence_length",
                              value=sequence_length)
        if longest and sequence_length > longest:
            raise ConfigError(f"Invalid sequence length {sequence_length}: {name} takes at most {longest} tokens.",
                              key="sequence_length", value=sequence_length)
    weights = memory.weight_bytes(model)
    tflite_variants = [f.variant for f in chosen if f.family == "tflite"]
    streamed = bool(tflite_variants) and memory.tflite_streamed(name, weights, tflite_variants, check_memory,
                                                                stream_tflite_weights)
    needs = any(f.needs_calibration for f in chosen)
    if representative_data is not None and not needs:
        raise ConfigError("Representative data calibrates int8 artifacts, and none is asked for "
                          f"(--formats {','.join(f.name for f in chosen)}); add --quantize int8 or leave it out.",
                          key="representative_data")
    samples, source = (calibration(model, spec, config, kinds, representative_data, sequence_length, run) if needs
                       else (None, None))
    io_inputs, io_outputs = io_spec(model, batch_size, sequence_length)
    length = sequence_length or representative_length(kinds, bench_length)
    latency_shape = {t.name: [1, *(length if d is None else int(d) for d in t.shape[1:])] for t in model.inputs}
    plan = Plan(
        model=model, name=name, spec=spec, config=config, kinds=kinds, formats=chosen,
        extra_signatures=spec.signatures(model) if spec is not None and spec.signatures else {},
        inputs=io_inputs, outputs=io_outputs, latency_shape=latency_shape, batch_size=batch_size, version=version,
        calibration=samples, calibration_source=source, quality=quality, allow_flex=allow_flex,
        tolerance=tolerance, opset=DEFAULT_OPSET if opset is None else opset,
        isolate=weights > memory.ISOLATE_BYTES if isolate is None else bool(isolate), tflite_streamed=streamed,
        sequence_length=sequence_length, bench_length=bench_length, quiet=not progress)
    return plan, out
