"""What a model's inputs are: kinds that a model declares where it is registered.

Export reads these declarations and never a model's family: the parity inputs, the synthetic
calibration data and the shape at which latency is measured all come from them.

    register("gpt2", ..., inputs=lambda c: {"token_ids": TokenIds(c["vocabulary_size"], c["max_sequence_length"]),
                                            "padding_mask": PaddingMask()})

A kind draws valid values for a shape (`sample`) and says what its values are (`describe`, recorded
in the manifest). Models that `keras_landmarks.build` returned keep their declarations. An input a
model does not declare is a `Floats` input if it is a float tensor, and a
`TokenIds` input over the smallest embedding table of the model if it is an integer tensor
(`infer_kinds`). `sample_inputs(model, batch, seed, length)` draws one input dict.
"""

import dataclasses

import numpy as np

# Token models are timed at this sequence length unless told otherwise (a length such models serve).
BENCH_LENGTH = 128


@dataclasses.dataclass(frozen=True)
class InputKind:
    """Base class: the values an input takes. `max_length` bounds a dynamic dimension where it has one."""

    max_length = None

    def sample(self, rng, shape, dtype):
        raise NotImplementedError

    def describe(self):
        return {"kind": type(self).__name__, **dataclasses.asdict(self)}

    def check(self, name, array):
        """Raise `ValueError` (one line naming the input and what it takes) for values this kind never has.
        The server checks every request with it, and convert its calibration data."""
        if np.issubdtype(array.dtype, np.floating) and not np.all(np.isfinite(array)):
            raise ValueError(f"Input {name!r} has values that are not finite numbers (null, NaN or Infinity).")


def _check_range(name, array, low, high, what, inclusive=True):
    """Values within [low, high] (or [low, high) when not `inclusive`)."""
    if array.size == 0:
        return
    smallest, largest = array.min(), array.max()
    if smallest < low or (largest > high if inclusive else largest >= high):
        bound = f"[{low}, {high}]" if inclusive else f"[{low}, {high})"
        worst = smallest if smallest < low else largest
        raise ValueError(f"Input {name!r} takes {what} in {bound}. Received: {worst.item()!r}")


@dataclasses.dataclass(frozen=True)
class Floats(InputKind):
    """Real-valued features, standard normal."""

    def sample(self, rng, shape, dtype):
        return rng.standard_normal(shape).astype(dtype)


@dataclasses.dataclass(frozen=True)
class Memory(Floats):
    """State a model returns and takes back on its next call (Transformer-XL's memory (B, layers, M, d)):
    real values, standard normal when drawn; its axis `empty_axis` may have length 0 (a first call,
    with nothing remembered yet). A JSON request writes such an input as nested lists that stop at the
    empty axis (`[[[], []]]` for B = 1 and two layers): the server fills in the fixed dimensions after it."""

    empty_axis: int = 2


@dataclasses.dataclass(frozen=True)
class Image(InputKind):
    """Images (B, H, W, C). `value_range=(low, high)`: pixel values uniform in that range; None: the
    model takes normalised images (mean 0, standard deviation 1)."""

    value_range: tuple | None = None

    def sample(self, rng, shape, dtype):
        if self.value_range is None:
            return rng.standard_normal(shape).astype(dtype)
        low, high = self.value_range
        return rng.uniform(low, high, shape).astype(dtype)

    def check(self, name, array):
        super().check(name, array)
        if self.value_range is not None:
            _check_range(name, array, *self.value_range, "pixel values")


@dataclasses.dataclass(frozen=True)
class Latent(InputKind):
    """A generator's latent vector z ~ N(0, I) (or U(-1, 1) with `distribution="uniform"`)."""

    distribution: str = "normal"

    def sample(self, rng, shape, dtype):
        if self.distribution == "uniform":
            return rng.uniform(-1.0, 1.0, shape).astype(dtype)
        return rng.standard_normal(shape).astype(dtype)


@dataclasses.dataclass(frozen=True)
class Observation(InputKind):
    """An agent's observation (e.g. stacked 84×84 frames), uniform in `value_range`; integer dtypes
    draw integers."""

    value_range: tuple = (0.0, 1.0)

    def sample(self, rng, shape, dtype):
        low, high = self.value_range
        if np.issubdtype(np.dtype(dtype), np.integer):
            return rng.integers(int(low), int(high) + 1, shape).astype(dtype)
        return rng.uniform(low, high, shape).astype(dtype)

    def check(self, name, array):
        super().check(name, array)
        _check_range(name, array, *self.value_range, "observations")


@dataclasses.dataclass(frozen=True)
class BoardPlanes(InputKind):
    """A board game's position as binary feature planes (B, rows, columns, planes), each 0 or 1 (stones
    of each colour, liberties, the side to move); drawn with each value 1 with probability `density`."""

    density: float = 0.3

    def sample(self, rng, shape, dtype):
        return (rng.random(shape) < self.density).astype(dtype)

    def check(self, name, array):
        super().check(name, array)
        _check_binary(name, array, "binary board feature planes")


@dataclasses.dataclass(frozen=True)
class TokenIds(InputKind):
    """Token ids in [0, vocabulary_size); `padding_id` is never drawn. `max_length`: the longest
    sequence the model takes (its position table), None if unbounded."""

    vocabulary_size: int
    max_length: int | None = None
    padding_id: int = 0

    def sample(self, rng, shape, dtype):
        ids = rng.integers(0, max(self.vocabulary_size, 2) - 1, shape)
        return (ids + (ids >= self.padding_id)).astype(dtype)  # skip the padding id

    def check(self, name, array):
        _check_range(name, array, 0, self.vocabulary_size, "token ids", inclusive=False)
        if self.max_length is not None and array.ndim >= 2 and array.shape[1] > self.max_length:
            raise ValueError(f"Input {name!r} takes at most {self.max_length} tokens. Received a sequence of "
                             f"{array.shape[1]}")


@dataclasses.dataclass(frozen=True)
class PaddingMask(InputKind):
    """1 for real tokens, 0 for padding. Examples after the first have their last two positions
    padded, so masks are exercised."""

    def sample(self, rng, shape, dtype):
        mask = np.ones(shape, dtype)
        mask[1:, -2:] = 0
        return mask

    def check(self, name, array):
        if array.size and not np.all((array == 0) | (array == 1)):
            raise ValueError(f"Input {name!r} is a padding mask: 1 for a token, 0 for padding. Received: "
                             f"{array[(array != 0) & (array != 1)].flat[0].item()!r}")


@dataclasses.dataclass(frozen=True)
class SegmentIds(InputKind):
    """Which segment each token belongs to: the first half 0, the second half 1."""

    num_segments: int = 2

    def sample(self, rng, shape, dtype):
        return (np.arange(shape[1]) >= shape[1] // 2).astype(dtype)[None].repeat(shape[0], 0)

    def check(self, name, array):
        _check_range(name, array, 0, self.num_segments, "segment ids", inclusive=False)


@dataclasses.dataclass(frozen=True)
class PermutationMask(InputKind):
    """XLNet's (B, T, T) mask of a factorization order: 1 where token i may *not* see token j. Drawn:
    a uniform order per example whose last ⌈T / `partial`⌉ tokens are the targets; a target sees the
    context and the targets before it, the context sees the context only."""

    partial: int = 6

    def sample(self, rng, shape, dtype):
        b, t = shape[0], shape[-1]
        ranks = np.stack([rng.permutation(t) for _ in range(b)])
        target = ranks >= t - max(1, -(-t // self.partial))
        rev = np.where(target, ranks, -1)
        self_rev = np.where(target, rev, rev + 1)
        return ((self_rev[:, :, None] <= rev[:, None, :]) & target[:, None, :]).astype(dtype)

    def check(self, name, array):
        _check_binary(name, array, "a permutation mask: 1 where token i may not see token j, else 0")


@dataclasses.dataclass(frozen=True)
class TargetMapping(InputKind):
    """XLNet's (B, P, T) partial-prediction map: row p one-hot at the p-th predicted position."""

    def sample(self, rng, shape, dtype):
        b, p, t = shape
        picks = [np.sort(rng.choice(t, p, replace=p > t)) for _ in range(b)]
        return np.eye(t, dtype=dtype)[np.stack(picks)]

    def check(self, name, array):
        _check_binary(name, array, "a target mapping: one-hot rows over the positions")


def _check_binary(name, array, what):
    if array.size and not np.all((array == 0) | (array == 1)):
        raise ValueError(f"Input {name!r} is {what}. Received: {array[(array != 0) & (array != 1)].flat[0].item()!r}")


KINDS = {kind.__name__: kind for kind in (Floats, Memory, Image, Latent, Observation, BoardPlanes, TokenIds,
                                         PaddingMask, SegmentIds, PermutationMask, TargetMapping)}


def from_description(described):
    """The kind a manifest's `input_kinds` entry (`InputKind.describe()`) describes."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in described.items() if k != "kind"}
    return KINDS[described["kind"]](**fields)


def _vocabulary_size(model):
    """The smallest token vocabulary among the model's embeddings (segment tables excluded)."""
    import keras

    sizes = [layer.input_dim for layer in model._flatten_layers()
             if isinstance(layer, keras.layers.Embedding) and "segment" not in layer.name]
    return min(sizes) if sizes else 2


def infer_kinds(model):
    """Kinds for a model that declares none: float inputs are `Floats`, integer inputs `TokenIds`."""
    kinds = {}
    for tensor in model.inputs:
        if "int" in str(tensor.dtype):
            kinds[tensor.name] = TokenIds(_vocabulary_size(model))
        else:
            kinds[tensor.name] = Floats()
    return kinds


def declared_kinds(model):
    """The kinds the registry entry of a model that `keras_landmarks.build` returned declares ({} otherwise)."""
    from keras_landmarks.registry import built_from

    spec, config = built_from(model) or (None, None)
    return spec.inputs(config) if spec is not None and spec.inputs else {}


def input_kinds(model, declared=None):
    """{input name: InputKind} for every input of `model`: `declared` (by default, what its registry entry
    declares, for a model `keras_landmarks.build` returned), the rest inferred."""
    inferred = infer_kinds(model)
    declared = dict(declared_kinds(model) if declared is None else declared)
    unknown = sorted(set(declared) - set(inferred))
    if unknown:
        raise ValueError(f"Input kinds declared for {unknown}, which the model does not take; its inputs are "
                         f"{sorted(inferred)}")
    return {name: declared.get(name, kind) for name, kind in inferred.items()}


def has_dynamic_length(model):
    """Token models: an input with an unknown dimension after the batch."""
    return any(d is None for t in model.inputs for d in t.shape[1:])


def representative_length(kinds, length=BENCH_LENGTH):
    """The sequence length to time a model at: `length`, or less where an input is bounded."""
    bounds = [k.max_length for k in kinds.values() if k.max_length]
    return min([length, *bounds])


def token_input(model, kinds):
    """The name of the input that takes token ids: the one declared `TokenIds`, else the first."""
    return next((t.name for t in model.inputs if isinstance(kinds[t.name], TokenIds)), model.inputs[0].name)


def complete_inputs(model, given, kinds, seed=0):
    """`given` ({input name: array}, batch first) with every other input drawn from its kind, at the
    same batch and with its dynamic dimensions as long as the given arrays' second axis (a language
    model's memory alongside real token ids)."""
    rng = np.random.default_rng(seed)
    first = next(iter(given.values()))
    length = first.shape[1] if first.ndim > 1 else 1
    data = dict(given)
    for tensor in model.inputs:
        if tensor.name not in data:
            shape = tuple(length if d is None else d for d in (len(first), *tensor.shape[1:]))
            data[tensor.name] = kinds[tensor.name].sample(rng, shape, tensor.dtype)
    return data


def sample_inputs(model, batch=2, seed=0, length=6, kinds=None):
    """{input name: np.ndarray} for `model`; unknown (dynamic) dimensions take `length`."""
    rng = np.random.default_rng(seed)
    kinds = kinds or input_kinds(model)
    data = {}
    for tensor in model.inputs:
        shape = tuple(length if d is None else d for d in (batch, *tensor.shape[1:]))
        data[tensor.name] = kinds[tensor.name].sample(rng, shape, tensor.dtype)
    return data
