"""Checkpoints that resume bit for bit: every model variable (weights, BatchNorm statistics, the seed
generators' states that drive dropout), every optimizer variable (its step counter, moments, loss
scale), and the run's position and curves.

A checkpoint is one `.npz` file written beside its final name and renamed into place (`os.replace`), so
a run killed at any moment leaves the previous checkpoint whole; the last `KEEP` are kept.
"""

import json
import os
import pathlib

import numpy as np

from keras_landmarks.errors import ConfigError

KEEP = 2
PATTERN = "step-*.npz"


def _name(step):
    return f"step-{step:08d}.npz"


def _optimizers(model, optimizers):
    """[(optimizer, the variables it updates)]: one optimizer for the model's trainable variables, or a
    list of pairs (a GAN's two players)."""
    if isinstance(optimizers, (list, tuple)):
        return list(optimizers)
    return [(optimizers, model.trainable_variables)]


def _optimizer_variables(pairs):
    return [v for optimizer, _ in pairs for v in optimizer.variables]


def save(folder, step, model, optimizers, extra):
    """Write checkpoint `step` of `model` and its optimizer(s) (see `_optimizers`); `extra` is JSON
    (position, curves). The path."""
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {f"model/{i}": np.asarray(v.numpy()) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": np.asarray(v.numpy())
                   for i, v in enumerate(_optimizer_variables(_optimizers(model, optimizers)))})
    arrays["extra"] = np.frombuffer(json.dumps(extra).encode(), np.uint8)
    final = folder / _name(step)
    partial = folder / (final.name + ".partial")
    with open(partial, "wb") as f:
        np.savez(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(partial, final)
    for old in sorted(folder.glob(PATTERN))[:-KEEP]:
        old.unlink(missing_ok=True)
    return final


def latest(folder):
    """The newest complete checkpoint in `folder`, or None."""
    found = sorted(pathlib.Path(folder).glob(PATTERN)) if pathlib.Path(folder).is_dir() else []
    return found[-1] if found else None


def restore(path, model, optimizers):
    """Load checkpoint `path` into `model` and its optimizer(s) (built first); its `extra`."""
    pairs = _optimizers(model, optimizers)
    for optimizer, variables in pairs:
        optimizer.build(variables)
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = dict(data)
    except Exception as error:  # a damaged file: zipfile, numpy or OS errors
        raise ConfigError(f"Checkpoint {path} cannot be read ({type(error).__name__}: {error}).", key="resume",
                          value=str(path)) from None
    for prefix, variables in (("model", model.variables), ("optimizer", _optimizer_variables(pairs))):
        stored = sorted((int(k.split("/")[1]) for k in arrays if k.startswith(prefix + "/")))
        if stored != list(range(len(variables))):
            raise ConfigError(f"Checkpoint {path} holds {len(stored)} {prefix} variables; this {prefix} has "
                              f"{len(variables)}: it was written by another model or option.", key="resume",
                              value=str(path))
        for i, variable in enumerate(variables):
            value = arrays[f"{prefix}/{i}"]
            if tuple(value.shape) != tuple(variable.shape):
                raise ConfigError(f"Checkpoint {path}: {prefix} variable {variable.path} has shape "
                                  f"{list(value.shape)}, this one {list(variable.shape)}.", key="resume",
                                  value=str(path))
            variable.assign(value)
    return json.loads(arrays["extra"].tobytes().decode())
