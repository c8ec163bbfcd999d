"""Latency of a model in every runtime, measured in one run on one machine.

For each model: Keras eager, Keras in a `tf.function` (and with XLA), the SavedModel, and every timed
artifact of the format table that `convert()` writes (each TFLite variant with XNNPACK on all cores,
each ONNX variant in ONNX Runtime's CPU provider), at batch 1 and 8: the median of `runs` timed calls
after `warmup` untimed ones. Images run at their input size, token models at length 128 (the length
such models serve; their files are converted for that length, as an app runs them). The peers are
converted by the same tool: keras.applications' `ResNet50` and `VGG16`, and keras-hub's `BertBackbone`
and `GPT2CausalLM` built with our configuration (no presets, no downloads), so ours and theirs are
compared like for like. Each model is measured in its own process, so memory from one does not weigh
on the next.
"""

import json
import os
import pathlib
import platform
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_MODELS = ("resnet50", "keras_applications/ResNet50", "vgg16", "keras_applications/VGG16",
                  "bert_base", "keras_hub/BertBackbone", "gpt2", "keras_hub/GPT2CausalLM")
PEERS = {"resnet50": "keras_applications/ResNet50", "vgg16": "keras_applications/VGG16",
         "bert_base": "keras_hub/BertBackbone", "gpt2": "keras_hub/GPT2CausalLM"}
BATCHES = (1, 8)
QUANTIZE = ("none", "fp16", "dynamic", "int8")


def _keras_hub_peer(name):
    """keras-hub's model of the same configuration as our model it is the peer of."""
    import keras_hub

    ours = next(o for o, p in PEERS.items() if p == name)
    from keras_landmarks.registry import get_spec

    c = get_spec(ours).full_config()
    common = dict(vocabulary_size=c["vocabulary_size"], num_layers=c["num_layers"], num_heads=c["num_heads"],
                  hidden_dim=c["hidden_dim"], intermediate_dim=c["intermediate_dim"], dropout=c["dropout"],
                  max_sequence_length=c["max_sequence_length"])
    if name == "keras_hub/BertBackbone":
        return keras_hub.models.BertBackbone(num_segments=c["num_segments"], **common), ours
    return keras_hub.models.GPT2CausalLM(backbone=keras_hub.models.GPT2Backbone(**common), preprocessor=None), ours


def _build(name):
    """(model, the registry name whose declared input kinds it takes)."""
    import keras

    import keras_landmarks

    if name.startswith("keras_applications/"):
        return getattr(keras.applications, name.split("/", 1)[1])(weights=None), None
    if name.startswith("keras_hub/"):
        return _keras_hub_peer(name)
    return keras_landmarks.build(name), name


def _time(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def runtime_label(fmt):
    """The table row of a format's artifact: family and variant ("tflite float", "onnx int8")."""
    return f"{fmt.family} {'float' if fmt.variant == 'none' else fmt.variant}"


def measure(name, runs=20, warmup=3, quantize=QUANTIZE):
    """{runtime label: {batch: median ms}} for one model (call in a fresh process)."""
    import tensorflow as tf

    from keras_landmarks.export.formats import format_of
    from keras_landmarks.export.pipeline import convert
    from keras_landmarks.inputs import BENCH_LENGTH, has_dynamic_length, input_kinds, representative_length, sample_inputs
    from keras_landmarks.export.signature import feed_inputs
    from keras_landmarks.registry import get_spec

    model, declared_by = _build(name)
    spec = get_spec(declared_by) if declared_by else None
    declared = spec.inputs(spec.full_config()) if spec is not None and spec.inputs else {}
    kinds = input_kinds(model, declared)
    length = representative_length(kinds, BENCH_LENGTH) if has_dynamic_length(model) else None
    threads = os.cpu_count()
    results = {}
    details = {}
    with tempfile.TemporaryDirectory() as out:
        # Speed does not depend on calibration quality: int8 calibrates on 16 synthetic samples.
        calibration = [sample_inputs(model, 1, 1000 + i, length or 1, kinds) for i in range(16)]
        manifest = convert(model, formats=("saved_model", "tflite", "onnx"), quantize=quantize,
                           representative_data=calibration, inputs=declared, sequence_length=length, out=out,
                           progress=False)
        folder = os.path.join(out, manifest["model"])
        saved = tf.saved_model.load(os.path.join(folder, "saved_model", "1")).signatures["serving_default"]
        graph = tf.function(lambda x: model(x, training=False))
        xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
        runners = {"keras eager": lambda x: model(feed_inputs(model, x), training=False),
                   "keras tf.function": lambda x: graph(feed_inputs(model, x)),
                   "keras tf.function + XLA": lambda x: xla(feed_inputs(model, x)),
                   "saved_model": lambda x: saved(**{k: tf.constant(v) for k, v in x.items()})}
        for art in manifest["artifacts"]:
            fmt = format_of(art)
            if fmt.family != "saved_model" and fmt.timed:
                runners[runtime_label(fmt)] = fmt.runner(os.path.join(folder, art["path"]), num_threads=threads)
                if "xnnpack" in art:
                    details[runtime_label(fmt)] = art["xnnpack"]
        for batch in BATCHES:
            x = sample_inputs(model, batch, 0, length or 1, kinds)
            for label, run in runners.items():
                results.setdefault(label, {})[batch] = round(_time(lambda: run(x), warmup, runs), 3)
    return {"model": name, "parameters": int(model.count_params()), "latency_ms": results,
            "sequence_length": length, "xnnpack": details, "fastest_verified": manifest["fastest_verified"],
            "peak_memory_mb": manifest["peak_memory_mb"],
            "peak_memory_mb_child_processes": manifest.get("peak_memory_mb_child_processes")}


# The int8 schemes tried for Transformers, on the static [1, length] graph an edge app runs.
SCHEMES = {
    "float": "float32",
    "dynamic": "dynamic range: int8 weights, activations quantized on the fly (the `tflite_dynamic` file)",
    "int8": "full integer with float fallback (the `tflite_int8` file)",
    "int8 (float softmax, LayerNorm, GELU)": "full integer except SOFTMAX, the LayerNorm ops, GELU and the "
                                             "element-wise ops, kept in float (LiteRT's selective quantization)",
    "int16x8": "16-bit activations, 8-bit weights",
}
SCHEME_MODELS = ("bert_base",)


def int8_schemes(name="bert_base", length=128, runs=20, warmup=3, samples=32):
    """Each scheme of `SCHEMES` on `name` at a static [1, length]: [{scheme, ms, size_mb, sqnr_db, max_error,
    float_ops, xnnpack} or {scheme, error}] (call in a fresh process)."""
    import tensorflow as tf

    from keras_landmarks._quiet import native_output_muted
    from keras_landmarks.export.parity import sqnr_db
    from keras_landmarks.export.saved_model import write_saved_model
    from keras_landmarks.export.signature import keras_outputs, relative_error
    from keras_landmarks.export.tflite import TFLiteRunner, op_details
    from keras_landmarks.inputs import input_kinds, sample_inputs

    model, declared_by = _build(name)
    from keras_landmarks.registry import get_spec

    spec = get_spec(declared_by)
    kinds = input_kinds(model, spec.inputs(spec.full_config()))
    names = [t.name for t in model.inputs]
    calibration = [sample_inputs(model, 1, 1000 + i, length, kinds) for i in range(samples)]
    x = sample_inputs(model, 1, 0, length, kinds)
    reference = keras_outputs(model, x)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        write_saved_model(model, tmp, batch_size=1, sequence_length=length)

        def dataset():
            for sample in calibration:
                yield {n: sample[n] for n in names}

        for scheme in SCHEMES:
            converter = tf.lite.TFLiteConverter.from_saved_model(tmp, signature_keys=["serving_default"])
            ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            if scheme != "float":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            if scheme.startswith("int"):
                converter.representative_dataset = dataset
                ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8, tf.lite.OpsSet.TFLITE_BUILTINS]
            if scheme == "int16x8":
                ops = [tf.lite.OpsSet.EXPERIMENTAL_TFLITE_BUILTINS_ACTIVATIONS_INT16_WEIGHTS_INT8,
                       tf.lite.OpsSet.TFLITE_BUILTINS]
            converter.target_spec.supported_ops = ops
            try:
                with native_output_muted():
                    if scheme.startswith("int8 ("):
                        options = tf.lite.experimental.QuantizationDebugOptions(denylisted_ops=[
                            "SOFTMAX", "MEAN", "SQUARED_DIFFERENCE", "RSQRT", "GELU", "SUB", "ADD", "MUL", "TANH"])
                        content = tf.lite.experimental.QuantizationDebugger(
                            converter=converter, debug_dataset=dataset, debug_options=options
                        ).get_nondebug_quantized_model()
                    else:
                        content = converter.convert()
            except Exception as error:  # a scheme the converter cannot apply to this graph is reported
                rows.append({"scheme": scheme, "sequence_length": length,
                             "error": str(error).strip().splitlines()[0][:200]})
                continue
            run = TFLiteRunner(model_content=content, num_threads=os.cpu_count())
            out = run(x)
            key = next(iter(reference))
            rows.append({"scheme": scheme, "sequence_length": length, "ms": round(_time(lambda: run(x), warmup, runs), 3),
                         "size_mb": round(len(content) / 1e6, 1), "sqnr_db": sqnr_db(reference[key], out[key]),
                         "max_error": relative_error(out[key], reference[key]),
                         "float_ops": op_details(model_content=content)[1], **run.report()})
    return rows


def _in_subprocess(call):
    """Run `keras_landmarks.export.bench.<call>` in a fresh Python process; its JSON result."""
    code = (f"import json; from keras_landmarks.export import bench; print('RESULT ' + json.dumps(bench.{call}))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    line = next((l for l in result.stdout.splitlines() if l.startswith("RESULT ")), None)
    if result.returncode or line is None:
        raise RuntimeError(f"benchmark {call} failed:\n{result.stderr[-3000:]}")
    return json.loads(line[len("RESULT "):])


def _int_batches(row):
    # JSON keys are strings: the batch sizes come back as ints.
    row["latency_ms"] = {label: {int(b): ms for b, ms in by_batch.items()} for label, by_batch in row["latency_ms"].items()}
    return row


def _order(name):
    return DEFAULT_MODELS.index(name) if name in DEFAULT_MODELS else len(DEFAULT_MODELS)


def run_all(models=DEFAULT_MODELS, runs=20, output="docs/benchmarks.md", quiet=False, schemes=SCHEME_MODELS,
            update=False):
    """Measure each model in a subprocess, then the int8 schemes of the `schemes` models among them, and
    write the Markdown table to `output` (and the raw numbers beside it as .json, saved after each step).

    With `update`, the rows of other models already in that JSON are kept (the named ones replaced). Every
    row records the run it was measured in, and a model is compared with its peer only when both come
    from the same run: latency moves with the machine's state, so a ratio across runs would not mean much."""
    raw = os.path.splitext(output)[0] + ".json"
    data = {"runs": runs, "rows": [], "int8_schemes": {}}
    if update and os.path.exists(raw):
        with open(raw) as handle:
            data = json.load(handle)
        if data["runs"] != runs:
            raise ValueError(f"{raw} was measured with --runs {data['runs']}; update it with the same. Received: {runs}")
        data["rows"] = [_int_batches(r) for r in data["rows"] if r["model"] not in models]
        data["int8_schemes"] = {k: v for k, v in data.get("int8_schemes", {}).items() if k not in models}
    run_id = time.strftime("%Y-%m-%dT%H:%M:%S")
    os.makedirs(os.path.dirname(raw) or ".", exist_ok=True)

    def save():
        data["rows"].sort(key=lambda r: _order(r["model"]))
        with open(raw, "w") as handle:
            json.dump(data, handle, indent=2)

    for name in models:
        if not quiet:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
        row = _int_batches(_in_subprocess(f"measure({name!r}, runs={runs})"))
        row["run"] = run_id
        data["rows"].append(row)
        save()
    for name in (n for n in schemes if n in models):
        if not quiet:
            print(f"int8 schemes of {name} ...", file=sys.stderr, flush=True)
        data["int8_schemes"][name] = _in_subprocess(f"int8_schemes({name!r}, runs={runs})")
        save()
    text = format_markdown(data["rows"], runs, data["int8_schemes"])
    write_section(output, "latency", text)
    return data["rows"], text


def render(raw="docs/benchmarks.json", output="docs/benchmarks.md"):
    """Re-render the Markdown table from the raw numbers of earlier runs (no measuring)."""
    with open(raw) as handle:
        data = json.load(handle)
    text = format_markdown([_int_batches(row) for row in data["rows"]], data["runs"], data.get("int8_schemes", {}))
    write_section(output, "latency", text)
    return text


def write_section(path, name, text):
    """Write `text` as the section `name` of the Markdown file `path`, keeping its other sections.

    docs/benchmarks.md holds the runtimes' latency (`tools/bench.py`) and the server's throughput
    (`tools/bench_serving.py`); each tool rewrites its own section between HTML comment markers, so
    re-measuring one leaves the other as it was. The file is replaced atomically."""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    block = f"{begin}\n{text.rstrip()}\n{end}\n"
    current = pathlib.Path(path).read_text() if os.path.exists(path) else ""
    if begin in current and end in current:
        head, rest = current.split(begin, 1)
        updated = head + block + rest.split(end, 1)[1].lstrip("\n")
    else:
        updated = (current.rstrip() + "\n\n" if current.strip() else "") + block
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    temporary = f"{path}.tmp"
    pathlib.Path(temporary).write_text(updated)
    os.replace(temporary, path)


def format_markdown(rows, runs, schemes=None):
    runtimes = list(dict.fromkeys(label for row in rows for label in row["latency_ms"]))
    lines = [
        "# Benchmarks",
        "",
        f"Median latency in milliseconds over {runs} timed calls after warm-up, measured by "
        "`python tools/bench.py` on one machine: "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPU cores, "
        f"Python {platform.python_version()}. TFLite runs with XNNPACK on all cores; ONNX Runtime on the "
        "CPU provider. Weights are random and int8 is calibrated on synthetic inputs (speed does not depend "
        "on either). Token models run at sequence length "
        f"{', '.join(sorted({str(r['sequence_length']) for r in rows if r.get('sequence_length')})) or '—'} "
        "(batch 1 and 8), their artifacts converted for that length (`--sequence-length`). "
        "`keras_applications/*` are Keras's own models and `keras_hub/*` keras-hub's, built with our "
        "configuration and converted by the same tool.",
        "",
    ]
    runs_of = {}
    for r in rows:
        runs_of.setdefault(r.get("run", "unrecorded"), []).append(r["model"])
    if len(runs_of) > 1:
        lines += ["Rows measured in the same run: " + "; ".join(f"{run}: {', '.join(models)}"
                                                               for run, models in runs_of.items()) + ".", ""]
    for batch in BATCHES:
        lines += [f"## Batch {batch}", "", "| runtime | " + " | ".join(r["model"] for r in rows) + " |",
                  "|---|" + "---:|" * len(rows)]
        for label in runtimes:
            cells = [f"{r['latency_ms'][label][batch]:.2f}" if label in r["latency_ms"] else "—" for r in rows]
            family, _, variant = label.partition(" ")
            float_ref = [r["latency_ms"].get(f"{family} float", {}).get(batch) for r in rows]
            if variant and variant != "float":  # rows with a float row of their family: tflite, onnx
                cells = [c + (" (slower than float)" if f and label in r["latency_ms"]
                              and r["latency_ms"][label][batch] > f else "")
                         for c, f, r in zip(cells, float_ref, rows)]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    by_name = {r["model"]: r for r in rows}
    ratios = [(ours, peer) for ours, peer in PEERS.items()
              if ours in by_name and peer in by_name and by_name[ours].get("run") == by_name[peer].get("run")]
    if ratios:
        lines += ["## Ours against the peers", "",
                  "Latency ratio ours / peer (below 1: ours is faster): keras.applications for the image models, "
                  "keras-hub for the Transformers; each pair measured in the same run.", "",
                  "| runtime | batch | " + " | ".join(f"{o} / {p.split('/')[1]}" for o, p in ratios) + " |",
                  "|---|---:|" + "---:|" * len(ratios)]
        for label in runtimes:
            for batch in BATCHES:
                cells = []
                for ours, peer in ratios:
                    a = by_name[ours]["latency_ms"].get(label, {}).get(batch)
                    b = by_name[peer]["latency_ms"].get(label, {}).get(batch)
                    cells.append(f"{a / b:.2f}" if a and b else "—")
                lines.append(f"| {label} | {batch} | " + " | ".join(cells) + " |")
        lines.append("")
    for name, results in (schemes or {}).items():
        float_ms = next((r["ms"] for r in results if r["scheme"] == "float" and "ms" in r), None)
        length = results[0]["sequence_length"]
        lines += [f"## int8 schemes: {name} at a static [1, {length}]", "",
                  "The TFLite file an edge app runs (batch 1, one sequence length), converted with each "
                  "quantization scheme and timed with XNNPACK on all cores. SQNR and error are against Keras "
                  "on one input (random weights: no accuracy to compare). The fastest verified scheme is the "
                  "one the tool's manifest names for this model.", "",
                  "| scheme | ms | speed-up over float | size (MB) | SQNR (dB) | XNNPACK partitions | ops left in float |",
                  "|---|---:|---:|---:|---:|---:|---|"]
        for r in results:
            if "error" in r:
                lines.append(f"| {r['scheme']} | failed: {r['error']} | | | | | |")
                continue
            speedup = f"{float_ms / r['ms']:.2f}×" if float_ms else "—"
            floats = ", ".join(r["float_ops"]) if r["scheme"] != "float" else "all"
            lines.append(f"| {r['scheme']} | {r['ms']:.2f} | {speedup} | {r['size_mb']:.1f} | {r['sqnr_db']} | "
                         f"{r.get('xnnpack', {}).get('partitions', '—')} | {floats} |")
        fastest = next((r.get("fastest_verified", {}).get("litert") for r in rows if r["model"] == name), None)
        lines += [""] + [f"- {scheme}: {text}" for scheme, text in SCHEMES.items()]
        if fastest:
            lines += ["", f"The manifest of `convert {name}` (length {length}, all TFLite variants) names "
                          f"`{fastest}` the fastest verified TFLite file."]
        lines.append("")
    lines += ["## Conversion", "",
              "Peak memory of each model's conversion to SavedModel, TFLite and ONNX with every variant "
              "(fp16, dynamic and int8 calibration add to the float-only conversion's peak). Models over 256 MB "
              "of weights convert and check their artifacts in child processes, whose largest peak is the last "
              "column (— where the run predates them or none was used).", "",
              "| model | parameters (Keras count) | peak memory of the conversion (MB) | its child processes (MB) |",
              "|---|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['parameters']:,} | {r['peak_memory_mb']:,.0f} | "
              f"{'—' if not r.get('peak_memory_mb_child_processes') else format(r['peak_memory_mb_child_processes'], ',.0f')} |"
              for r in rows]
    return "\n".join(lines) + "\n"
