"""A word-level vocabulary: the most frequent words of a training split, the rest `<unk>`.

Text is lower-cased and split into words (letters, with inner apostrophes: "lord's", "o'er") and the
punctuation marks `. , ; : ! ?`, each its own token, as the Brown and Penn Treebank texts of the
papers keep them. A document ends with `<eod>`, so a model that reads across a document boundary sees
it. Ids are fixed by the training split alone: 0 `<unk>`, 1 `<eod>`, then words by descending count
(ties alphabetical), so a run's vocabulary is the same on every machine.

    vocabulary = WordVocabulary.from_documents(train_texts, size=10_000)
    ids = vocabulary.encode_documents(test_texts)  # int32, documents joined by <eod>
    vocabulary.save(folder / "vocabulary.txt")      # one word per line, line i is id i
"""

import collections
import functools
import os
import pathlib
import re

import numpy as np

from keras_landmarks.errors import ConfigError

UNK, EOD = "<unk>", "<eod>"
_SPECIAL = (UNK, EOD)
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)*|[.,;:!?]")


def words(text):
    """The tokens of `text`: lower-cased words and punctuation marks."""
    return _WORD.findall(text.lower())


class WordVocabulary:
    """`size` entries: `<unk>`, `<eod>` and the size − 2 most frequent training words."""

    def __init__(self, tokens):
        tokens = list(tokens)
        if tokens[: len(_SPECIAL)] != list(_SPECIAL) or len(set(tokens)) != len(tokens):
            raise ValueError(f"A vocabulary starts with {', '.join(_SPECIAL)} and lists each word once.")
        self.tokens = tokens
        self.ids = {t: i for i, t in enumerate(tokens)}

    @classmethod
    def from_documents(cls, documents, size):
        if isinstance(size, bool) or not isinstance(size, int) or size <= len(_SPECIAL):
            raise ConfigError(f"Invalid vocabulary size {size!r}: an integer > {len(_SPECIAL)} (it holds "
                              f"{', '.join(_SPECIAL)} and the most frequent words).", key="vocabulary_size",
                              value=size)
        counts = collections.Counter()
        for document in documents:
            counts.update(words(document))
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        vocabulary = cls([*_SPECIAL, *(w for w, _ in ranked[: size - len(_SPECIAL)])])
        vocabulary.counts = {w: counts.get(w, 0) for w in vocabulary.tokens}
        vocabulary.corpus_words = len(counts)
        return vocabulary

    def __len__(self):
        return len(self.tokens)

    def encode(self, text):
        """int32 ids of `text`'s tokens (unknown words: 0)."""
        return np.fromiter((self.ids.get(t, 0) for t in words(text)), np.int32)

    def encode_documents(self, documents):
        """int32 ids of the documents, each followed by `<eod>`."""
        eod = np.array([self.ids[EOD]], np.int32)
        parts = [p for d in documents for p in (self.encode(d), eod)]
        return np.concatenate(parts) if parts else np.zeros((0,), np.int32)

    def decode(self, ids):
        return [self.tokens[int(i)] for i in np.asarray(ids).reshape(-1)]

    def save(self, path):
        path = pathlib.Path(path)
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text("\n".join(self.tokens) + "\n", encoding="utf-8")
        os.replace(partial, path)
        return path

    @classmethod
    def load(cls, path):
        try:
            return cls(pathlib.Path(path).read_text(encoding="utf-8").splitlines())
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise ConfigError(f"{path} is not a vocabulary file ({error}).", key="vocabulary",
                              value=str(path)) from None


@functools.lru_cache(maxsize=4)
def corpus_documents(name, split, data_dir=None, manual_dir=None):
    """The texts of a text dataset's split (a tuple of documents), through its TFDS builder."""
    import tensorflow_datasets as tfds

    from keras_landmarks import datasets

    source = datasets.get_source(name)
    builder = datasets.prepare(name, data_dir, manual_dir)
    if "text" not in builder.info.features:
        text_sets = ", ".join(n for n in datasets.names() if _has_text(n))
        raise ConfigError(f"Dataset {name!r} holds no running text (its examples: {source.description}); language "
                          f"models train on: {text_sets}.", key="data", value=name)
    if split not in builder.info.splits:
        raise ConfigError(f"Dataset {name!r} has no split {split!r}; it has {', '.join(builder.info.splits)}.",
                          key="split", value=split)
    return tuple(example["text"].decode("utf-8") for example in tfds.as_numpy(builder.as_dataset(split=split)))


def _has_text(name):
    from keras_landmarks.datasets import get_source

    features = get_source(name).features
    try:
        return "text" in features()
    except Exception:  # a source whose features need something absent
        return False
