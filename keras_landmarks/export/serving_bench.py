"""Serving throughput: the `keras-landmarks serve` process against the same SavedModel called in process.

For each model: convert it to a SavedModel (random weights; speed does not depend on them), then

- in process: the signature called on one example (calls/s), and where one request's time goes when
  the server handles it: decoding the JSON body, checking it (`SavedModelPredictor.parse`), running the
  model, encoding the JSON answer;
- served: `keras-landmarks serve` in its own process on 127.0.0.1, `requests` requests of one example
  each from `clients` concurrent clients (keep-alive connections): requests/s, p50 and p99 latency,
  errors, and the server ÷ in-process ratio.

Token models send sequences of length 128 (`keras_landmarks.inputs.BENCH_LENGTH`, or the model's
longest). `python tools/bench_serving.py` writes the tables into the serving section of
docs/benchmarks.md (the raw numbers into docs/benchmarks_serving.json).
"""

import concurrent.futures
import http.client
import json
import os
import pathlib
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np

from keras_landmarks.export.bench import write_section

DEFAULT_MODELS = ("lenet5", "resnet50", "bert_base")


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _body(model, kinds, length):
    from keras_landmarks.inputs import sample_inputs

    inputs = sample_inputs(model, 1, 0, length, kinds)
    return json.dumps({"inputs": {k: v.tolist() for k, v in inputs.items()}}).encode(), inputs


def _per_second(fn, seconds=3.0, least=5):
    fn()
    count, start = 0, time.perf_counter()
    while count < least or time.perf_counter() - start < seconds:
        fn()
        count += 1
    return count / (time.perf_counter() - start)


def _breakdown(predictor, body, repeats):
    """Median ms of each step a request goes through in the server's process."""
    steps = {"decode JSON": [], "check request": [], "run model": [], "encode JSON": []}
    for _ in range(repeats):
        t0 = time.perf_counter()
        payload = json.loads(body)
        t1 = time.perf_counter()
        arrays, _ = predictor.parse(payload)
        t2 = time.perf_counter()
        outputs = predictor.run(arrays)
        t3 = time.perf_counter()
        json.dumps({"outputs": {k: v.tolist() for k, v in outputs.items()}})
        t4 = time.perf_counter()
        for key, a, b in zip(steps, (t0, t1, t2, t3), (t1, t2, t3, t4)):
            steps[key].append(b - a)
    return {key: round(1000 * float(np.median(v)), 3) for key, v in steps.items()}


def stop_server(process):
    """Stop a `keras-landmarks serve` started in its own session: SIGTERM, then SIGKILL after 30 s."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def _serve(folder, port):
    exe = shutil.which("keras-landmarks", path=os.path.dirname(sys.executable)) or "keras-landmarks"
    log = open(pathlib.Path(folder).parent / "server.log", "w")
    process = subprocess.Popen([exe, "serve", str(folder), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    deadline = time.time() + 180
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited: " + (pathlib.Path(folder).parent / "server.log").read_text()[-2000:])
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", f"/v1/models/{pathlib.Path(folder).name}")
            if connection.getresponse().status == 200:
                return process, log
        except OSError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError("the server did not become ready in 180 s")


def _load(base_path, port, body, requests, clients):
    """(requests/s, p50 ms, p99 ms, errors) of `requests` POSTs from `clients` keep-alive clients."""
    per_client = [requests // clients + (i < requests % clients) for i in range(clients)]

    def client(count):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        times, errors = [], 0
        for _ in range(count):
            start = time.perf_counter()
            connection.request("POST", base_path + ":predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            times.append(time.perf_counter() - start)
            errors += response.status != 200
        connection.close()
        return times, errors

    client(2)  # warm-up
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(client, per_client))
    elapsed = time.perf_counter() - start
    latencies = np.concatenate([t for t, _ in results]) * 1000
    return (round(requests / elapsed, 1), round(float(np.percentile(latencies, 50)), 2),
            round(float(np.percentile(latencies, 99)), 2), sum(e for _, e in results))


def measure(name, requests=200, clients=8, overrides=None):
    """One model's row (call in a fresh process: the served model's memory is its own)."""
    import tensorflow as tf

    from keras_landmarks.export.pipeline import convert
    from keras_landmarks.export.serving import SavedModelPredictor
    from keras_landmarks.inputs import BENCH_LENGTH, has_dynamic_length, representative_length

    import keras_landmarks
    from keras_landmarks.inputs import input_kinds

    model = keras_landmarks.build(name, **(overrides or {}))
    kinds = input_kinds(model)
    dynamic = has_dynamic_length(model)
    length = representative_length(kinds, BENCH_LENGTH) if dynamic else 1
    with tempfile.TemporaryDirectory() as out:
        manifest = convert(model, formats=("saved_model",), out=out, progress=False)
        folder = pathlib.Path(out) / manifest["model"]
        body, inputs = _body(model, kinds, length)
        predictor = SavedModelPredictor(folder)
        tensors = {k: tf.constant(v) for k, v in inputs.items()}
        in_process = _per_second(lambda: predictor.signature(**tensors))
        request_in_process = _per_second(lambda: predictor.predict(json.loads(body)))
        steps = _breakdown(predictor, body, repeats=max(5, min(50, int(in_process))))
        del predictor, model
        port = free_port()
        process, log = _serve(folder, port)
        try:
            served = _load(f"/v1/models/{manifest['model']}", port, body, requests, clients)
        finally:
            stop_server(process)
            log.close()
    rps, p50, p99, errors = served
    return {"model": name, "sequence_length": length if dynamic else None,
            "request_bytes": len(body), "in_process_calls_per_s": round(in_process, 1),
            "in_process_requests_per_s": round(request_in_process, 1), "steps_ms": steps,
            "served_requests_per_s": rps, "p50_ms": p50, "p99_ms": p99, "errors": errors, "requests": requests,
            "clients": clients, "ratio": round(rps / in_process, 3)}


def format_markdown(rows):
    lines = [
        "## Serving throughput",
        "",
        f"Measured by `python tools/bench_serving.py` on one machine: {platform.machine()}, {os.cpu_count()} CPU "
        f"cores, Python {platform.python_version()}. Each request carries one example as TF Serving REST JSON "
        "(`inputs` format); the server is `keras-landmarks serve` (KServe's model server, one worker) on "
        "127.0.0.1, loaded by concurrent keep-alive clients in the measuring process.",
        "",
        "| model | request (KB) | in process (calls/s) | in process, whole request (req/s) | served (req/s) | p50 (ms) | p99 (ms) | errors | served ÷ in process |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['model']} | {r['request_bytes'] / 1024:,.1f} | {r['in_process_calls_per_s']:,.1f} | "
                     f"{r['in_process_requests_per_s']:,.1f} | {r['served_requests_per_s']:,.1f} | {r['p50_ms']:,.2f} | "
                     f"{r['p99_ms']:,.2f} | {r['errors']} of {r['requests']} | {r['ratio']:.2f} |")
    steps = list(rows[0]["steps_ms"]) if rows else []
    lines += ["", "### Where a request's time goes", "",
              "Median milliseconds of each step the server takes for one request, measured in process.", "",
              "| model | " + " | ".join(steps) + " |", "|---|" + "---:|" * len(steps)]
    for r in rows:
        lines.append(f"| {r['model']} | " + " | ".join(f"{ms:,.3f}" for ms in r["steps_ms"].values()) + " |")
    return "\n".join(lines) + "\n"


def run_all(models=DEFAULT_MODELS, requests=200, clients=8, output="docs/benchmarks.md",
            raw="docs/benchmarks_serving.json", overrides=None, quiet=False):
    """Measure each model in its own process; write the tables as the serving section of `output`
    (`bench.write_section`) and the raw numbers to `raw`, saved after each model."""
    rows = []
    for name in models:
        if not quiet:
            print(f"serving {name} ...", file=sys.stderr, flush=True)
        call = f"measure({name!r}, requests={requests}, clients={clients}, overrides={overrides!r})"
        code = ("import json; from keras_landmarks.export import serving_bench; "
                f"print('RESULT ' + json.dumps(serving_bench.{call}))")
        result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = next((l for l in result.stdout.splitlines() if l.startswith("RESULT ")), None)
        if result.returncode or line is None:
            raise RuntimeError(f"serving benchmark of {name} failed:\n{result.stderr[-3000:]}")
        rows.append(json.loads(line[len("RESULT "):]))
        os.makedirs(os.path.dirname(raw) or ".", exist_ok=True)
        with open(raw, "w") as handle:
            json.dump(rows, handle, indent=2)
    text = format_markdown(rows)
    write_section(output, "serving", text)
    return rows, text


def render(raw="docs/benchmarks_serving.json", output="docs/benchmarks.md"):
    """Re-render the serving section of `output` from the raw numbers of an earlier run (no measuring)."""
    with open(raw) as handle:
        rows = json.load(handle)
    text = format_markdown(rows)
    write_section(output, "serving", text)
    return text
