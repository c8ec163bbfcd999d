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
            "sequence_length": length, "xnnpack": details, "peak_memory_mb": manifest["peak_memory_mb"],
            "peak_memory_mb_child_processes": manifest.get("peak_memory_mb_child_processes")}


def run_all(models=DEFAULT_MODELS, runs=20, output="docs/benchmarks.md", quiet=False):
    """Measure each model in a subprocess and write the Markdown table to `output` (and the raw
    numbers beside it as .json, saved after each model)."""
    rows = []
    raw = os.path.splitext(output)[0] + ".json"
    for name in models:
        if not quiet:
            print(f"measuring {name} ...", file=sys.stderr, flush=True)
        code = ("import json, sys; from keras_landmarks.export.bench import measure; "
                f"print('RESULT ' + json.dumps(measure({name!r}, runs={runs})))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = next((l for l in result.stdout.splitlines() if l.startswith("RESULT ")), None)
        if result.returncode or line is None:
            raise RuntimeError(f"benchmark of {name} failed:\n{result.stderr[-3000:]}")
        row = json.loads(line[len("RESULT "):])
        # JSON keys are strings: the batch sizes come back as ints.
        row["latency_ms"] = {label: {int(b): ms for b, ms in by_batch.items()} for label, by_batch in row["latency_ms"].items()}
        rows.append(row)
        os.makedirs(os.path.dirname(raw) or ".", exist_ok=True)
        with open(raw, "w") as handle:
            json.dump({"runs": runs, "rows": rows}, handle, indent=2)
    text = format_markdown(rows, runs)
    os.makedirs(os.path.dirname(output) or ".", exist_ok=True)
    with open(output, "w") as handle:
        handle.write(text)
    return rows, text


def render(raw="docs/benchmarks.json", output="docs/benchmarks.md"):
    """Re-render the Markdown table from the raw numbers of an earlier run (no measuring)."""
    with open(raw) as handle:
        data = json.load(handle)
    rows = data["rows"]
    for row in rows:
        row["latency_ms"] = {label: {int(b): ms for b, ms in by_batch.items()} for label, by_batch in row["latency_ms"].items()}
    text = format_markdown(rows, data["runs"])
    with open(output, "w") as handle:
        handle.write(text)
    return text


def format_markdown(rows, runs):
    runtimes = list(dict.fromkeys(label for row in rows for label in row["latency_ms"]))
    lines = [
        "# Benchmarks",
        "",
        f"Median latency in milliseconds over {runs} timed calls after warm-up, measured by "
        "`python tools/bench.py` in one run on one machine: "
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
    ratios = [(ours, peer) for ours, peer in PEERS.items() if ours in by_name and peer in by_name]
    if ratios:
        lines += ["## Ours against the peers", "",
                  "Latency ratio ours / peer (below 1: ours is faster): keras.applications for the image models, "
                  "keras-hub for the Transformers.", "",
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
    lines += ["## Conversion", "",
              "Peak memory of each model's conversion to all three formats with all four TFLite variants "
              "(fp16, dynamic and int8 calibration add to the float-only conversion's peak). Models over 256 MB "
              "of weights convert and check their artifacts in child processes, whose largest peak is the last "
              "column (— where the run predates them or none was used).", "",
              "| model | parameters (Keras count) | peak memory of the conversion (MB) | its child processes (MB) |",
              "|---|---:|---:|---:|"]
    lines += [f"| {r['model']} | {r['parameters']:,} | {r['peak_memory_mb']:,.0f} | "
              f"{'—' if not r.get('peak_memory_mb_child_processes') else format(r['peak_memory_mb_child_processes'], ',.0f')} |"
              for r in rows]
    return "\n".join(lines) + "\n"
