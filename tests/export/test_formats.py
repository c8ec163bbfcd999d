"""The format table as a seam, the server artifacts it adds (ONNX float16 / int8, a Triton repository),
and what models declare to export (input kinds, extra signatures)."""

import functools

import keras
import numpy as np
import onnx
import pytest

import keras_landmarks
from keras_landmarks import ConfigError
from keras_landmarks.cli import main
from keras_landmarks.export import FORMATS, convert, verify
from keras_landmarks.export.artifact import Format, Written
from keras_landmarks.export.onnx import OnnxRunner
from keras_landmarks.export.parity import FP16_TOLERANCE
from keras_landmarks.export.signature import keras_outputs
from keras_landmarks.inputs import Latent, PaddingMask, TokenIds, input_kinds, sample_inputs
from keras_landmarks.registry import get_spec


class KerasFileFormat(Format):
    """A throwaway format: the model as a `.keras` file, run by Keras itself."""

    name = family = "keras_file"
    runtime = "keras"

    def filename(self, plan):
        return f"{plan.name}.keras"

    def write(self, ctx, path):
        ctx.plan.model.save(path)
        return Written(details={"keras_version": keras.__version__})

    def runner(self, path, num_threads=None):
        model = keras.saving.load_model(path)
        return lambda inputs: keras_outputs(model, inputs)


def test_a_format_added_through_the_table_alone(tmp_path, monkeypatch):
    monkeypatch.setitem(FORMATS, "keras_file", KerasFileFormat())
    manifest = convert("lenet5", formats=("keras_file", "onnx"), out=tmp_path, progress=False)
    art = next(a for a in manifest["artifacts"] if a["artifact"] == "keras_file")
    assert art["path"] == "lenet5.keras" and art["keras_version"] == keras.__version__
    assert art["parity"]["passed"] and art["parity"]["max_error"] == 0.0 and art["latency_ms"]["batch1"] > 0
    assert manifest["fastest_verified"]["keras"] == "lenet5.keras"
    assert len(verify(tmp_path / "lenet5", quiet=True)) == 2
    # The CLI takes it too, and verify notices when its file changes.
    assert main(["convert", "lenet5", "--formats", "keras_file", "--out", str(tmp_path / "cli")]) == 0
    (tmp_path / "cli" / "lenet5" / "lenet5.keras").write_bytes(b"not a model")
    assert main(["verify", str(tmp_path / "cli" / "lenet5")]) == 1


class BrokenRuntimeFormat(KerasFileFormat):
    """Written, but its runtime fails on every call (as onnxruntime does on a graph it cannot run)."""

    name = family = "broken"

    def runner(self, path, num_threads=None):
        def run(inputs):
            raise RuntimeError("[ONNXRuntimeError] : 1 : FAIL : Non-zero status code returned while running Add\nmore")
        return run


def test_an_artifact_its_runtime_cannot_run_is_one_line_and_leaves_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(FORMATS, "broken", BrokenRuntimeFormat())
    code = main(["convert", "lenet5", "--formats", "broken", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and err.count("keras-landmarks:") == 1, err
    assert err.splitlines()[-1] == ("keras-landmarks: broken: keras could not run lenet5.keras: [ONNXRuntimeError] "
                                    ": 1 : FAIL : Non-zero status code returned while running Add")
    assert not (tmp_path / "out" / "lenet5").exists()


def test_unknown_format_lists_the_table(tmp_path):
    with pytest.raises(ConfigError, match=r"Unknown format 'torchscript'. Allowed: saved_model, tflite, onnx, triton, "
                                          r"tflite_fp16, .*onnx_fp16, onnx_int8"):
        convert("lenet5", formats=("torchscript",), out=tmp_path, progress=False)


# ---------------------------------------------------------------------------------------------------
# Server artifacts.


@pytest.fixture(scope="module")
def bert_export(tmp_path_factory):
    out = tmp_path_factory.mktemp("exports")
    manifest = convert("bert_tiny", formats=("onnx", "onnx_fp16", "onnx_int8", "triton"), out=out, progress=False)
    return out / "bert_tiny", manifest


def test_onnx_fp16_and_int8(bert_export):
    folder, manifest = bert_export
    arts = {a["artifact"]: a for a in manifest["artifacts"]}
    fp16 = onnx.load(str(folder / "bert_tiny_fp16.onnx"))
    types = {t.data_type for t in fp16.graph.initializer if len(t.dims) > 1}
    assert types == {onnx.TensorProto.FLOAT16}  # every weight matrix in float16
    assert [i.type.tensor_type.elem_type for i in fp16.graph.input] == [onnx.TensorProto.INT32] * 3
    assert 0 < arts["onnx_fp16"]["parity"]["max_error"] <= FP16_TOLERANCE
    assert arts["onnx_fp16"]["size_bytes"] < 0.6 * arts["onnx"]["size_bytes"]
    int8 = onnx.load(str(folder / "bert_tiny_int8.onnx"))
    ops = {n.op_type for n in int8.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ format
    assert any(t.data_type == onnx.TensorProto.INT8 for t in int8.graph.initializer)
    assert arts["onnx_int8"]["calibration"].startswith("synthetic") and "TokenIds" in arts["onnx_int8"]["calibration"]
    assert arts["onnx_int8"]["parity"]["max_error"] > arts["onnx_fp16"]["parity"]["max_error"]


@functools.cache
def _triton_model_config():
    """Triton's own model-configuration schema, as the tritonclient package ships it. Loaded from its file:
    `import tritonclient.grpc` also registers Triton's gRPC service protos, which clash with KServe's
    (both define package `inference`) once the serving tests have imported KServe."""
    import importlib.util
    import pathlib

    package = pathlib.Path(importlib.util.find_spec("tritonclient").submodule_search_locations[0])
    spec = importlib.util.spec_from_file_location("triton_model_config_pb2", package / "grpc" / "model_config_pb2.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_triton_repository_matches_the_onnx_graph(bert_export):
    from google.protobuf import text_format

    model_config_pb2 = _triton_model_config()
    folder, manifest = bert_export
    config = text_format.Parse((folder / "triton" / "bert_tiny" / "config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    assert config.name == "bert_tiny" and config.platform == "onnxruntime_onnx"
    assert config.max_batch_size > 0 and config.HasField("dynamic_batching")
    model_file = folder / "triton" / "bert_tiny" / "1" / "model.onnx"
    assert model_file.read_bytes() == (folder / "bert_tiny.onnx").read_bytes()
    graph = onnx.load(str(model_file)).graph
    dtypes = {onnx.TensorProto.FLOAT: "TYPE_FP32", onnx.TensorProto.INT32: "TYPE_INT32"}
    for ours, theirs in ((config.input, graph.input), (config.output, graph.output)):
        assert sorted(t.name for t in ours) == sorted(t.name for t in theirs)
        by_name = {t.name: t for t in theirs}
        for tensor in ours:
            onnx_type = by_name[tensor.name].type.tensor_type
            assert model_config_pb2.DataType.Name(tensor.data_type) == dtypes[onnx_type.elem_type]
            onnx_dims = [d.dim_value if d.HasField("dim_value") else -1 for d in onnx_type.shape.dim]
            assert [-1, *tensor.dims] == onnx_dims  # batch first, then the configured dims
    assert len(verify(folder, quiet=True)) == 4


def test_triton_with_a_fixed_batch(tmp_path):
    from google.protobuf import text_format

    model_config_pb2 = _triton_model_config()
    convert("lenet5", formats=("triton",), batch_size=2, out=tmp_path, progress=False)
    config = text_format.Parse((tmp_path / "lenet5" / "triton" / "lenet5" / "config.pbtxt").read_text(),
                               model_config_pb2.ModelConfig())
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == [2, 32, 32, 1] and list(config.output[0].dims) == [2, 10]
    # Triton alone: the ONNX model it serves was a scratch source, removed after use.
    assert sorted(p.name for p in (tmp_path / "lenet5").iterdir()) == ["manifest.json", "parity.npz", "triton"]


# ---------------------------------------------------------------------------------------------------
# What models declare.


def test_declared_input_kinds_reach_the_parity_inputs(tmp_path):
    config = get_spec("rnnsearch").test_config  # source vocabulary 40, target 30
    manifest = convert("rnnsearch", overrides=config, formats=("onnx",), out=tmp_path, progress=False)
    assert manifest["input_kinds"]["target_token_ids"] == {"kind": "TokenIds", "vocabulary_size": 30,
                                                           "max_length": None, "padding_id": 0}
    with np.load(tmp_path / "rnnsearch" / "parity.npz") as data:
        source = np.concatenate([data[k].ravel() for k in data.files if k.endswith("/input/source_token_ids")])
        target = np.concatenate([data[k].ravel() for k in data.files if k.endswith("/input/target_token_ids")])
    assert source.max() >= 30 and source.max() < 40 and target.max() < 30 and min(source.min(), target.min()) >= 1


def test_models_built_by_the_registry_keep_their_declarations(tmp_path):
    model = keras_landmarks.build("gpt2", **get_spec("gpt2").test_config)
    manifest = convert(model, formats=("saved_model",), out=tmp_path, progress=False)
    assert manifest["artifacts"][0]["signatures"] == ["serving_default", "generate"]
    # Latency at the representative length, bounded by the model's 16 positions (128 otherwise).
    assert manifest["latency_shape"] == {"token_ids": [1, 16], "padding_mask": [1, 16]}
    assert input_kinds(model)["padding_mask"] == PaddingMask()  # declared by the registry entry
    assert input_kinds(model, {})["padding_mask"] == TokenIds(50)  # undeclared: inferred from the model alone


def test_a_model_of_ones_own_declares_its_inputs(tmp_path):
    z = keras.Input((8,), name="latent")
    labels = keras.Input((None,), dtype="int32", name="labels")
    mask = keras.Input((None,), dtype="int32", name="mask")
    embedded = keras.layers.Embedding(5, 8)(labels)
    pooled = keras.ops.sum(embedded * keras.ops.expand_dims(keras.ops.cast(mask, "float32"), -1), axis=1)
    out = keras.layers.Dense(4, name="image")(keras.layers.Add()([z, pooled]))
    model = keras.Model({"latent": z, "labels": labels, "mask": mask}, {"image": out}, name="generator")
    kinds = {"latent": Latent("uniform"), "mask": PaddingMask()}
    manifest = convert(model, formats=("onnx",), inputs=kinds, bench_length=32, out=tmp_path, progress=False)
    assert manifest["input_kinds"]["latent"] == {"kind": "Latent", "distribution": "uniform"}
    assert manifest["input_kinds"]["labels"]["kind"] == "TokenIds"
    assert manifest["latency_shape"]["labels"] == [1, 32]
    drawn = sample_inputs(model, 4, 0, 6, input_kinds(model, kinds))
    assert np.abs(drawn["latent"]).max() <= 1 and drawn["mask"][1:, -2:].sum() == 0
    with pytest.raises(ConfigError, match=r"Input kinds declared for \['noise'\], which the model does not take"):
        convert(model, formats=("onnx",), inputs={"noise": Latent()}, out=tmp_path, overwrite=True, progress=False)


def test_list_models_sorts_naturally():
    names = keras_landmarks.list_models()
    assert names.index("resnet18") < names.index("resnet20") < names.index("resnet50") < names.index("resnet101")
    assert names.index("vgg11") < names.index("vgg16") < names.index("vgg19")


def test_bench_length_is_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"Invalid bench length 0"):
        convert("lenet5", formats=("onnx",), bench_length=0, out=tmp_path, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("external", [False, True])
def test_onnx_keeps_a_tied_embedding_once(tmp_path, external):
    from keras_landmarks.export.onnx import convert_onnx

    model = keras_landmarks.build("gpt2", **{**get_spec("gpt2").test_config, "vocabulary_size": 5000})
    path = convert_onnx(model, path=tmp_path / "g.onnx", external_data=external)
    proto = onnx.load(str(path), load_external_data=False)
    tables = [t.name for t in proto.graph.initializer if 5000 in t.dims]
    assert len(tables) == 1  # looked up by Gather and, transposed in the graph, multiplied for the logits
    stored = sum(f.stat().st_size for f in tmp_path.iterdir())
    weights = sum(int(np.prod(v.shape)) * 4 for v in model.variables)
    assert stored < weights + 5000 * 8 * 4 // 2, (stored, weights)  # a second copy would add 160,000 bytes
    inputs = sample_inputs(model, 2, 0, 8)
    np.testing.assert_allclose(OnnxRunner(path)(inputs)["logits"], keras_outputs(model, inputs)["logits"],
                               atol=1e-5)


def test_a_fixed_sequence_length_gives_a_static_graph_xnnpack_takes_whole(tmp_path):
    config = {**get_spec("bert_base").test_config, "max_sequence_length": 32}
    manifest = convert("bert_base", overrides=config, formats=("tflite", "onnx"), batch_size=1, sequence_length=16,
                       out=tmp_path, progress=False)
    tflite = manifest["artifacts"][0]
    assert all(i["shape"] == [1, 16] for i in tflite["inputs"]) and manifest["sequence_length"] == 16
    assert tflite["xnnpack"]["partitions"] == 1  # masks as multiply-add: no SELECT splits the graph
    assert tflite["xnnpack"]["delegated_nodes"] > 0.85 * tflite["xnnpack"]["nodes"]  # all but the embedding lookups
    assert manifest["parity_inputs"]["cases"] == ["seed0_batch1", "seed1_batch1", "seed2_batch1"]  # one length
    assert manifest["latency_shape"]["token_ids"] == [1, 16] and list(tflite["latency_ms"]) == ["batch1"]
    with pytest.raises(ConfigError, match=r"Invalid sequence length 64: bert_base takes at most 32 tokens"):
        convert("bert_base", overrides=config, formats=("onnx",), sequence_length=64, out=tmp_path, overwrite=True,
                progress=False)
    with pytest.raises(ConfigError, match=r"lenet5 has no dynamic dimension for --sequence-length"):
        convert("lenet5", formats=("onnx",), sequence_length=16, out=tmp_path, progress=False)
    assert main(["convert", "lenet5", "--sequence-length", "0", "--out", str(tmp_path)]) == 2
