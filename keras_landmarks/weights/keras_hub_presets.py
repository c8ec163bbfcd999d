"""keras-hub preset folders (`config.json`, `model.weights.h5`) into `bert_*` and `gpt2*`.

keras-hub reads its own preset (`Backbone.from_preset(folder)`, no download for a local folder) and its
variables are renamed onto ours (`RENAMES`); the architecture options of the preset's config must match
the model's. keras-hub's BERT computes GELU with the tanh approximation (as Google's original code
did), so BERT is built with `activation="gelu_tanh"` for its weights to compute what they were trained
to compute.
"""

import json
import pathlib
import re

import numpy as np

from keras_landmarks.weights import Mapping, Source, WeightsError, assign

BACKBONES = {"BertBackbone": "bert", "GPT2Backbone": "gpt"}
ARCHITECTURE = ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim", "max_sequence_length",
                "num_segments")
# keras-hub variable path -> ours, applied in order.
RENAMES = (
    (r"^embeddings_layer_norm/", "embeddings_norm/"),
    (r"/self_attention(?:_layer)?/(query|key|value)/(kernel|bias)$", r"/self_attention/\1_\2"),
    (r"/self_attention(?:_layer)?/attention_output/(kernel|bias)$", r"/self_attention/output_\1"),
    (r"/self_attention_layer_norm/", "/self_attention_norm/"),
    (r"/feedforward_layer_norm/", "/ffn_norm/"),
    (r"/feedforward_intermediate_dense/", "/ffn_intermediate/"),
    (r"/feedforward_output_dense/", "/ffn_output/"),
    (r"^pooled_dense/", "pooler/"),
    (r"^layer_norm/", "final_norm/"),
)


def _config(path):
    try:
        data = json.loads((path / "config.json").read_text())
        return data["class_name"].split(">")[-1], data["config"]
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise WeightsError(f"{path / 'config.json'} is not a keras-hub preset config ({type(error).__name__}: "
                           f"{error}).", key="weights", value=str(path)) from None


def _detect(path):
    return path.is_dir() and (path / "config.json").is_file() and (path / "model.weights.h5").is_file()


def _models(spec):
    return spec.family in ("bert", "gpt")


def _overrides(spec, path, config):
    class_name, hub = _config(path)
    if BACKBONES.get(class_name) != spec.family:
        raise WeightsError(f"{path} holds a keras-hub {class_name}; {spec.name} is a {spec.family} model.",
                           key="weights", value=str(path))
    required = {k: hub[k] for k in ARCHITECTURE if k in hub and k in config}
    return required, ({"activation": "gelu_tanh"} if spec.family == "bert" else {})


def rename(path):
    for pattern, replacement in RENAMES:
        path = re.sub(pattern, replacement, path)
    return path


def _load(model, spec, path):
    import keras_hub

    class_name, _ = _config(path)
    try:
        reference = keras_hub.models.Backbone.from_preset(str(path))
    except Exception as error:  # keras-hub, h5py: a preset of another shape, a damaged file
        first = (str(error).strip().splitlines() or [""])[0][:300]
        raise WeightsError(f"keras-hub cannot load the preset {path} ({type(error).__name__}: {first}).",
                           key="weights", value=str(path)) from None
    mapping = Mapping({w.path: np.asarray(w.numpy()) for w in reference.weights}, f"keras-hub preset {path.name}")
    values = {rename(name): mapping.take(name) for name in list(mapping.tensors)}
    count = mapping.finish()
    assign(model, values, f"keras-hub preset {path.name}")
    report = {"source": "keras_hub", "folder": str(path), "reference": class_name, "tensors": count}
    if spec.family == "bert":
        report["activation"] = "built with activation='gelu_tanh': keras-hub's BERT computes GELU's tanh approximation"
    return report


SOURCE = Source(name="keras_hub", description="keras-hub preset", detect=_detect, families=("bert", "gpt"),
                models=_models, overrides=_overrides, load=_load)
