"""Converting landmark models to SavedModel, TFLite and ONNX, and proving each artifact's parity."""

from keras_landmarks.export.onnx import OnnxRunner, convert_onnx
from keras_landmarks.export.saved_model import write_saved_model
from keras_landmarks.export.signature import keras_outputs, relative_error, serving_function
from keras_landmarks.export.tflite import QUANTIZATIONS, TFLiteRunner, convert_tflite, tflite_ops

__all__ = [
    "OnnxRunner", "TFLiteRunner", "convert_onnx", "convert_tflite", "keras_outputs", "relative_error",
    "serving_function", "tflite_ops", "write_saved_model", "QUANTIZATIONS",
]
