"""Parity: the inputs artifacts are checked on, the gates they must pass, and how fast they run.

Every artifact runs in its own runtime on the Keras model's inputs (several seeds, batch 1 and a larger
batch, two sequence lengths for token models). Gates, by the artifact's precision:

- float (SavedModel, TFLite float, ONNX): max-abs error over the output's scale ≤ `FLOAT_TOLERANCE`;
- fp16: ≤ `FP16_TOLERANCE`. Where an fp16 artifact misses, the error is explained by
  `float16_weights_error`: Keras's own error with its weights rounded to float16 (computed in float32),
  about the least any artifact storing float16 weights can have. A deep network with fresh weights can
  be past the gate on that alone (a fresh ResNet-152 v2 at its test size: 2.0e-2), and then no
  float16 conversion of it can pass;
- quantized (dynamic-range, int8): element-wise error says little here, so the gate is on what the
  output is for (`AccuracyGate`, `PerplexityGate`, `SampleGate`). A classifier: top-1 agreement ≥
  `INT8_AGREEMENT` and an accuracy drop ≤ `INT8_ACCURACY_DROP` on labelled evaluation data. A language
  model: held-out perplexity within `INT8_PERPLEXITY_CHANGE` of Keras's. An agent: the same action
  as Keras's on `INT8_AGREEMENT` of recorded states (`ActionGate`). A generator: the Fréchet
  distance, on a judge classifier's features, between the Keras model's and the artifact's samples from
  the same latents, no larger than between two halves of the real test images (the real data's own
  sampling spread). Both are only meaningful for trained weights; without evaluation data or a judge,
  the signal-to-quantization-noise ratio is reported.

Latency is measured at the shape a user runs (`keras_landmarks.inputs.representative_length`: token
models at length 128 unless told otherwise, images at their input size), batch 1 and 8.
"""

import json
import os
import pathlib
import tempfile
import time

import numpy as np

from keras_landmarks.export.signature import keras_outputs, output_names, relative_error

FLOAT_TOLERANCE = 1e-4
FP16_TOLERANCE = 1e-2
INT8_AGREEMENT = 0.99
INT8_ACCURACY_DROP = 0.01
INT8_PERPLEXITY_CHANGE = 0.02  # either way: a lower one is a different function too
SAMPLE_GATE_COUNT = 500  # generated samples per gate (fewer when the judge's test split is smaller)
SAMPLE_GATE_SEED = 0
SEEDS = (0, 1, 2)
LENGTHS = (8, 16)
LARGE_BATCH = 4
LATENCY_BATCHES = (1, 8)
LATENCY_RUNS = 10
LATENCY_BUDGET_S = 5.0  # per artifact and batch: fewer timed runs (at least 3) for slow models
LATENCY_SKIP_S = 10.0  # a larger batch whose call would take longer than this is not timed


def cases(model, kinds, batch_size=None, sequence_length=None):
    """Parity inputs: [(label, {input name: array})] over seeds × batch sizes (× two lengths for token
    models, unless the length is fixed)."""
    from keras_landmarks.inputs import has_dynamic_length, sample_inputs

    batches = (batch_size,) if batch_size else (1, LARGE_BATCH)
    lengths = LENGTHS if has_dynamic_length(model) else (LENGTHS[0],)
    if sequence_length:
        lengths = (sequence_length,)
    return [(f"seed{s}_batch{b}" + (f"_length{n}" if len(lengths) > 1 else ""), sample_inputs(model, b, s, n, kinds))
            for s in SEEDS for b in batches for n in lengths]


def latency_inputs(model, kinds, length, batch_size=None, sequence_length=None):
    """{batch: inputs} at the representative shape: `length` for dynamic dimensions (bounded by the
    inputs' declared maximum; the fixed length where there is one), batch 1 and 8 (or the fixed batch)."""
    from keras_landmarks.inputs import representative_length, sample_inputs

    length = sequence_length or representative_length(kinds, length)
    batches = (batch_size,) if batch_size else LATENCY_BATCHES
    return {b: sample_inputs(model, b, 0, length, kinds) for b in batches}


def save_cases(path, labelled, references):
    """parity.npz: `label/input/name` and `label/output/name` arrays."""
    np.savez(path, **{f"{label}/input/{k}": v for label, inputs in labelled for k, v in inputs.items()},
             **{f"{label}/output/{k}": v for (label, _), ref in zip(labelled, references) for k, v in ref.items()})


def load_cases(path):
    """{label: {"input": {...}, "output": {...}}} from parity.npz."""
    loaded = {}
    with np.load(path) as data:
        for key in data.files:
            label, kind, name = key.split("/", 2)
            loaded.setdefault(label, {"input": {}, "output": {}})[kind][name] = data[key]
    return loaded


def latency_ms(run, inputs):
    """Median ms of up to `LATENCY_RUNS` timed calls after one warm-up (at least 3 within `LATENCY_BUDGET_S`)."""
    run(inputs)
    times = []
    while len(times) < LATENCY_RUNS and (len(times) < 3 or sum(times) < LATENCY_BUDGET_S):
        start = time.perf_counter()
        run(inputs)
        times.append(time.perf_counter() - start)
    return round(1000 * float(np.median(times)), 3)


def measure(run, inputs, timing):
    """Outputs of `run` on each input dict, {"batchN": ms} on the `timing` inputs ({batch: inputs}), and
    what the runner reports of how its runtime took the artifact (`run.report()`, where it has one).

    A larger batch is not timed when the smaller one says a call would take over `LATENCY_SKIP_S`
    (GPT-2 large at 8 × 128 tokens: about half a minute a call on two cores)."""
    outputs = [run(x) for x in inputs]
    latency, last = {}, None
    for batch, x in sorted((timing or {}).items()):
        if last is not None and last[1] / last[0] * batch / 1000 > LATENCY_SKIP_S:
            break
        latency[f"batch{batch}"] = latency_ms(run, x)
        last = (batch, latency[f"batch{batch}"])
    return outputs, latency, run.report() if hasattr(run, "report") else {}


def measure_in_child(format_name, path, parity_file, labels, timing_file=None):
    """`measure` for an artifact loaded in a child process, so the runtime's memory returns at exit:
    (outputs, latency, report, child peak in bytes)."""
    from keras_landmarks.export import _child

    with tempfile.TemporaryDirectory(prefix="keras_landmarks_outputs_") as tmp:
        result = os.path.join(tmp, "outputs.npz")
        peak = _child.run("keras_landmarks.export.parity:_measure_child", format_name, path, parity_file,
                          timing_file or "", result, ",".join(labels), what=f"running {pathlib.Path(path).name}",
                          scratch=tmp)
        with np.load(result) as data:
            outputs = [{key.split("/", 1)[1]: data[key] for key in data.files if key.startswith(f"{label}/")}
                       for label in labels]
            latency = {key.split("/", 1)[1]: float(data[key]) for key in data.files if key.startswith("latency/")}
            report = json.loads(str(data["report"]))
    return outputs, latency, report, peak


def _measure_child(format_name, path, parity_file, timing_file, result, labels):
    from keras_landmarks.export.formats import FORMATS

    labels = labels.split(",")
    stored = load_cases(parity_file)
    timing = load_timing(timing_file) if timing_file else None
    outputs, latency, report = measure(FORMATS[format_name].runner(path), [stored[label]["input"] for label in labels],
                                       timing)
    np.savez(result, report=json.dumps(report), **{f"latency/{k}": v for k, v in latency.items()},
             **{f"{label}/{k}": v for label, out in zip(labels, outputs) for k, v in out.items()})


def save_timing(path, timing):
    """The latency inputs ({batch: {input name: array}}) as `batch/name` arrays."""
    np.savez(path, **{f"{b}/{k}": v for b, inputs in timing.items() for k, v in inputs.items()})


def load_timing(path):
    timing = {}
    with np.load(path) as data:
        for key in data.files:
            batch, name = key.split("/", 1)
            timing.setdefault(int(batch), {})[name] = data[key]
    return timing


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


def sqnr_db(reference, actual):
    noise = np.sum((np.asarray(reference, np.float64) - np.asarray(actual, np.float64)) ** 2)
    signal = np.sum(np.asarray(reference, np.float64) ** 2)
    return float("inf") if noise == 0 else round(float(10 * np.log10(signal / noise)), 2)


class AccuracyGate:
    """Classifiers: the artifact's top-1 predictions on labelled data `(x, y)` against Keras's (`kinds`,
    the declared input kinds, is taken by every gate of `GATES`; one image input needs none)."""

    def __init__(self, x, y, kinds=None):
        self.x, self.y = x, y

    def __call__(self, model, run):
        name, output = model.inputs[0].name, output_names(model)[0]
        x, y = self.x, self.y
        keras_pred = keras_outputs(model, {name: x})[output].argmax(-1)
        quant_pred = np.concatenate([run({name: x[i : i + 1]})[output] for i in range(len(x))]).argmax(-1)
        agreement = float(np.mean(keras_pred == quant_pred))
        drop = float(np.mean(keras_pred == y) - np.mean(quant_pred == y))
        return {"top1_agreement": agreement, "accuracy_keras": float(np.mean(keras_pred == y)),
                "accuracy_quantized": float(np.mean(quant_pred == y)), "accuracy_drop": drop,
                "gate": f"top-1 agreement >= {INT8_AGREEMENT}, accuracy drop <= {INT8_ACCURACY_DROP}",
                "passed": bool(agreement >= INT8_AGREEMENT and drop <= INT8_ACCURACY_DROP)}


class PerplexityGate:
    """Language models: held-out perplexity of the artifact's next-word distributions against Keras's on
    the same windows `x` with their next words `y` (one per window, or one per position of a segment).
    The token ids go to the model's token input (its first, unless another is declared `TokenIds`); an
    input declared as carried state (a `Memory`, such
    as Transformer-XL's) is given empty, each window read on its own. The first output (or `logits`)
    holds the distributions."""

    def __init__(self, x, y, kinds=None):
        self.x, self.y, self.kinds = x, y, kinds

    def _inputs(self, model, ids):
        from keras_landmarks.inputs import input_kinds, token_input

        kinds = self.kinds or input_kinds(model)
        tokens = token_input(model, kinds)
        feed = {tokens: ids}
        for tensor in model.inputs:
            if tensor.name == tokens:
                continue
            axis = getattr(kinds[tensor.name], "empty_axis", None)
            if axis is None:
                raise ValueError(f"The perplexity gate feeds token ids and empty state; {model.name}'s input "
                                 f"{tensor.name!r} is neither.")
            shape = [len(ids) if i == 0 else 0 if i == axis else d for i, d in enumerate(tensor.shape)]
            feed[tensor.name] = np.zeros(shape, np.float32)
        return feed

    def __call__(self, model, run):
        from keras_landmarks.training.language import next_word_nats
        from keras_landmarks.training.procedures import outputs_probabilities

        names = output_names(model)
        output = "logits" if "logits" in names else names[0]
        x, probabilities = self.x, outputs_probabilities(model)
        keras_out = keras_outputs(model, self._inputs(model, x))[output]
        quant_out = np.concatenate([run(self._inputs(model, x[i : i + 1]))[output] for i in range(len(x))])
        keras_ppl = float(np.exp(next_word_nats(keras_out, self.y, probabilities).mean()))
        quant_ppl = float(np.exp(next_word_nats(quant_out, self.y, probabilities).mean()))
        change = quant_ppl / keras_ppl - 1
        return {"examples": int(len(x)), "perplexity_keras": keras_ppl, "perplexity_quantized": quant_ppl,
                "perplexity_change": change,
                "top1_agreement": float(np.mean(keras_out.argmax(-1) == quant_out.argmax(-1))),
                "gate": f"held-out perplexity within {100 * INT8_PERPLEXITY_CHANGE:g}% of Keras's",
                "passed": bool(abs(change) <= INT8_PERPLEXITY_CHANGE)}


class SampleGate:
    """Generators: `count` samples from the same latents (drawn from the declared prior, `kinds`) through
    Keras and through the artifact, both judged by `judge` (a `keras_landmarks.training.judge.Judge`)."""

    def __init__(self, judge, kinds=None, count=SAMPLE_GATE_COUNT, seed=SAMPLE_GATE_SEED):
        self.judge, self.kinds, self.count, self.seed = judge, kinds, count, seed
        self._real = None  # the judge's features of two disjoint halves of its test images, once per export

    def _real_halves(self):
        if self._real is None:
            real = self.judge.real_images("test")
            n = min(self.count, len(real) // 2)
            order = np.random.default_rng(self.seed).permutation(len(real))
            self._real = tuple(self.judge(real[order[i * n : (i + 1) * n]])[0] for i in (0, 1))
        return self._real

    def __call__(self, model, run):
        from keras_landmarks.inputs import sample_inputs
        from keras_landmarks.training.judge import frechet_distance, image_range, to_pixels

        real_a, real_b = self._real_halves()
        n = len(real_a)
        inputs = sample_inputs(model, n, self.seed, kinds=self.kinds)
        output = output_names(model)[0]
        value_range = image_range(model)
        keras_images = keras_outputs(model, inputs)[output]
        quantized = np.concatenate([run({k: v[i : i + 1] for k, v in inputs.items()})[output] for i in range(n)])
        (keras_f, keras_p), (quant_f, quant_p) = (self.judge(to_pixels(images, value_range))
                                                  for images in (keras_images, quantized))
        between, spread = frechet_distance(keras_f, quant_f), frechet_distance(real_a, real_b)
        return {"samples": n, "judge": self.judge.describe(), "frechet_keras_vs_quantized": round(between, 4),
                "frechet_real_halves": round(spread, 4),
                "frechet_keras_vs_real": round(frechet_distance(keras_f, real_a), 4),
                "frechet_quantized_vs_real": round(frechet_distance(quant_f, real_a), 4),
                "judge_label_agreement": float(np.mean(keras_p.argmax(-1) == quant_p.argmax(-1))),
                "gate": "Fréchet distance (judge features) between Keras and quantized samples of the same latents "
                        "<= that between two halves of the real test images",
                "passed": bool(between <= spread)}


class ActionGate:
    """Agents (a Q-network, a policy or policy-value network): on recorded states `x` (an array for the
    first input), the action Keras's network chooses, the argmax of its Q-values or move probabilities
    (`legal`: an optional (states, actions) boolean mask of the moves allowed in each; others are never
    chosen), against the artifact's. It must choose the same action on at least `INT8_AGREEMENT` of them."""

    OUTPUTS = ("q_values", "policy", "logits")  # the first of these a model has is the one acted on

    def __init__(self, x, legal=None, kinds=None):
        self.x = np.asarray(x)
        self.legal = None if legal is None else np.asarray(legal, bool)
        if self.legal is not None and self.legal.shape[0] != len(self.x):
            raise ValueError(f"The legal-move mask has {self.legal.shape[0]} rows for {len(self.x)} states.")

    def _actions(self, values):
        values = np.asarray(values, np.float64).reshape(len(values), -1)
        if self.legal is not None:
            values = np.where(self.legal[:, : values.shape[1]], values, -np.inf)
        return values.argmax(-1)

    def __call__(self, model, run):
        names = output_names(model)
        output = next((n for n in self.OUTPUTS if n in names), names[0])
        name = model.inputs[0].name
        keras_action = self._actions(keras_outputs(model, {name: self.x})[output])
        quant_action = self._actions(np.concatenate([run({name: self.x[i : i + 1]})[output]
                                                     for i in range(len(self.x))]))
        agreement = float(np.mean(keras_action == quant_action))
        return {"states": int(len(self.x)), "action_agreement": agreement,
                "gate": f"the same action as Keras on >= {INT8_AGREEMENT} of the recorded states",
                "passed": bool(agreement >= INT8_AGREEMENT)}


# what gates quantized artifacts: a training procedure's `quality_metric`, or an agent's task
GATES = {"accuracy": AccuracyGate, "perplexity": PerplexityGate, "action": ActionGate}
AGENT_TASKS = ("q_function", "policy", "policy_value")  # their evaluation data: recorded states


def gate(precision, labels, actuals, references, tolerance=None, quality=None, model=None, make_runner=None):
    """Compare an artifact's outputs with Keras's on every case; the parity record (with `passed`).
    `quality`: the quantized artifacts' gate (`AccuracyGate`, `PerplexityGate`, `SampleGate`), or None."""
    errors = {}
    sqnr = []
    for label, actual, expected in zip(labels, actuals, references):
        errors[label] = max(relative_error(actual.get(k, np.array([])), v) for k, v in expected.items())
        sqnr += [sqnr_db(v, actual[k]) for k, v in expected.items() if k in actual]
    worst = max(errors.values())
    record = {"max_error": worst, "cases": len(errors)}
    if precision in ("float", "fp16"):
        limit = tolerance if tolerance is not None else (FLOAT_TOLERANCE if precision == "float" else FP16_TOLERANCE)
        record.update(tolerance=limit, passed=bool(worst <= limit), metric="max-abs error / output scale")
        return record
    record["sqnr_db"] = min(sqnr)
    if quality is None:
        record.update(passed=True, gate="none: weights without labelled evaluation data or a judge; SQNR reported")
        return record
    record.update(quality(model, make_runner()))
    return record


def float16_weights_error(model, cases):
    """max relative error of the Keras model with its weights rounded to float16 (and computed in float32)
    against the model itself, over `cases` ([{input name: array}]): the error that float16 storage alone
    costs, whatever the runtime does with it."""
    weights = model.get_weights()
    references = [keras_outputs(model, inputs) for inputs in cases]
    try:
        model.set_weights([w.astype(np.float16).astype(w.dtype) if np.issubdtype(w.dtype, np.floating) else w
                           for w in weights])
        rounded = [keras_outputs(model, inputs) for inputs in cases]
    finally:
        model.set_weights(weights)
    return max(relative_error(r[k], ref[k]) for r, ref in zip(rounded, references) for k in ref)


def verify_limit(parity):
    """The limit a re-check must meet: the gate's tolerance, else the error recorded at conversion."""
    return parity.get("tolerance", parity["max_error"] * 1.01 + 1e-7)
