"""Checking a model's configuration before any layer is built.

`check_overrides` checks the keys and types of a configuration against the builder's signature and
annotations; the `check_*` helpers check values, and builders call them first thing, so that a bad
value raises `ConfigError` (naming the key, the value received and what is allowed) and never a
TensorFlow shape error from deep inside a half-built graph.
"""

import inspect
import math
import types
import typing

from keras_landmarks.errors import ConfigError

# ---------------------------------------------------------------------------------------------------
# Types, read from the builder's annotations.


def _describe(annotation):
    """A short human description of an annotation, for error messages."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return f"a tuple of {_describe(args[0])}"
        return "a tuple (" + ", ".join(_describe(a) for a in args) + ")"
    if annotation is float:
        return "a float"
    if annotation is int:
        return "an int"
    if annotation is bool:
        return "a bool"
    if annotation is str:
        return "a string"
    return getattr(annotation, "__name__", str(annotation))


def _matches(value, annotation):
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is typing.Any or annotation is inspect.Parameter.empty:
        return True
    if annotation is type(None):
        return value is None
    if origin is typing.Literal:
        return any(value == a and type(value) is type(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if origin is tuple:
        if not isinstance(value, (tuple, list)):
            return False
        if len(args) == 2 and args[1] is Ellipsis:
            return all(_matches(v, args[0]) for v in value)
        return len(value) == len(args) and all(_matches(v, a) for v, a in zip(value, args))
    if annotation is bool:
        return isinstance(value, bool)
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True


def builder_parameters(builder):
    """The keyword parameters a builder accepts, with their (resolved) annotations."""
    hints = typing.get_type_hints(builder)
    return {
        name: hints.get(name, inspect.Parameter.empty)
        for name, p in inspect.signature(builder).parameters.items()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    }


# A size beyond int32 cannot be a Keras layer's dimension (TensorFlow's kernels index with int32).
MAX_DIMENSION = 2**31 - 1


def check_overrides(model, builder, config):
    """Raise `ConfigError` for a key the builder does not take or a value of the wrong type."""
    params = builder_parameters(builder)
    for key, value in config.items():
        if key not in params:
            raise ConfigError(
                f"Unknown option {key!r} for model {model!r}. "
                f"Allowed: {', '.join(sorted(params))}. Received: {key}={value!r}",
                key=key,
                value=value,
            )
        too_big = [v for v in (value if isinstance(value, (tuple, list)) else (value,))
                   if isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_DIMENSION]
        if too_big:
            raise ConfigError(
                f"Invalid value for option {key!r} of model {model!r}: {too_big[0]:,} is beyond the largest size a "
                f"tensor dimension takes ({MAX_DIMENSION:,}). Received: {key}={value!r}",
                key=key,
                value=value,
            )
        if not _matches(value, params[key]):
            raise ConfigError(
                f"Invalid value for option {key!r} of model {model!r}: expected "
                f"{_describe(params[key])}. Received: {key}={value!r}",
                key=key,
                value=value,
            )


# ---------------------------------------------------------------------------------------------------
# Values.


def fail(model, key, value, allowed):
    raise ConfigError(
        f"Invalid value for option {key!r} of model {model!r}: expected {allowed}. "
        f"Received: {key}={value!r}",
        key=key,
        value=value,
    )


def check_choice(model, key, value, choices):
    if value not in choices:
        fail(model, key, value, "one of " + ", ".join(repr(c) for c in choices))


def check_positive(model, key, value):
    """An int (or each int of a tuple) that is at least 1."""
    values = value if isinstance(value, (tuple, list)) else (value,)
    if not values or any(v < 1 for v in values):
        fail(model, key, value, "positive integers" if isinstance(value, (tuple, list)) else "an integer >= 1")


def check_rate(model, key, value):
    """A dropout rate: in [0, 1)."""
    if not (0.0 <= value < 1.0) or math.isnan(value):
        fail(model, key, value, "a rate in [0, 1)")


def check_length(model, key, value, length):
    if len(value) != length:
        fail(model, key, value, f"a sequence of {length} values")


def check_head(model, *, include_top, num_classes, pooling, classifier_activation):
    """The keras.applications-style classifier options."""
    check_positive(model, "num_classes", num_classes)
    check_choice(model, "pooling", pooling, (None, "avg", "max"))
    if classifier_activation is not None:
        check_activation(model, "classifier_activation", classifier_activation)


def check_activation(model, key, value, extra=()):
    """A Keras activation name (or one of `extra`, names the builder handles itself)."""
    import keras

    if value in extra:
        return
    try:
        keras.activations.get(value)
    except ValueError:
        fail(model, key, value, "a Keras activation name" + "".join(f" or {e!r}" for e in extra))


def _downsampled(size, ops):
    """Spatial size after a chain of (kernel, stride, padding) ops, or 0 when it vanishes."""
    for kernel, stride, padding in ops:
        if padding == "valid":
            size = (size - kernel) // stride + 1 if size >= kernel else 0
        else:  # "same": ceil(size / stride); a downsampling step needs something to downsample
            size = -(-size // stride) if size >= stride else 0
        if size < 1:
            return 0
    return size


def check_image_input(model, input_shape, ops, *, fixed=False, channels=None):
    """Check `input_shape` (H, W, C) against the network's chain of downsampling ops.

    `fixed=True` is for networks whose top flattens the feature map into a dense layer: their spatial
    size must be known. Raises `ConfigError` with the smallest size that works when it is too small.
    """
    if len(input_shape) != 3:
        fail(model, "input_shape", input_shape, "(height, width, channels)")
    height, width, chans = input_shape
    if chans is None or chans < 1 or (channels is not None and chans != channels):
        fail(model, "input_shape", input_shape, f"{channels or 'a positive number of'} channels last")
    for side in (height, width):
        if side is None:
            if fixed:
                fail(model, "input_shape", input_shape, "a fixed height and width (the top flattens the feature map)")
            continue
        if side < 1 or _downsampled(side, ops) < 1:
            smallest = next(n for n in range(1, 4096) if _downsampled(n, ops) >= 1)
            fail(model, "input_shape", input_shape, f"height and width of at least {smallest} for this network's downsampling")
