"""keras-hub preset folders (`config.json`, `model.weights.h5`) into `bert_*`, `gpt2*` and `xlnet_*`.

keras-hub reads its own preset (`Backbone.from_preset(folder)`, no download for a local folder) and its
variables are renamed onto ours (`RENAMES`); the architecture options of the preset's config must match
the model's. keras-hub's BERT computes GELU with the tanh approximation (as Google's original code
did), so BERT is built with `activation="gelu_tanh"` for its weights to compute what they were trained
to compute; its XLNet computes the exact GELU, so XLNet is built with `activation="gelu"`.
"""

import json
import pathlib
import re

import numpy as np

from keras_landmarks.weights import Mapping, Source, WeightsError, assign

BACKBONES = {"BertBackbone": "bert", "GPT2Backbone": "gpt", "XLNetBackbone": "xlnet"}
# The activation keras-hub's backbones compute, where ours takes either form.
ACTIVATIONS = {"bert": "gelu_tanh", "xlnet": "gelu"}
ARCHITECTURE = ("vocabulary_size", "num_layers", "num_heads", "hidden_dim", "intermediate_dim", "max_sequence_length",
                "num_segments")
# keras-hub variable path -> ours, applied in order, per family.
TRANSFORMER_RENAMES = (
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
XLNET_RENAMES = (
    (r"^content_query_embedding/word_embedding/", "token_embedding/"),
    (r"^encoder_block_attn_mask_layer/", "attention_masks/"),
    (r"^xlnet_encoder_(\d+)/", r"xlnet_layer_\1/"),
    (r"/(content|segment)_attention_bias$", r"/attention/\1_bias"),
    (r"/positional_attention_bias$", "/attention/position_bias"),
    (r"/segment_encoding$", "/attention/segment_embedding"),
    (r"/rel_attn/(query|key|value)/kernel$", r"/attention/\1_kernel"),
    (r"/rel_attn/attention_output/kernel$", "/attention/output_kernel"),
    (r"/rel_attn/encoding/kernel$", "/attention/position_kernel"),
    (r"/layer_norm_rel_attn/", "/attention_norm/"),
    (r"/layer_norm_ff/", "/ffn_norm/"),
    (r"/feedforward_intermediate_dense/", "/ffn_inner/"),
    (r"/feedforward_output_dense/", "/ffn_outer/"),
)
RENAMES = {"bert": TRANSFORMER_RENAMES, "gpt": TRANSFORMER_RENAMES, "xlnet": XLNET_RENAMES}


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
    return spec.family in BACKBONES.values()


def _overrides(spec, path, config):
    class_name, hub = _config(path)
    if BACKBONES.get(class_name) != spec.family:
        raise WeightsError(f"{path} holds a keras-hub {class_name}; {spec.name} is a {spec.family} model.",
                           key="weights", value=str(path))
    required = {k: hub[k] for k in ARCHITECTURE if k in hub and k in config}
    return required, ({"activation": ACTIVATIONS[spec.family]} if spec.family in ACTIVATIONS else {})


def rename(path, family="bert"):
    for pattern, replacement in RENAMES[family]:
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
    values = {rename(name, spec.family): mapping.take(name) for name in list(mapping.tensors)}
    count = mapping.finish()
    assign(model, values, f"keras-hub preset {path.name}")
    report = {"source": "keras_hub", "folder": str(path), "reference": class_name, "tensors": count}
    if spec.family in ACTIVATIONS:
        report["activation"] = (f"built with activation={ACTIVATIONS[spec.family]!r}, the GELU form keras-hub's "
                                f"{class_name} computes")
    return report


SOURCE = Source(name="keras_hub", description="keras-hub preset", detect=_detect, families=tuple(RENAMES),
                models=_models, overrides=_overrides, load=_load)
