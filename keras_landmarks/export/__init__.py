"""Converting landmark models to server and edge artifacts, and proving each artifact's parity.

    from keras_landmarks.export import convert, verify
    manifest = convert("resnet50", formats=("saved_model", "tflite", "onnx"), out="exports")
    verify("exports/resnet50")

Layout: `pipeline.py` (convert: plan, then write / check / time / record each artifact), `plan.py` (the
frozen plan), `artifact.py` (the format interface), `formats.py` (the table of formats), one module per
format (`saved_model.py`, `tflite.py`, `onnx.py`, `onnx_quantized.py`, `triton.py`), `parity.py` (inputs,
gates, latency), `manifest.py`, `memory.py`, `verification.py` (verify), `serving.py` and `bench.py`.
"""

from keras_landmarks.export.formats import FORMATS, QUANTIZATIONS
from keras_landmarks.export.manifest import format_table
from keras_landmarks.export.onnx import OnnxRunner, convert_onnx
from keras_landmarks.export.pipeline import convert
from keras_landmarks.export.saved_model import write_saved_model
from keras_landmarks.export.signature import keras_outputs, relative_error, serving_function
from keras_landmarks.export.tflite import TFLiteRunner, convert_tflite, tflite_ops
from keras_landmarks.export.verification import verify

__all__ = [
    "convert", "verify", "format_table", "FORMATS", "QUANTIZATIONS",
    "OnnxRunner", "TFLiteRunner", "convert_onnx", "convert_tflite", "keras_outputs", "relative_error",
    "serving_function", "tflite_ops", "write_saved_model",
]
