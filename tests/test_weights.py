"""Weights from elsewhere: each source format written from a randomly initialised reference model
(keras.applications, keras-hub built from its config, a safetensors file written from keras-hub's
weights under Hugging Face's names), loaded into ours, with the same outputs (relative error ≤ 1e-5)."""

import json

import h5py
import keras
import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.cli import main
from keras_landmarks.export.signature import relative_error
from keras_landmarks.weights import WeightsError

TOLERANCE = 1e-5
HUB_CONFIG = dict(vocabulary_size=100, num_layers=2, num_heads=2, hidden_dim=32, intermediate_dim=64,
                  max_sequence_length=16)


def _perturbed(model, seed=0):
    """Non-trivial BatchNorm statistics and convolution biases, so that folding them is tested."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(rng.normal(0, 0.1, layer.moving_mean.shape))
            layer.moving_variance.assign(rng.uniform(0.5, 2.0, layer.moving_variance.shape))
        if isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            layer.bias.assign(rng.normal(0, 0.1, layer.bias.shape))
    return model


def _legacy_h5(model, path):
    """The layout of the published keras.applications files (Keras 2's save_weights to .h5)."""
    from keras.src.legacy.saving import legacy_h5_format

    with h5py.File(path, "w") as f:
        legacy_h5_format.save_weights_to_hdf5_group(f, model)


def _images(shape, seed=1):
    return np.random.default_rng(seed).uniform(0, 255, (2, *shape)).astype("float32")


@pytest.mark.parametrize("name, reference, shape, layout", [
    ("resnet50", "ResNet50", (64, 64, 3), "weights.h5"),
    ("resnet50", "ResNet50", (64, 64, 3), "legacy.h5"),
    ("vgg16", "VGG16", (32, 32, 3), "weights.h5"),
    ("vgg16", "VGG16", (32, 32, 3), "legacy.h5"),
    pytest.param("resnet101", "ResNet101", (64, 64, 3), "legacy.h5", marks=pytest.mark.large),
    pytest.param("resnet152", "ResNet152", (64, 64, 3), "legacy.h5", marks=pytest.mark.large),
    pytest.param("vgg19", "VGG19", (32, 32, 3), "legacy.h5", marks=pytest.mark.large),
])
def test_keras_applications_files(name, reference, shape, layout, tmp_path):
    ref = _perturbed(getattr(keras.applications, reference)(weights=None, input_shape=shape, classes=7))
    path = tmp_path / f"{name}.{layout}"
    if layout == "weights.h5":
        ref.save_weights(path)
    else:
        _legacy_h5(ref, path)
    model = keras_landmarks.build(name, weights=str(path), input_shape=shape, num_classes=7)
    x = _images(shape)
    assert relative_error(np.asarray(model(x)), np.asarray(ref(x))) <= TOLERANCE
    report = model.weights_report
    assert report["source"] == "keras_applications" and report["tensors"] == len(ref.weights)
    if name.startswith("resnet"):
        assert "convolution biases folded into the following BatchNorm's moving mean" in report["folded_biases"]
    else:
        assert "folded_biases" not in report


def _hub_inputs(seed=0, with_segments=True):
    rng = np.random.default_rng(seed)
    x = {"token_ids": rng.integers(0, 100, (2, 12)).astype("int32"), "padding_mask": np.ones((2, 12), "int32")}
    x["padding_mask"][1, 9:] = 0
    if with_segments:
        x["segment_ids"] = rng.integers(0, 2, (2, 12)).astype("int32")
    return x


def _bert_reference():
    import keras_hub

    keras.utils.set_random_seed(3)
    return keras_hub.models.BertBackbone(**HUB_CONFIG)


def _gpt2_reference():
    import keras_hub

    keras.utils.set_random_seed(4)
    return keras_hub.models.GPT2Backbone(**HUB_CONFIG)


def _gpt2_logits(reference, x):
    hidden = np.asarray(reference(x))
    return hidden @ np.asarray(reference.get_layer("token_embedding").embeddings).T


def test_keras_hub_bert_preset(tmp_path):
    reference = _bert_reference()
    reference.save_to_preset(str(tmp_path / "preset"))
    model = keras_landmarks.build("bert_base", weights=str(tmp_path / "preset"), **HUB_CONFIG)
    assert keras_landmarks.registry.built_from(model)[1]["activation"] == "gelu_tanh"  # as keras-hub computes it
    x = _hub_inputs()
    ours, theirs = model(x), reference(x)
    for key in ("sequence_output", "pooled_output"):
        assert relative_error(np.asarray(ours[key]), np.asarray(theirs[key])) <= TOLERANCE
    assert model.weights_report["tensors"] == len(reference.weights)


def test_keras_hub_gpt2_preset(tmp_path):
    reference = _gpt2_reference()
    reference.save_to_preset(str(tmp_path / "preset"))
    model = keras_landmarks.build("gpt2", weights=str(tmp_path / "preset"), **HUB_CONFIG)
    x = _hub_inputs(with_segments=False)
    x["padding_mask"][:] = 1
    assert relative_error(np.asarray(model(x)["logits"]), _gpt2_logits(reference, x)) <= TOLERANCE


def _hf_bert(reference):
    """keras-hub BERT's weights under Hugging Face's BertModel names and layouts ((out, in) kernels)."""
    w = {v.path: np.asarray(v.numpy()) for v in reference.weights}
    t = {"bert.embeddings.word_embeddings.weight": w["token_embedding/embeddings"],
         "bert.embeddings.position_embeddings.weight": w["position_embedding/embeddings"],
         "bert.embeddings.token_type_embeddings.weight": w["segment_embedding/embeddings"],
         "bert.embeddings.LayerNorm.weight": w["embeddings_layer_norm/gamma"],
         "bert.embeddings.LayerNorm.bias": w["embeddings_layer_norm/beta"],
         "bert.embeddings.position_ids": np.arange(16, dtype=np.int64)[None],
         "bert.pooler.dense.weight": w["pooled_dense/kernel"].T, "bert.pooler.dense.bias": w["pooled_dense/bias"],
         "cls.predictions.bias": np.zeros(100, np.float32)}
    hidden = HUB_CONFIG["hidden_dim"]
    for i in range(HUB_CONFIG["num_layers"]):
        src, dst = f"transformer_layer_{i}", f"bert.encoder.layer.{i}"
        for part in ("query", "key", "value"):
            t[f"{dst}.attention.self.{part}.weight"] = w[f"{src}/self_attention_layer/{part}/kernel"].reshape(hidden, hidden).T
            t[f"{dst}.attention.self.{part}.bias"] = w[f"{src}/self_attention_layer/{part}/bias"].reshape(hidden)
        t[f"{dst}.attention.output.dense.weight"] = w[f"{src}/self_attention_layer/attention_output/kernel"].reshape(hidden, hidden).T
        t[f"{dst}.attention.output.dense.bias"] = w[f"{src}/self_attention_layer/attention_output/bias"]
        t[f"{dst}.attention.output.LayerNorm.weight"] = w[f"{src}/self_attention_layer_norm/gamma"]
        t[f"{dst}.attention.output.LayerNorm.bias"] = w[f"{src}/self_attention_layer_norm/beta"]
        t[f"{dst}.intermediate.dense.weight"] = w[f"{src}/feedforward_intermediate_dense/kernel"].T
        t[f"{dst}.intermediate.dense.bias"] = w[f"{src}/feedforward_intermediate_dense/bias"]
        t[f"{dst}.output.dense.weight"] = w[f"{src}/feedforward_output_dense/kernel"].T
        t[f"{dst}.output.dense.bias"] = w[f"{src}/feedforward_output_dense/bias"]
        t[f"{dst}.output.LayerNorm.weight"] = w[f"{src}/feedforward_layer_norm/gamma"]
        t[f"{dst}.output.LayerNorm.bias"] = w[f"{src}/feedforward_layer_norm/beta"]
    return {k: np.ascontiguousarray(v) for k, v in t.items()}


def _hf_gpt2(reference):
    """keras-hub GPT-2's weights under Hugging Face's GPT2Model names (Conv1D (in, out), fused c_attn)."""
    w = {v.path: np.asarray(v.numpy()) for v in reference.weights}
    hidden = HUB_CONFIG["hidden_dim"]
    t = {"wte.weight": w["token_embedding/embeddings"], "wpe.weight": w["position_embedding/embeddings"],
         "ln_f.weight": w["layer_norm/gamma"], "ln_f.bias": w["layer_norm/beta"]}
    for i in range(HUB_CONFIG["num_layers"]):
        src, dst = f"transformer_layer_{i}", f"h.{i}"
        t[f"{dst}.attn.c_attn.weight"] = np.concatenate(
            [w[f"{src}/self_attention/{p}/kernel"].reshape(hidden, hidden) for p in ("query", "key", "value")], axis=1)
        t[f"{dst}.attn.c_attn.bias"] = np.concatenate(
            [w[f"{src}/self_attention/{p}/bias"].reshape(hidden) for p in ("query", "key", "value")])
        t[f"{dst}.attn.c_proj.weight"] = w[f"{src}/self_attention/attention_output/kernel"].reshape(hidden, hidden)
        t[f"{dst}.attn.c_proj.bias"] = w[f"{src}/self_attention/attention_output/bias"]
        t[f"{dst}.attn.bias"] = np.tril(np.ones((1, 1, 16, 16), np.float32))  # a buffer, not a weight
        t[f"{dst}.ln_1.weight"], t[f"{dst}.ln_1.bias"] = w[f"{src}/self_attention_layer_norm/gamma"], w[f"{src}/self_attention_layer_norm/beta"]
        t[f"{dst}.ln_2.weight"], t[f"{dst}.ln_2.bias"] = w[f"{src}/feedforward_layer_norm/gamma"], w[f"{src}/feedforward_layer_norm/beta"]
        t[f"{dst}.mlp.c_fc.weight"] = w[f"{src}/feedforward_intermediate_dense/kernel"]
        t[f"{dst}.mlp.c_fc.bias"] = w[f"{src}/feedforward_intermediate_dense/bias"]
        t[f"{dst}.mlp.c_proj.weight"] = w[f"{src}/feedforward_output_dense/kernel"]
        t[f"{dst}.mlp.c_proj.bias"] = w[f"{src}/feedforward_output_dense/bias"]
    return {k: np.ascontiguousarray(v) for k, v in t.items()}


def _write(tensors, path, config=None):
    from safetensors.numpy import save_file

    save_file(tensors, str(path))
    if config is not None:
        (path.parent / "config.json").write_text(json.dumps(config))
    return path


def test_safetensors_bert(tmp_path):
    reference = _bert_reference()
    # keras-hub's BERT computes GELU's tanh form: the config says so, as a Hugging Face config would.
    path = _write(_hf_bert(reference), tmp_path / "model.safetensors", {"hidden_act": "gelu_new", "num_attention_heads": 2})
    model = keras_landmarks.build("bert_base", weights=str(path), **HUB_CONFIG)
    x = _hub_inputs()
    ours, theirs = model(x), reference(x)
    for key in ("sequence_output", "pooled_output"):
        assert relative_error(np.asarray(ours[key]), np.asarray(theirs[key])) <= TOLERANCE
    assert model.weights_report["not_loaded"] == "1 pre-training head tensors (cls.*)"


def test_safetensors_gpt2(tmp_path):
    reference = _gpt2_reference()
    tensors = _hf_gpt2(reference)
    tensors["lm_head.weight"] = tensors["wte.weight"].copy()  # tied, as GPT2LMHeadModel saves it
    path = _write({f"transformer.{k}" if not k.startswith("lm_head") else k: v for k, v in tensors.items()},
                  tmp_path / "model.safetensors")
    model = keras_landmarks.build("gpt2", weights=str(path), **HUB_CONFIG)
    x = _hub_inputs(with_segments=False)
    x["padding_mask"][:] = 1
    assert relative_error(np.asarray(model(x)["logits"]), _gpt2_logits(reference, x)) <= TOLERANCE


def test_files_that_do_not_fit_are_refused_naming_the_tensor(tmp_path):
    tensors = _hf_gpt2(_gpt2_reference())
    extra = _write({**tensors, "h.0.mlp.gate.weight": np.zeros((2, 2), np.float32)}, tmp_path / "extra.safetensors")
    with pytest.raises(WeightsError, match=r"1 tensors have no place in the model, first 'h\.0\.mlp\.gate\.weight'"):
        keras_landmarks.build("gpt2", weights=str(extra), **HUB_CONFIG)
    missing = dict(tensors)
    del missing["h.1.mlp.c_fc.bias"]
    with pytest.raises(WeightsError, match=r"has no tensor 'h\.1\.mlp\.c_fc\.bias'"):
        keras_landmarks.build("gpt2", weights=str(_write(missing, tmp_path / "missing.safetensors")), **HUB_CONFIG)
    wrong = {**tensors, "h.1.ln_2.bias": np.zeros(31, np.float32)}
    with pytest.raises(WeightsError, match=r"transformer_layer_1/ffn_norm/beta has shape \[31\] in the file and \[32\]"):
        keras_landmarks.build("gpt2", weights=str(_write(wrong, tmp_path / "wrong.safetensors")), **HUB_CONFIG)
    # A checkpoint of another size: the option is named.
    with pytest.raises(WeightsError, match=r"holds a model with vocabulary_size=100; gpt2 is built with vocabulary_size=50257 \(--set vocabulary_size=100"):
        keras_landmarks.build("gpt2", weights=str(tmp_path / "extra.safetensors"))
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(WeightsError, match="is not a readable safetensors file"):
        keras_landmarks.build("gpt2", weights=str(damaged), **HUB_CONFIG)
    with pytest.raises(WeightsError, match="fill bert, gpt models; resnet50 is a resnet model"):
        keras_landmarks.build("resnet50", weights=str(tmp_path / "extra.safetensors"))
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(WeightsError, match="is not a weight source this package reads"):
        keras_landmarks.build("resnet50", weights=str(tmp_path / "notes.txt"))


def test_an_h5_of_another_model_is_refused(tmp_path):
    keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=7).save_weights(tmp_path / "v.weights.h5")
    with pytest.raises(WeightsError, match="does not load into keras.applications' resnet50"):
        keras_landmarks.build("resnet50", weights=str(tmp_path / "v.weights.h5"), input_shape=(64, 64, 3), num_classes=7)


def test_convert_and_train_take_weights(tmp_path, capsys):
    ref = _perturbed(keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=7))
    ref.save_weights(tmp_path / "vgg16.weights.h5")
    assert main(["convert", "vgg16", "--weights", str(tmp_path / "vgg16.weights.h5"), "--set", "input_shape=(32,32,3)",
                 "--set", "num_classes=7", "--formats", "tflite", "--out", str(tmp_path / "exports")]) == 0
    manifest = json.loads((tmp_path / "exports" / "vgg16" / "manifest.json").read_text())
    assert manifest["weights"]["source"] == "keras_applications"
    assert main(["convert", "vgg16", "--weights", str(tmp_path / "nope.h5"), "--out", str(tmp_path / "e2")]) == 2
    assert "No such weights file or folder: " in capsys.readouterr().err


def test_train_starts_from_weights(tmp_path):
    """Fine-tuning: `train(..., weights=...)` builds the model from the file, and the run records it."""
    from keras_landmarks.training import train

    ref = _perturbed(keras.applications.VGG16(weights=None, input_shape=(32, 32, 3), classes=10))
    ref.save_weights(tmp_path / "vgg16.weights.h5")
    result = train("vgg16", "digits", steps=1, batch_size=8, weights=str(tmp_path / "vgg16.weights.h5"),
                   overrides={"input_shape": (32, 32, 3)}, out=tmp_path / "run", data_dir=str(tmp_path / "tfds"),
                   progress=False)
    assert result["weights"]["source"] == "keras_applications"
    assert result["options"]["weights"] == str(tmp_path / "vgg16.weights.h5")
