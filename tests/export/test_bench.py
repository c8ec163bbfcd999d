"""The benchmark script runs end to end (it measures; it asserts no speed)."""

import json

from keras_landmarks.export.bench import BATCHES, run_all


def test_benchmark_writes_a_table_for_every_runtime(tmp_path):
    output = tmp_path / "benchmarks.md"
    rows, text = run_all(("lenet5",), runs=20, output=str(output), quiet=True)
    latency = rows[0]["latency_ms"]
    expected = {"keras eager", "keras tf.function", "keras tf.function + XLA", "saved_model", "tflite float",
                "tflite fp16", "tflite dynamic", "tflite int8", "onnxruntime"}
    assert set(latency) == expected
    assert all(set(by_batch) == set(BATCHES) and all(ms > 0 for ms in by_batch.values()) for by_batch in latency.values())
    assert output.read_text() == text and "## Batch 8" in text and "| onnxruntime |" in text
    raw = json.loads((tmp_path / "benchmarks.json").read_text())
    assert raw["runs"] == 20 and raw["rows"][0]["model"] == "lenet5"
