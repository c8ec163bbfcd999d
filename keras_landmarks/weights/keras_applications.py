"""keras.applications weight files into `vgg16`, `vgg19`, `resnet50`, `resnet101`, `resnet152`.

The file is read by keras.applications' own architecture (built with `weights=None` at the model's
configuration, then `load_weights`, which reads both the legacy `.h5` layout of the published files and
Keras 3's `.weights.h5`), and copied layer by layer: the layer names are the same. keras.applications'
ResNet convolutions carry a bias that the paper's (and ours) do not; since each is followed by
BatchNorm, BN(Wx + b) = γ (Wx − (μ − b)) / √(σ² + ε) + β, and the bias folds into the moving mean
μ' = μ − b exactly (one float32 subtraction). The report lists how many were folded and the largest.
"""

import pathlib
import warnings

import numpy as np

from keras_landmarks.weights import Mapping, Source, WeightsError, assign

_RESNETS = {"resnet50": "ResNet50", "resnet101": "ResNet101", "resnet152": "ResNet152"}
_VGGS = {"vgg16": "VGG16", "vgg19": "VGG19"}


def _detect(path):
    return path.is_file() and path.name.endswith(".h5") and not (path.parent / "config.json").is_file()


def _models(spec):
    return spec.name in _RESNETS or spec.name in _VGGS


def _overrides(spec, path, config):
    return {}, {}


def _reference(spec, config):
    import keras

    builder = getattr(keras.applications, (_RESNETS | _VGGS)[spec.name])
    kwargs = {"weights": None, "include_top": config.get("include_top", True), "pooling": config.get("pooling"),
              "input_shape": tuple(config["input_shape"]) if config.get("input_shape") else None}
    if kwargs["include_top"]:
        kwargs["classes"] = config.get("num_classes", 1000)
        kwargs["classifier_activation"] = config.get("classifier_activation", "softmax")
    return builder(**kwargs)


def _load(model, spec, path):
    from keras_landmarks import registry

    _, config = registry.built_from(model) or (spec, spec.full_config())
    reference = _reference(spec, config)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            reference.load_weights(path)
        # Keras warns, rather than fails, when it skips part of a .weights.h5 file: a partial load.
        skipped = [str(w.message) for w in caught if "Skipping" in str(w.message) or "retain" in str(w.message)]
        if skipped:
            raise ValueError(skipped[0])
    except Exception as error:  # h5py, Keras: a file of another model or a damaged one
        first = (str(error).strip().splitlines() or [""])[0][:300]
        raise WeightsError(f"{path} does not load into keras.applications' {reference.name} "
                           f"({type(error).__name__}: {first}).", key="weights", value=str(path)) from None
    tensors = {w.path: np.asarray(w.numpy()) for w in reference.weights}
    mapping = Mapping(tensors, f"{pathlib.Path(path).name} (keras.applications {reference.name})")
    ours = {l.name: l for l in model.layers}
    values, folded = {}, []
    for layer in reference.layers:
        if not layer.weights:
            continue
        target = ours.get(layer.name)
        if target is None:
            raise WeightsError(f"{path}: layer {layer.name!r} of keras.applications' {reference.name} has no "
                               f"counterpart in {model.name}.", key="weights", value=layer.name)
        places = {w.path.split("/")[-1]: w.path for w in target.weights}
        for weight in layer.weights:
            short = weight.path.split("/")[-1]
            value = mapping.take(weight.path)
            if short in places:
                values[places[short]] = value
            elif short == "bias" and layer.name.endswith("_conv"):
                folded.append((layer.name[: -len("_conv")] + "_bn", value))
            else:
                raise WeightsError(f"{path}: {weight.path} has no place in {model.name}'s layer {target.name}.",
                                   key="weights", value=weight.path)
    count = mapping.finish()
    for norm, bias in folded:
        layer = ours.get(norm)
        key = next((w.path for w in layer.weights if w.path.endswith("/moving_mean")), None) if layer else None
        if key is None or key not in values:
            raise WeightsError(f"{path}: the bias of {norm[:-3]}_conv has no BatchNorm after it to fold into.",
                               key="weights", value=norm)
        values[key] = values[key] - bias
    assign(model, values, f"{pathlib.Path(path).name}")
    largest = max((float(np.max(np.abs(b))) for _, b in folded), default=0.0)
    report = {"source": "keras_applications", "file": str(path), "reference": reference.name, "tensors": count}
    if folded:
        report["folded_biases"] = (f"{len(folded)} convolution biases folded into the following BatchNorm's "
                                   f"moving mean (largest |b| {largest:.3g}): the paper's convolutions have none")
    return report


SOURCE = Source(name="keras_applications", description="keras.applications", detect=_detect,
                families=("resnet", "vgg"), models=_models, overrides=_overrides, load=_load)
