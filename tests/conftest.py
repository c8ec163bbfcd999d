import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import pytest  # noqa: E402

import keras_landmarks  # noqa: E402,F401


@pytest.fixture(autouse=True)
def _fresh_keras_session():
    """Each test starts from a clean Keras graph, so memory does not pile up over the suite, and from the
    same random state, so a failure on random weights is the same failure on every run and machine."""
    keras.utils.set_random_seed(0)
    yield
    keras.backend.clear_session()


@pytest.fixture(scope="session")
def corpus_dir(tmp_path_factory):
    """A TFDS folder with text_corpus and digits built once per test process (the language tests read it)."""
    from keras_landmarks.datasets import prepare

    folder = str(tmp_path_factory.mktemp("tfds_text"))
    prepare("text_corpus", folder)
    prepare("digits", folder)
    return folder
