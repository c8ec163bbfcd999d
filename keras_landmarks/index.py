"""The registry's index: what `keras-landmarks list` and `info NAME` print, and the names option checks
need (models, aliases, formats), as data that loads without TensorFlow.

The command answers `--help`, `list`, `info NAME` and option errors from this file in a fraction of a
second instead of importing TensorFlow (several seconds). It is generated from the live registry and
format table, `python tools/update_readme.py` rewrites it with the README's model table, and a test
fails when it is stale.
"""

import fnmatch
import functools
import json
import pathlib
import sys

from keras_landmarks.errors import UnknownModelError, check_filter, close_matches

PATH = pathlib.Path(__file__).with_name("registry_index.json")


@functools.lru_cache(maxsize=None)
def load():
    """{"models": {name: info}, "aliases": {alias: name}, "formats": {name: [family, variant]}}."""
    return json.loads(PATH.read_text(encoding="utf-8"))


def resolve(name):
    """The canonical name of a model name or alias; `UnknownModelError` (with close matches) otherwise.
    Where the models are already imported, the live registry answers."""
    if "keras_landmarks.models" in sys.modules:
        from keras_landmarks import registry

        return registry.resolve(name)
    data = load()
    if isinstance(name, str) and name in data["models"]:
        return name
    if isinstance(name, str) and name in data["aliases"]:
        return data["aliases"][name]
    raise UnknownModelError(name, close_matches(name, [*data["models"], *data["aliases"]]))


def info(name):
    """`keras_landmarks.info(name)`, from the index."""
    return load()["models"][resolve(name)]


def list_models(pattern="*", task=None, family=None):
    """`keras_landmarks.list_models(...)`, from the index (already in natural order)."""
    models = load()["models"]
    check_filter("task", task, {data["task"] for data in models.values()})
    check_filter("family", family, {data["family"] for data in models.values()})
    return [name for name, data in models.items()
            if fnmatch.fnmatchcase(name, pattern) and task in (None, data["task"]) and family in (None, data["family"])]


def formats():
    """{format name: (family, variant)} of the format table: the live table where it is already imported
    (a format added at run time is known), else the index's copy."""
    live = sys.modules.get("keras_landmarks.export.formats")
    if live is not None:
        return {fmt.name: (fmt.family, fmt.variant) for fmt in live.FORMATS.values()}
    return {name: tuple(pair) for name, pair in load()["formats"].items()}


def build():
    """The index, from the live registry and format table (imports TensorFlow)."""
    from keras_landmarks import registry
    from keras_landmarks.export.formats import FORMATS

    return {
        "models": {name: registry.info(name) for name in registry.list_models()},
        "aliases": dict(sorted(registry.aliases().items())),
        "formats": {fmt.name: [fmt.family, fmt.variant] for fmt in FORMATS.values()},
    }


def dumps(data):
    return json.dumps(data, indent=1, sort_keys=False, ensure_ascii=False) + "\n"
