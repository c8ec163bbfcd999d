"""GloVe: the co-occurrence counts (1/d weighting, document bounds), eq. 8's weighted least squares, and a
run on text_corpus whose W + W̃ vectors gensim reads."""

import json
import math
import pathlib

import keras
import numpy as np
import pytest

from keras_landmarks import registry
from keras_landmarks.models.glove import GloVeTrainer, cooccurrence_matrix
from keras_landmarks.training import train

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_cooccurrences_weight_one_over_distance_within_a_document():
    ids = np.array([2, 3, 4, 2, 5, 6], np.int32)
    starts = np.array([0, 4])  # documents [2 3 4 2] and [5 6]
    x = cooccurrence_matrix(ids, starts, 7, window=2).toarray()
    expected = np.zeros((7, 7))
    for a, b, weight in ((2, 3, 1), (3, 4, 1), (4, 2, 1), (2, 4, 1 / 2), (3, 2, 1 / 2), (5, 6, 1)):
        expected[a, b] += weight
        expected[b, a] += weight
    np.testing.assert_allclose(x, expected)  # never (2, 5) or (4, 5): another document
    assert x[2, 2] == 0  # 2 … 2 are three apart, outside the window
    np.testing.assert_allclose(cooccurrence_matrix(ids, starts, 7, window=3).toarray()[2, 2], 2 / 3)


def test_glove_loss_is_eq_8_with_eq_9s_weighting_and_the_vectors_are_w_plus_w_tilde():
    net = registry.build("glove", vocabulary_size=6, embedding_dim=3)
    tables = net.get_layer("glove_tables")
    rng = np.random.default_rng(0)
    w, c, b, bc = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), rng.normal(size=6), rng.normal(size=6)
    for variable, value in ((tables.word_vectors, w), (tables.context_vectors, c), (tables.word_biases, b),
                            (tables.context_biases, bc)):
        variable.assign(value)
    assert net.count_params() == 2 * 6 * (3 + 1)
    pairs = np.array([[1, 2], [3, 3], [5, 0]], np.int32)
    counts = np.array([0.5, 100.0, 400.0], np.float32)
    loss = keras.ops.convert_to_numpy(GloVeTrainer(net).entry_loss(pairs, counts))
    weight = np.minimum(1.0, (counts / 100.0) ** 0.75)
    fit = np.sum(w[pairs[:, 0]] * c[pairs[:, 1]], -1) + b[pairs[:, 0]] + bc[pairs[:, 1]]
    np.testing.assert_allclose(loss, 0.5 * weight * (fit - np.log(counts)) ** 2, rtol=1e-5)
    assert weight[1] == weight[2] == 1.0  # f caps at x_max
    outputs = net({"word_ids": np.arange(6, dtype=np.int32), "context_ids": np.array([5, 4, 3, 2, 1, 0], np.int32)})
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["vectors"]), w + c, rtol=1e-6)
    j = np.array([5, 4, 3, 2, 1, 0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["log_counts"]),
                               np.sum(w * c[j], -1) + b + bc[j], rtol=1e-5)


def test_the_recipe_is_the_papers():
    from keras_landmarks.training.recipe import optimizer

    spec = registry.get_spec("glove")
    recipe = spec.training(spec.full_config())
    assert (recipe.optimizer, recipe.learning_rate, recipe.epochs) == ("adagrad", 0.05, 100)  # d = 300
    assert recipe.options["x_max"] == 100 and recipe.options["alpha"] == 0.75 and recipe.options["window"] == 10
    assert spec.training(spec.full_config(embedding_dim=100)).epochs == 50
    adagrad = optimizer(recipe, 10)
    assert isinstance(adagrad, keras.optimizers.Adagrad) and adagrad.initial_accumulator_value == 1.0


@pytest.mark.large  # a 300-step training run
def test_glove_trains_on_text_corpus_and_writes_gensim_vectors(tmp_path, corpus_dir):
    from gensim.models import KeyedVectors

    from keras_landmarks.models.glove import cooccurrences, weighting

    run = tmp_path / "run"
    summary = train("glove", "text_corpus", out=run, steps=300, data_dir=corpus_dir, progress=False,
                    overrides={"vocabulary_size": 300, "embedding_dim": 16})
    results = summary["results"]
    # Every vector and bias starts within ±0.5/d, so an untrained model predicts log X ≈ 0: its loss is
    # about ½ f(X)(log X)² on the held-out entries.
    pairs, counts = cooccurrences("text_corpus", 300, "test", 10, corpus_dir)
    untrained = float(np.mean(0.5 * keras.ops.convert_to_numpy(weighting(counts)) * np.log(counts) ** 2))
    assert results["test_loss"] < 0.5 * untrained, (results, untrained)
    history = json.loads((run / "history.json").read_text())["epochs"]
    assert history[-1]["loss"] < 0.5 * untrained
    for key in ("test_analogy_accuracy", "test_wordsim353_spearman", "test_simlex999_spearman"):
        assert np.isfinite(results[key]), key
    vectors = KeyedVectors.load_word2vec_format(str(run / "vectors.txt"))
    assert len(vectors) == 298 and vectors.vector_size == 16  # <unk> and <eod> are not words
    net = keras.saving.load_model(run / "glove.keras")
    tables = net.get_layer("glove_tables")
    final = keras.ops.convert_to_numpy(tables.word_vectors) + keras.ops.convert_to_numpy(tables.context_vectors)
    np.testing.assert_allclose(vectors["the"], final[vectors.key_to_index["the"] + 2], atol=1e-5)
    neighbours = [w for w, _ in vectors.most_similar("the", topn=3)]
    assert all(math.isfinite(vectors.similarity("the", w)) for w in neighbours)


def test_a_bad_window_is_one_clear_error(tmp_path, corpus_dir):
    from keras_landmarks.errors import ConfigError
    from keras_landmarks.training.procedures import get_procedure

    spec = registry.get_spec("glove")
    config = spec.full_config(vocabulary_size=300, embedding_dim=8)
    recipe = spec.training(config)
    recipe = recipe.replace(options={**recipe.options, "window": 0})
    with pytest.raises(ConfigError, match="window 0"):
        get_procedure("glove").split("text_corpus", "train", corpus_dir, spec=spec, config=config, recipe=recipe)


@pytest.mark.large  # about half a minute: GloVe and gensim's skip-gram at the quick protocol
def test_the_skipgram_comparison_runs_its_protocol(tmp_path):
    import subprocess
    import sys

    output = tmp_path / "glove.md"
    subprocess.run([sys.executable, str(ROOT / "tools" / "glove_vs_skipgram.py"), "--quick", "--seeds", "1",
                    "--output", str(output)], check=True, cwd=ROOT, capture_output=True)
    result = json.loads(output.with_suffix(".json").read_text())
    assert {(r["implementation"], r["model"]) for r in result["rows"]} == {("keras_landmarks", "glove"),
                                                                        ("gensim", "skipgram")}
    assert all(0 <= r["analogy_accuracy"] <= 1 and r["neighbours"]["god"] for r in result["rows"])
    assert output.with_suffix(".png").stat().st_size > 1000
    assert "| glove | keras_landmarks |" in output.read_text()


def test_docs_hold_the_full_skipgram_comparison():
    result = json.loads((ROOT / "docs" / "glove.json").read_text())
    assert not result["quick"] and result["seeds"] >= 3 and result["vocabulary_size"] == 10_000
    models = [(r["implementation"], r["model"]) for r in result["rows"]]
    assert models.count(("keras_landmarks", "glove")) == result["seeds"]
    assert models.count(("gensim", "skipgram")) == result["seeds"]
    page = (ROOT / "docs" / "glove.md").read_text()
    assert "| glove | keras_landmarks |" in page and (ROOT / "docs" / "glove.png").exists()


@pytest.mark.parametrize("name", ["glove", "word2vec_cbow"])
def test_a_saved_model_serves_lookup_and_nearest_neighbours(name, tmp_path):
    import tensorflow as tf

    from keras_landmarks.export import convert

    model = registry.build(name, vocabulary_size=40, embedding_dim=6)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(size=weight.shape))
    if name == "glove":
        tables = model.get_layer("glove_tables")
        table = tables.word_vectors.numpy() + tables.context_vectors.numpy()
    else:
        table = model.get_layer("input_vectors").embeddings.numpy()
    manifest = convert(model, formats=("saved_model",), out=tmp_path, progress=False)
    assert manifest["artifacts"][0]["signatures"] == ["serving_default", "lookup", "nearest"]
    loaded = tf.saved_model.load(str(tmp_path / name / "saved_model" / "1"))
    ids = tf.constant([2, 17, 39])
    np.testing.assert_allclose(loaded.signatures["lookup"](word_ids=ids)["vectors"].numpy(), table[[2, 17, 39]],
                               rtol=1e-5)
    served = loaded.signatures["nearest"](word_ids=ids)
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    for row, word in enumerate([2, 17, 39]):
        similarity = unit @ unit[word]
        similarity[[0, 1, word]] = -np.inf  # never the word itself, <unk> or <eod>
        expected = np.argsort(-similarity)[:10]
        np.testing.assert_array_equal(served["neighbour_ids"].numpy()[row], expected)
        np.testing.assert_allclose(served["similarities"].numpy()[row], similarity[expected], rtol=1e-4)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"word_ids must be in \[0, 40\)"):
        loaded.signatures["nearest"](word_ids=tf.constant([40]))
