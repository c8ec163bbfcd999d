"""word2vec: the training pairs (sub-sampling, dynamic windows), negative sampling's loss, and skip-gram
and CBOW runs on text_corpus whose vectors gensim reads and scores."""

import math
import pathlib

import keras
import numpy as np
import pytest

from keras_landmarks import registry
from keras_landmarks.models.word2vec import PAD, Word2VecTrainer, keep_probability, training_pairs
from keras_landmarks.training import train


def test_sub_sampling_keeps_a_word_with_probability_sqrt_t_over_f():
    counts = np.array([0, 0, 1, 4, 95])  # frequencies 0.01, 0.04, 0.95
    keep = keep_probability(counts, t=0.01)
    np.testing.assert_allclose(keep[2:], [1.0, 0.5, math.sqrt(0.01 / 0.95)])


def test_skipgram_pairs_stay_in_the_window_and_the_document():
    ids = np.array([2, 3, 4, 5, 6, 7, 8], np.int32)
    starts = np.array([0, 4])  # documents [2 3 4 5] and [6 7 8]
    counts = np.ones(9)
    x, y = training_pairs(ids, starts, counts, "skipgram", window=1, t=1.0, seed=0)  # t = 1: nothing discarded
    expected = {(2, 3), (3, 2), (3, 4), (4, 3), (4, 5), (5, 4), (6, 7), (7, 6), (7, 8), (8, 7)}
    assert sorted(zip(x.tolist(), y.tolist())) == sorted(expected)  # never (5, 6): another document
    x, y = training_pairs(ids, starts, counts, "skipgram", window=3, t=1.0, seed=0)
    position = {w: i for i, w in enumerate(ids.tolist())}
    assert all(0 < abs(position[a] - position[b]) <= 3 and (a < 6) == (b < 6) for a, b in zip(x, y))
    assert len(expected) <= len(x) < 2 * len(x)  # R ∈ [1, 3]: at least every neighbour, some further
    x, y = training_pairs(ids, starts, counts, "cbow", window=1, t=1.0, seed=0)
    np.testing.assert_array_equal(y, ids)
    np.testing.assert_array_equal(x, [[PAD, 3], [2, 4], [3, 5], [4, PAD], [PAD, 7], [6, 8], [7, PAD]])


def test_negative_sampling_loss_is_eq_4():
    net = registry.build("word2vec_skipgram", vocabulary_size=10, embedding_dim=4)
    rng = np.random.default_rng(0)
    table, output = rng.normal(size=(10, 4)), rng.normal(size=(10, 4))
    net.get_layer("input_vectors").embeddings.assign(table)
    net.get_layer("output_vectors").vectors.assign(output)
    noise = np.zeros(10)
    noise[7] = 1.0  # every noise word is 7
    trainer = Word2VecTrainer(net, noise, negatives=3)
    words, targets = np.array([2, 5], np.int32), np.array([4, 9], np.int32)
    loss = keras.ops.convert_to_numpy(trainer.pair_loss(words, targets, seed=0))
    log_sigmoid = lambda z: -np.log1p(np.exp(-z))  # noqa: E731
    expected = [-log_sigmoid(output[t] @ table[w]) - 3 * log_sigmoid(-output[7] @ table[w])
                for w, t in zip(words, targets)]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    # The forward pass is the full softmax's logits, v'_w · v_{w_I} for every w.
    outputs = net(words)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(outputs["logits"]), table[words] @ output.T,
                               rtol=1e-5, atol=1e-5)


def test_huffman_tree_and_hierarchical_softmax_give_a_distribution():
    from keras_landmarks.models.word2vec import HierarchicalSoftmax, huffman_tree

    points, codes, lengths = huffman_tree([5, 9, 12, 13, 16, 45])  # the textbook example
    np.testing.assert_array_equal(lengths, [4, 4, 3, 3, 3, 1])
    words = {tuple(codes[w, : lengths[w]].astype(int)) for w in range(6)}
    assert len(words) == 6 and sum(2.0 ** -lengths) == 1.0  # prefix-free and complete
    assert (points[:, 0] == 4).all()  # every path starts at the root, inner node V − 2

    layer = HierarchicalSoftmax(6, 3)
    layer.build((None, 3))
    layer.assign_tree([5, 9, 12, 13, 16, 45])
    rng = np.random.default_rng(0)
    layer.vectors.assign(rng.normal(size=(5, 3)))
    h = rng.normal(size=(4, 3)).astype(np.float32)
    log_p = keras.ops.convert_to_numpy(layer(h))
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, rtol=1e-5)
    targets = np.array([0, 5, 2, 3])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(layer.path_loss(h, targets)),
                               -log_p[np.arange(4), targets], rtol=1e-5)


def test_a_node_that_n_paths_share_moves_by_their_summed_gradient_over_root_n():
    """The root is on all four paths (its gradient: their sum / √4); node 0, which only words 0 and 1
    reach, is on one path here (word 0's), so it keeps the plain gradient. The loss's value is eq. 3's."""
    import tensorflow as tf

    from keras_landmarks.models.word2vec import HierarchicalSoftmax

    layer = HierarchicalSoftmax(6, 3)
    layer.build((None, 3))
    layer.assign_tree([5, 9, 12, 13, 16, 45])
    rng = np.random.default_rng(1)
    layer.vectors.assign(rng.normal(size=(5, 3)))
    h = tf.constant(rng.normal(size=(4, 3)).astype(np.float32))
    targets = np.array([0, 5, 2, 3])

    def gradients(loss_of):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(loss_of())
        return tf.convert_to_tensor(tape.gradient(loss, layer.vectors)).numpy()  # sparse from the gather

    scaled = gradients(lambda: layer.path_loss(h, targets))
    # eq. 3 through the full forward pass: the plain summed gradients
    plain = gradients(lambda: -tf.gather_nd(layer(h), np.stack([np.arange(4), targets], 1)))
    np.testing.assert_allclose(scaled[4], plain[4] / 2.0, rtol=1e-5)  # the root: 4 paths
    np.testing.assert_allclose(scaled[3], plain[3] / np.sqrt(3.0), rtol=1e-5)  # words 0, 2 and 3 pass node 3
    np.testing.assert_allclose(scaled[0], plain[0], rtol=1e-5)  # one path
    assert np.abs(plain[4]).sum() > 0 and np.abs(plain[0]).sum() > 0


@pytest.mark.parametrize("name, objective", [("word2vec_skipgram", "negative_sampling"),
                                             ("word2vec_cbow", "negative_sampling"),
                                             ("word2vec_skipgram", "hierarchical_softmax")])
def test_word2vec_trains_on_text_corpus_and_writes_gensim_vectors(name, objective, tmp_path, corpus_dir):
    from gensim.models import KeyedVectors

    run = tmp_path / "run"
    # the tree's top nodes move by their batch's summed update over √(pairs through them): slower at first
    steps = 120 if objective == "negative_sampling" else 400
    summary = train(name, "text_corpus", out=run, steps=steps, data_dir=corpus_dir, progress=False,
                    overrides={"vocabulary_size": 300, "embedding_dim": 16, "objective": objective})
    results = summary["results"]
    net = keras.saving.load_model(run / f"{name}.keras")
    # Output vectors start at zero, so an untrained model's loss is (1 + k) log 2 for every pair under
    # negative sampling, and its target's path length times log 2 under the tree.
    if objective == "negative_sampling":
        untrained, margin = 6 * math.log(2), 0.3
    else:  # 400 steps: −0.28 (120 steps: −0.03)
        margin = 0.1
        from keras_landmarks.training.procedures import get_procedure

        spec = registry.get_spec(name)
        config = spec.full_config(vocabulary_size=300, embedding_dim=16, objective=objective)
        _, targets, _ = get_procedure("word2vec").split("text_corpus", "test", corpus_dir, spec=spec, config=config,
                                                       recipe=spec.training(config))
        lengths = keras.ops.convert_to_numpy(net.get_layer("output_vectors").lengths)
        untrained = math.log(2) * float(lengths[targets].mean())
    assert results["test_loss"] < untrained - margin, (results, untrained)
    for key in ("test_analogy_accuracy", "test_wordsim353_spearman", "test_simlex999_spearman"):
        assert np.isfinite(results[key]), key
    vectors = KeyedVectors.load_word2vec_format(str(run / "vectors.txt"))
    assert len(vectors) == 298 and vectors.vector_size == 16  # <unk> and <eod> are not words
    table = keras.ops.convert_to_numpy(net.get_layer("input_vectors").embeddings)
    np.testing.assert_allclose(vectors["the"], table[vectors.key_to_index["the"] + 2], atol=1e-5)


@pytest.mark.large  # about two minutes: both implementations, architectures and objectives
def test_the_gensim_comparison_runs_its_protocol(tmp_path):
    import json
    import subprocess
    import sys

    root = pathlib.Path(__file__).resolve().parents[1]
    output = tmp_path / "word2vec.md"
    subprocess.run([sys.executable, str(root / "tools" / "word2vec_vs_gensim.py"), "--quick", "--seeds", "1",
                    "--output", str(output)], check=True, cwd=root, capture_output=True)
    result = json.loads(output.with_suffix(".json").read_text())
    assert {(r["implementation"], r["architecture"], r["objective"]) for r in result["rows"]} == {
        (i, a, o) for i in ("keras_landmarks", "gensim") for a in ("skipgram", "cbow") for o in ("ns", "hs")}
    assert not [r for r in result["rows"] if r.get("diverged")]  # every run scored, CBOW's hierarchical too
    assert all(0 <= r["analogy_accuracy"] <= 1 and r["neighbours"]["god"] for r in result["rows"])
    assert output.read_text().count("| skipgram |") == 4 + 6  # four table rows, six neighbour rows


def test_docs_hold_the_full_gensim_comparison():
    import json

    root = pathlib.Path(__file__).resolve().parents[1]
    result = json.loads((root / "docs" / "word2vec.json").read_text())
    assert not result["quick"] and result["seeds"] >= 3 and result["epochs"] == 5
    assert len(result["rows"]) == 8 * result["seeds"]  # 2 architectures × 2 objectives × 2 implementations
    page = (root / "docs" / "word2vec.md").read_text()
    for objective in ("ns", "hs"):
        assert f"| skipgram | {objective} | keras_landmarks |" in page and f"| cbow | {objective} | gensim |" in page


def test_a_hierarchical_softmax_model_converts_with_its_tree(tmp_path):
    from keras_landmarks.export import convert

    model = registry.build("word2vec_skipgram", vocabulary_size=20, embedding_dim=4, objective="hierarchical_softmax")
    model.get_layer("output_vectors").assign_tree(np.arange(1, 21))
    model.get_layer("output_vectors").vectors.assign(np.random.default_rng(0).normal(size=(19, 4)))
    manifest = convert(model, formats=("tflite", "onnx"), out=tmp_path, progress=False)
    assert all(a["parity"]["passed"] for a in manifest["artifacts"]), manifest["artifacts"]
    log_p = keras.ops.convert_to_numpy(model(np.arange(20, dtype=np.int32))["logits"])
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, rtol=1e-5)
