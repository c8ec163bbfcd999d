"""A Triton Inference Server model repository: `triton/<name>/<version>/model.onnx` and `config.pbtxt`.

Triton serves the float ONNX model with its ONNX Runtime backend. `config.pbtxt` gives the model's real
input and output names, data types and dimensions (-1 where dynamic) and, for a dynamic batch,
`max_batch_size` with dynamic batching; a fixed batch is written as part of the dimensions with
`max_batch_size: 0`. The ONNX file (and its external data) is the `onnx` artifact's, hard-linked where
the file system allows, so it takes no second copy of disk.

    docker run --gpus all --rm -p 8000:8000 -v "$PWD/triton:/models" nvcr.io/nvidia/tritonserver:<tag>-py3 \\
        tritonserver --model-repository=/models
"""

import os
import pathlib
import shutil

from keras_landmarks.export.artifact import Format, Written
from keras_landmarks.export.onnx import OnnxRunner, onnx_files

MAX_BATCH_SIZE = 64  # the largest batch Triton's dynamic batcher forms (and a client may send)
_DTYPES = {"float32": "TYPE_FP32", "float16": "TYPE_FP16", "float64": "TYPE_FP64", "int32": "TYPE_INT32",
           "int64": "TYPE_INT64", "int8": "TYPE_INT8", "uint8": "TYPE_UINT8", "bool": "TYPE_BOOL"}


def config_pbtxt(name, inputs, outputs, batch_size=None):
    """Triton's model configuration (protobuf text format) for an ONNX model with these I/O specs
    ([{name, shape, dtype}], the batch dimension first)."""
    dynamic = batch_size is None

    def tensors(kind, specs):
        lines = [f"{kind} ["]
        for i, spec in enumerate(specs):
            shape = spec["shape"][1:] if dynamic else [batch_size, *spec["shape"][1:]]
            dims = ", ".join("-1" if d is None else str(int(d)) for d in shape)
            lines += ["  {", f'    name: "{spec["name"]}"', f"    data_type: {_DTYPES[spec['dtype']]}",
                      f"    dims: [ {dims} ]", "  }" + ("," if i < len(specs) - 1 else "")]
        return lines + ["]"]

    lines = [f'name: "{name}"', 'platform: "onnxruntime_onnx"', f"max_batch_size: {MAX_BATCH_SIZE if dynamic else 0}",
             *tensors("input", inputs), *tensors("output", outputs)]
    if dynamic:
        lines += ["dynamic_batching { }"]
    return "\n".join(lines) + "\n"


def _link(source, target):
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class TritonFormat(Format):
    name = family = "triton"
    runtime = "onnxruntime"
    sources = ("onnx",)
    timed = False  # the same file as the onnx artifact

    def filename(self, plan):
        return f"triton/{plan.name}"

    def write(self, ctx, path):
        plan = ctx.plan
        version = path / str(plan.version)
        version.mkdir(parents=True)
        source = ctx.source("onnx")
        files = onnx_files(source)
        _link(files[0], version / "model.onnx")
        for data in files[1:]:  # external data keeps its name: the graph refers to it
            _link(data, version / data.name)
        (path / "config.pbtxt").write_text(config_pbtxt(plan.name, plan.inputs, plan.outputs, plan.batch_size))
        return Written(details={"model_file": f"{plan.version}/model.onnx", "backend": "onnxruntime",
                                "max_batch_size": MAX_BATCH_SIZE if plan.batch_size is None else 0})

    def runner(self, path, num_threads=None):
        path = pathlib.Path(path)
        versions = sorted((p for p in path.iterdir() if p.is_dir() and p.name.isdigit()), key=lambda p: int(p.name))
        return OnnxRunner(versions[-1] / "model.onnx", num_threads=num_threads)
