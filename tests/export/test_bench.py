"""The benchmark script runs end to end (it measures; it asserts no speed)."""

import json

import pytest

from keras_landmarks.export.bench import BATCHES, PEERS, _build, run_all


def _row(model, run, ms):
    return {"model": model, "run": run, "parameters": 1, "peak_memory_mb": 1.0,
            "latency_ms": {"saved_model": {b: ms for b in BATCHES}}}


@pytest.mark.large  # every runtime timed (30 s)
def test_benchmark_writes_a_table_for_every_runtime(tmp_path):
    output = tmp_path / "benchmarks.md"
    # --update keeps the rows of models it does not measure, and replaces those it does.
    kept, stale = _row("vgg16", "earlier", 3.0), _row("lenet5", "earlier", 1e6)
    (tmp_path / "benchmarks.json").write_text(json.dumps({"runs": 20, "rows": [stale, kept], "int8_schemes": {}}))
    rows, text = run_all(("lenet5",), runs=20, output=str(output), quiet=True, update=True)
    assert [r["model"] for r in rows] == ["vgg16", "lenet5"] and rows[0]["latency_ms"] == kept["latency_ms"]
    assert rows[1]["run"] != "earlier" and "1000000.00" not in text
    with pytest.raises(ValueError, match="--runs 20"):
        run_all(("lenet5",), runs=30, output=str(output), quiet=True, update=True)
    rows = rows[1:]
    latency = rows[0]["latency_ms"]
    expected = {"keras eager", "keras tf.function", "keras tf.function + XLA", "saved_model", "tflite float",
                "tflite fp16", "tflite dynamic", "tflite int8", "onnx float", "onnx fp16", "onnx int8"}
    assert set(latency) == expected
    assert all(set(by_batch) == set(BATCHES) and all(ms > 0 for ms in by_batch.values()) for by_batch in latency.values())
    assert output.read_text() == f"<!-- begin latency -->\n{text.rstrip()}\n<!-- end latency -->\n"
    assert "## Batch 8" in text and "| onnx int8 |" in text
    raw = json.loads((tmp_path / "benchmarks.json").read_text())
    assert raw["runs"] == 20 and [r["model"] for r in raw["rows"]] == ["vgg16", "lenet5"]


def test_a_model_is_compared_with_its_peer_only_within_one_run():
    from keras_landmarks.export.bench import format_markdown

    same = format_markdown([_row("resnet50", "a", 2.0), _row("keras_applications/ResNet50", "a", 4.0)], 20)
    assert "| saved_model | 1 | 0.50 |" in same
    apart = format_markdown([_row("resnet50", "a", 2.0), _row("keras_applications/ResNet50", "b", 4.0)], 20)
    assert "Ours against the peers" not in apart


@pytest.mark.parametrize("ours", ["bert_base", "gpt2"])
def test_keras_hub_peers_have_our_configuration(ours):
    """The keras-hub models the benchmark times beside ours are built with our configuration: same
    parameter count (BERT: backbone with pooler; GPT-2: the causal LM with its tied embedding)."""
    from keras_landmarks.registry import get_spec

    peer, declared_by = _build(PEERS[ours])
    assert declared_by == ours and type(peer).__module__.startswith("keras_hub")
    assert peer.count_params() == get_spec(ours).params


def test_int8_schemes_on_a_small_bert():
    from keras_landmarks.export.bench import SCHEMES, format_markdown, int8_schemes

    rows = int8_schemes("bert_tiny", length=16, runs=3, warmup=1, samples=4)
    assert [r["scheme"] for r in rows] == list(SCHEMES)
    measured = {r["scheme"]: r for r in rows if "error" not in r}
    assert {"float", "dynamic", "int8"} <= set(measured)
    assert measured["float"]["max_error"] < 1e-4 and measured["float"]["float_ops"]
    assert measured["dynamic"]["size_mb"] < measured["float"]["size_mb"] / 2
    assert measured["float"]["xnnpack"]["partitions"] == 1  # the static graph is taken whole
    text = format_markdown([], 3, {"bert_tiny": rows})
    assert "## int8 schemes: bert_tiny at a static [1, 16]" in text and "| dynamic |" in text


@pytest.mark.large  # starts a server (26 s)
def test_serving_benchmark_measures_the_server_beside_in_process(tmp_path):
    from keras_landmarks.export.serving_bench import render
    from keras_landmarks.export.serving_bench import run_all as serving

    output = tmp_path / "benchmarks.md"
    output.write_text("<!-- begin latency -->\n## Batch 1\n<!-- end latency -->\n")
    raw = tmp_path / "serving.json"
    rows, text = serving(("lenet5",), requests=16, clients=2, output=str(output), raw=str(raw), quiet=True)
    row = rows[0]
    assert row["errors"] == 0 and row["served_requests_per_s"] > 0 and row["in_process_calls_per_s"] > 0
    assert 0 < row["ratio"] == round(row["served_requests_per_s"] / row["in_process_calls_per_s"], 3)
    assert set(row["steps_ms"]) == {"decode JSON", "check request", "run model", "encode JSON"}
    assert "| lenet5 |" in text and json.loads(raw.read_text()) == rows
    written = output.read_text()  # the serving section is added, the latency section kept
    assert written.startswith("<!-- begin latency -->\n## Batch 1\n<!-- end latency -->\n")
    assert f"<!-- begin serving -->\n{text.rstrip()}\n<!-- end serving -->" in written
    assert render(str(raw), str(output)) == text and output.read_text() == written  # re-rendering changes nothing
