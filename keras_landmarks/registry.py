"""The registry: model names → builders, with the paper attached.

Each family module registers its variants with `register(...)`; `import keras_landmarks` imports every
family, so the registry is full as soon as the package is imported. `build(name, **overrides)` merges
the overrides into the variant's configuration (timm's factory merge), checks them, and calls the
family's builder.
"""

import dataclasses
import fnmatch
import inspect
import math
import re
import weakref
from typing import Any, Callable

from keras_landmarks.config import builder_parameters, check_overrides
from keras_landmarks.errors import ConfigError, UnknownModelError, check_filter, close_matches

# How a reference parameter count is counted. Keras's `count_params()` also counts BatchNorm's moving
# mean and variance, which are statistics, not parameters; papers and torchvision do not.
PARAMS_COUNTED = (
    "trainable weights (BatchNorm's gamma/beta included); state beside them, such as BatchNorm's moving "
    "mean/variance, is not counted (Keras's count_params() includes it)"
)


@dataclasses.dataclass(frozen=True)
class Paper:
    """A paper, and where it sits in the lineage of the decade's landmarks."""

    title: str
    authors: str
    year: int
    venue: str
    url: str
    extends: tuple = ()  # earlier landmarks this paper builds on (registry families where we have them)
    adopted_by: tuple = ()  # later work that took up its central idea


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    name: str
    family: str
    builder: Callable[..., Any]
    paper: Paper
    config: dict  # the keyword arguments that define this variant, merged over the builder's defaults
    params: int | None  # reference parameter count at the default configuration (PARAMS_COUNTED)
    params_source: str  # where the reference count comes from, and how it reconciles with the paper
    task: str
    io: Callable[[dict], dict]  # full config -> {"inputs": {name: shape}, "outputs": {name: shape}}
    test_config: dict = dataclasses.field(default_factory=dict)  # a small config for fast tests
    description: str = ""
    sample_data: Callable[[dict], tuple] | None = None  # config -> (inputs, labels): real data, where it exists
    # What export reads (it never names a family): config -> {input name: keras_landmarks.inputs.InputKind}
    # (undeclared inputs are inferred), and model -> {signature name: tf.function with an input signature}
    # for the extra serving signatures (decoders, samplers, encoders).
    inputs: Callable[[dict], dict] | None = None
    signatures: Callable[[Any], dict] | None = None
    # How the paper trained it: config -> keras_landmarks.training.Recipe (None: the task's default).
    training: Callable[[dict], Any] | None = None

    def full_config(self, **overrides):
        """The builder's defaults, then this variant's config, then the overrides."""
        defaults = {
            k: p.default
            for k, p in inspect.signature(self.builder).parameters.items()
            if p.default is not p.empty
        }
        return {**defaults, **self.config, **overrides}


_REGISTRY: dict[str, ModelSpec] = {}
_ALIASES: dict[str, str] = {}
_BUILT = weakref.WeakKeyDictionary()  # model -> (spec, full config), for models `build` returned


def register(name, *, family, builder, paper, config=None, params=None, params_source="", task,
             io, test_config=None, description="", aliases=(), sample_data=None, inputs=None, signatures=None,
             training=None):
    """Add one variant to the registry. Registering a name (or alias) twice is an error."""
    for key in (name, *aliases):
        if key in _REGISTRY or key in _ALIASES:
            raise ValueError(f"Model name {key!r} is already registered.")
    spec = ModelSpec(
        name=name,
        family=family,
        builder=builder,
        paper=paper,
        config=dict(config or {}),
        params=params,
        params_source=params_source,
        task=task,
        io=io,
        test_config=dict(test_config or {}),
        description=description,
        sample_data=sample_data,
        inputs=inputs,
        signatures=signatures,
        training=training,
    )
    check_overrides(name, builder, spec.config)  # a bad variant table fails at import, loudly
    _REGISTRY[name] = spec
    for alias in aliases:
        _ALIASES[alias] = name
    return spec


def _filled():
    """Import the model families if nothing has yet (inside the command, the package loads them lazily)."""
    if not _REGISTRY:
        import keras_landmarks.models  # noqa: F401  (each family registers its variants)


def resolve(name):
    """The canonical name for `name` (an alias resolves to its target)."""
    _filled()
    if not isinstance(name, str):
        raise UnknownModelError(name)
    if name in _REGISTRY:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    raise UnknownModelError(name, close_matches(name, [*_REGISTRY, *_ALIASES]))


def get_spec(name) -> ModelSpec:
    return _REGISTRY[resolve(name)]


def build(name, weights=None, **overrides):
    """Build the named landmark model as a Keras functional model.

    Args:
        name: a registered name or alias (`keras_landmarks.list_models()`).
        weights: weights trained elsewhere (`keras_landmarks.weights`): a keras.applications `.h5` file,
            a keras-hub preset folder or a Hugging Face `.safetensors` file; what was adapted is in
            `model.weights_report`.
        **overrides: builder arguments that replace the variant's defaults, e.g.
            `build("resnet50", num_classes=10, input_shape=(64, 64, 3))`.

    Raises:
        UnknownModelError: `name` is not registered (the message lists close matches).
        ConfigError: an override is unknown, of the wrong type or of an impossible value; raised before
            any layer is built.
    """
    spec = get_spec(name)
    check_overrides(spec.name, spec.builder, overrides)
    source = None
    if weights is not None:
        from keras_landmarks import weights as weight_sources

        source, overrides = weight_sources.plan(spec, weights, overrides)
        check_overrides(spec.name, spec.builder, overrides)
    try:
        model = spec.builder(**{**spec.config, **overrides})
    except Exception as error:
        # An override that makes the weights larger than memory: TensorFlow's ResourceExhaustedError, or
        # numpy's / Python's MemoryError. Anything else is a real bug and propagates as it is.
        if not isinstance(error, MemoryError) and type(error).__name__ != "ResourceExhaustedError":
            raise
        given = ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "the default configuration"
        raise ConfigError(f"{spec.name} with {given} does not fit in memory: its weights could not be "
                          f"allocated ({type(error).__name__}).", key=next(iter(overrides), None)) from None
    _BUILT[model] = (spec, spec.full_config(**overrides))
    if source is not None:
        import pathlib

        model.weights_report = source.load(model, spec, pathlib.Path(weights))
    return model


def built_from(model):
    """(spec, full config) of a model that `build` returned, else None."""
    return _BUILT.get(model)


def list_models(pattern="*", task=None, family=None):
    """Registered names matching a shell-style `pattern`, optionally one `task` or `family`, in natural
    order (`resnet18` before `resnet101`, as timm lists them). An unknown `task` or `family` is a
    `ConfigError` naming the known ones."""
    _filled()
    check_filter("task", task, {spec.task for spec in _REGISTRY.values()})
    check_filter("family", family, {spec.family for spec in _REGISTRY.values()})
    return sorted((
        name
        for name, spec in _REGISTRY.items()
        if fnmatch.fnmatchcase(name, pattern)
        and (task is None or spec.task == task)
        and (family is None or spec.family == family)
    ), key=natural_key)


def natural_key(name):
    """Sort key that orders the digits in a name by value: `vgg11` < `vgg16_bn` < `vgg19`, `resnet18` <
    `resnet101`."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in re.split(r"(\d+)", name) if part]


def aliases():
    """{alias: canonical name}."""
    _filled()
    return dict(_ALIASES)


def info(name):
    """Everything the registry knows of a model, as plain data (JSON-serializable)."""
    spec = get_spec(name)
    config = spec.full_config()
    io = spec.io(config)
    return {
        "name": spec.name,
        "aliases": sorted(a for a, target in _ALIASES.items() if target == spec.name),
        "family": spec.family,
        "task": spec.task,
        "description": spec.description,
        "paper": {
            "title": spec.paper.title,
            "authors": spec.paper.authors,
            "year": spec.paper.year,
            "venue": spec.paper.venue,
            "url": spec.paper.url,
        },
        "lineage": {"extends": list(spec.paper.extends), "adopted_by": list(spec.paper.adopted_by)},
        "inputs": _jsonable(io["inputs"]),
        "outputs": _jsonable(io["outputs"]),
        "config": _jsonable(config),
        "options": sorted(builder_parameters(spec.builder)),
        "variants": list_models(family=spec.family),
        "params": spec.params,
        "params_counted": PARAMS_COUNTED,
        "params_source": spec.params_source,
        "training": _training(spec, config),
    }


def _training(spec, config):
    """The recipe `train` uses (the paper's where the registry records it), as plain data; None for a task
    with no default objective."""
    from keras_landmarks.errors import ConfigError
    from keras_landmarks.training.recipe import default_recipe

    try:
        recipe = spec.training(config) if spec.training else default_recipe(spec.task)
    except ConfigError:
        return None
    return _jsonable(dataclasses.asdict(recipe))


def _jsonable(value):
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


def paper_param_count(model):
    """Parameters as papers count them: the trainable weights (BatchNorm's γ and β among them), not the
    state a model keeps beside them (BatchNorm's moving statistics, StyleGAN's tracked w̄ and level of
    detail)."""
    return sum(math.prod(w.shape) for w in model.trainable_weights)
