"""Weights trained elsewhere, loaded into the registry's models: `build(name, weights=SOURCE)`.

| source | what it is | models |
|---|---|---|
| `keras_applications` | a keras.applications weight file (`.h5`, `.weights.h5`) | vgg16, vgg19, resnet50, resnet101, resnet152 |
| `keras_hub` | a keras-hub preset folder (`config.json`, `model.weights.h5`) | bert_*, gpt2* |
| `safetensors` | a `.safetensors` file with Hugging Face's tensor names | bert_*, gpt2* |

Every loader maps each tensor of the source exactly once onto a variable of the model, checks every
shape, and refuses with a `WeightsError` naming the tensor a file that does not fit: a tensor with no
place, a variable left without a value, a shape that differs. What had to be adapted is in the
report (`model.weights_report`, and printed by the command): keras.applications' ResNet convolutions
carry biases the paper's do not, folded exactly into the following BatchNorm's moving mean; keras-hub's
and Google's BERT compute GELU with its tanh approximation, so the loader builds BERT with
`activation="gelu_tanh"`.

A new source is a `Source` (detect, the options it sets before building, load) and one entry in
`SOURCES`.
"""

import dataclasses
import pathlib
from typing import Callable

from keras_landmarks.errors import ConfigError


class WeightsError(ConfigError):
    """A weight file that does not fit the model: a tensor with no place, a missing one, a wrong shape."""


@dataclasses.dataclass(frozen=True)
class Source:
    name: str
    description: str
    detect: Callable  # (path) -> bool
    families: tuple  # registry families it fills
    models: Callable  # (spec) -> bool: which models of those families
    # (spec, path, config) -> (options the model's config must have, options to build with unless set)
    overrides: Callable
    load: Callable  # (model, spec, path) -> report dict


def _sources():
    from keras_landmarks.weights import hf_safetensors, keras_applications, keras_hub_presets

    return {s.name: s for s in (keras_applications.SOURCE, keras_hub_presets.SOURCE, hf_safetensors.SOURCE)}


def source_for(path):
    """The Source that reads `path`; WeightsError where none does."""
    path = pathlib.Path(path)
    if not path.exists():
        raise WeightsError(f"No such weights file or folder: {str(path)!r}.", key="weights", value=str(path))
    for source in _sources().values():
        if source.detect(path):
            return source
    raise WeightsError(f"{str(path)!r} is not a weight source this package reads: a keras.applications .h5 / "
                       ".weights.h5 file, a keras-hub preset folder (config.json + model.weights.h5) or a "
                       ".safetensors file.", key="weights", value=str(path))


def plan(spec, path, overrides):
    """(source, overrides to build with) for loading `path` into registry model `spec` built with
    `overrides`: the options the weights need are checked (a checkpoint of another size is refused, naming
    the option) or set (BERT's GELU form, unless the caller set it)."""
    source = source_for(path)
    if spec.family not in source.families or not source.models(spec):
        raise WeightsError(f"{source.description} weights fill {', '.join(source.families)} models; "
                           f"{spec.name} is a {spec.family} model.", key="weights", value=str(path))
    config = spec.full_config(**overrides)
    required, defaults = source.overrides(spec, pathlib.Path(path), config)
    for key, value in required.items():
        if _plain(config.get(key)) != _plain(value):
            raise WeightsError(f"{path} holds a model with {key}={value!r}; {spec.name} is built with "
                               f"{key}={config.get(key)!r} (--set {key}={value!r}, or the variant of that size).",
                               key=key, value=config.get(key))
    merged = dict(overrides)
    for key, value in defaults.items():
        if key in overrides and _plain(overrides[key]) != _plain(value):
            raise WeightsError(f"{path} needs {key}={value!r} to compute what it was trained to; "
                               f"{key}={overrides[key]!r} was asked.", key=key, value=overrides[key])
        merged[key] = value
    return source, merged


def _plain(value):
    return list(value) if isinstance(value, tuple) else value


def assign(model, values, source_name):
    """Assign {variable path: array} to `model`, each variable exactly once, shapes checked."""
    import numpy as np

    variables = {v.path: v for v in model.weights}
    missing = [p for p in variables if p not in values]
    if missing:
        raise WeightsError(f"{source_name}: no value for {len(missing)} of {model.name}'s variables, first "
                           f"{missing[0]!r}.", key="weights", value=missing[0])
    for path, value in values.items():
        if path not in variables:
            raise WeightsError(f"{source_name}: {model.name} has no variable {path!r}.", key="weights", value=path)
        variable = variables[path]
        value = np.asarray(value)
        if tuple(value.shape) != tuple(variable.shape):
            raise WeightsError(f"{source_name}: {path} has shape {list(value.shape)} in the file and "
                               f"{list(variable.shape)} in {model.name}.", key="weights", value=path)
        variable.assign(value.astype(variable.dtype))


class Mapping:
    """Source tensors consumed exactly once: `take(name)` each, then `finish()` names any left over."""

    def __init__(self, tensors, what, ignore=()):
        self.tensors = dict(tensors)
        self.used = set()
        self.what = what
        self.ignore = ignore

    def take(self, name):
        if name not in self.tensors:
            raise WeightsError(f"{self.what} has no tensor {name!r} (it has {len(self.tensors)}, e.g. "
                               f"{', '.join(sorted(self.tensors)[:3])}).", key="weights", value=name)
        if name in self.used:
            raise WeightsError(f"{self.what}: tensor {name!r} would be used twice.", key="weights", value=name)
        self.used.add(name)
        return self.tensors[name]

    def has(self, name):
        return name in self.tensors

    def finish(self):
        import re

        left = sorted(n for n in self.tensors if n not in self.used and not any(re.fullmatch(p, n) for p in self.ignore))
        if left:
            raise WeightsError(f"{self.what}: {len(left)} tensors have no place in the model, first {left[0]!r}.",
                               key="weights", value=left[0])
        return len(self.used)
