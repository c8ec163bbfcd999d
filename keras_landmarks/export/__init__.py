"""Converting landmark models to SavedModel, TFLite and ONNX, and proving each artifact's parity.

    from keras_landmarks.export import convert, verify
    manifest = convert("resnet50", formats=("saved_model", "tflite", "onnx"), out="exports")
    verify("exports/resnet50")
"""

from keras_landmarks.export.convert import FORMATS, convert, format_table
from keras_landmarks.export.onnx import OnnxRunner, convert_onnx
from keras_landmarks.export.saved_model import write_saved_model
from keras_landmarks.export.signature import keras_outputs, relative_error, serving_function
from keras_landmarks.export.tflite import QUANTIZATIONS, TFLiteRunner, convert_tflite, tflite_ops
from keras_landmarks.export.verify import verify

__all__ = [
    "convert", "verify", "format_table", "FORMATS", "QUANTIZATIONS",
    "OnnxRunner", "TFLiteRunner", "convert_onnx", "convert_tflite", "keras_outputs", "relative_error",
    "serving_function", "tflite_ops", "write_saved_model",
]
