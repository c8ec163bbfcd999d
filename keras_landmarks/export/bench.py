"""Latency of a model in every runtime, measured in one run on one machine.

For each model: Keras eager, Keras in a `tf.function` (and with XLA), the SavedModel, each TFLite
variant (XNNPACK on all cores) and ONNX Runtime, at batch 1 and 8: the median of `runs` timed calls
after `warmup` untimed ones. Artifacts come from `convert()` — the same tool converts the
keras.applications peers (`keras_applications/ResNet50`, `keras_applications/VGG16`), so ours and
theirs are compared like for like. Each model is measured in its own process, so memory from one
does not weigh on the next.
"""

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

DEFAULT_MODELS = ("resnet50", "keras_applications/ResNet50", "vgg16", "keras_applications/VGG16")
PEERS = {"resnet50": "keras_applications/ResNet50", "vgg16": "keras_applications/VGG16"}
BATCHES = (1, 8)


def _build(name):
    import keras

    import keras_landmarks

    if name.startswith("keras_applications/"):
        builder = getattr(keras.applications, name.split("/", 1)[1])
        return builder(weights=None)
    return keras_landmarks.build(name)


def _time(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def measure(name, runs=20, warmup=3, quantize=("none", "fp16", "dynamic", "int8")):
    """{runtime label: {batch: median ms}} for one model (call in a fresh process)."""
    import tensorflow as tf

    from keras_landmarks.export.pipeline import convert
    from keras_landmarks.inputs import sample_inputs
    from keras_landmarks.export.onnx import OnnxRunner
    from keras_landmarks.export.signature import feed_inputs
    from keras_landmarks.export.tflite import TFLiteRunner

    model = _build(name)
    threads = os.cpu_count()
    results = {}
    with tempfile.TemporaryDirectory() as out:
        # Speed does not depend on calibration quality: int8 calibrates on 16 synthetic samples.
        calibration = [sample_inputs(model, batch=1, seed=1000 + i) for i in range(16)]
        manifest = convert(model, quantize=quantize, representative_data=calibration, out=out, progress=False)
        folder = os.path.join(out, manifest["model"])
        saved = tf.saved_model.load(os.path.join(folder, "saved_model", "1")).signatures["serving_default"]
        graph = tf.function(lambda x: model(x, training=False))
        xla = tf.function(lambda x: model(x, training=False), jit_compile=True)
        runners = {"keras eager": lambda x: model(feed_inputs(model, x), training=False),
                   "keras tf.function": lambda x: graph(feed_inputs(model, x)),
                   "keras tf.function + XLA": lambda x: xla(feed_inputs(model, x)),
                   "saved_model": lambda x: saved(**{k: tf.constant(v) for k, v in x.items()})}
        for art in manifest["artifacts"]:
            path = os.path.join(folder, art["path"])
            if art["format"] == "tflite":
                label = "tflite " + ("float" if art["variant"] == "none" else art["variant"])
                runners[label] = TFLiteRunner(path=path, num_threads=threads)
            elif art["format"] == "onnx":
                runners["onnxruntime"] = OnnxRunner(path, num_threads=threads)
        for batch in BATCHES:
            x = sample_inputs(model, batch=batch, seed=0)
            for label, run in runners.items():
                results.setdefault(label, {})[batch] = round(_time(lambda: run(x), warmup, runs), 3)
    return {"model": name, "parameters": int(model.count_params()), "latency_ms": results,
            "peak_memory_mb": manifest["peak_memory_mb"],
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
        "on either). "
        "`keras_applications/*` are Keras's own models, converted by the same tool.",
        "",
    ]
    for batch in BATCHES:
        lines += [f"## Batch {batch}", "", "| runtime | " + " | ".join(r["model"] for r in rows) + " |",
                  "|---|" + "---:|" * len(rows)]
        for label in runtimes:
            cells = [f"{r['latency_ms'][label][batch]:.2f}" if label in r["latency_ms"] else "—" for r in rows]
            float_ref = [r["latency_ms"].get("tflite float", {}).get(batch) for r in rows]
            if label.startswith("tflite ") and label != "tflite float":
                cells = [c + (" (slower than float)" if f and label in r["latency_ms"]
                              and r["latency_ms"][label][batch] > f else "")
                         for c, f, r in zip(cells, float_ref, rows)]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    by_name = {r["model"]: r for r in rows}
    ratios = [(ours, peer) for ours, peer in PEERS.items() if ours in by_name and peer in by_name]
    if ratios:
        lines += ["## Ours against keras.applications", "",
                  "Latency ratio ours / keras.applications (below 1: ours is faster).", "",
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
