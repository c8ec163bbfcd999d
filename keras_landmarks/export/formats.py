"""The table of export formats: a new format is one module with a `Format` subclass plus one entry here.

The CLI (`--formats`), the pipeline, `verify`, `tools/convert_all.py` and the benchmark all read this
table; nothing else lists formats. Order matters only for the order artifacts appear in (a format's
sources are always written before it).
"""

from keras_landmarks.export.onnx import OnnxFormat
from keras_landmarks.export.onnx_quantized import OnnxFp16Format, OnnxInt8Format
from keras_landmarks.export.saved_model import SavedModelFormat
from keras_landmarks.export.tflite import VARIANTS as TFLITE_VARIANTS, TFLiteFormat
from keras_landmarks.export.triton import TritonFormat

FORMATS = {fmt.name: fmt for fmt in (
    SavedModelFormat(),
    *(TFLiteFormat(variant) for variant in TFLITE_VARIANTS),  # none (float32), fp16, dynamic, int8
    OnnxFormat(),
    OnnxFp16Format(),
    OnnxInt8Format(),
    TritonFormat(),
)}

# Every variant some format offers ("none", "fp16", "dynamic", "int8"): what `--quantize` takes.
QUANTIZATIONS = tuple(dict.fromkeys(fmt.variant for fmt in FORMATS.values()))


def families():
    """{family: [variants]} of the formats in the table."""
    grouped = {}
    for fmt in FORMATS.values():
        grouped.setdefault(fmt.family, []).append(fmt.variant)
    return grouped


def format_of(record):
    """The Format of a manifest record."""
    name = record.get("artifact") or (record["format"] if record["variant"] == "none"
                                      else f"{record['format']}_{record['variant']}")
    return FORMATS[name]
