"""Language modelling: the word vocabulary, the `language_model` procedure on text_corpus (NNLM's
fixed context, an LSTM's segments), perplexity as the held-out metric, the n-gram baseline."""

import collections
import json

import keras
import numpy as np
import pytest

from keras_landmarks.cli import main
from keras_landmarks.errors import ConfigError
from keras_landmarks.tokenizers import WordVocabulary, words
from keras_landmarks.training import train
from keras_landmarks.training.language import SegmentLoss, segments, token_ids, windows
from tests.helpers import served_greedy_tokens


def test_words_and_the_vocabulary(tmp_path):
    assert words("O'er the hills, my LORD's sheep!") == ["o'er", "the", "hills", ",", "my", "lord's", "sheep", "!"]
    vocabulary = WordVocabulary.from_documents(["b a b c", "a b ; d"], size=5)
    # b ×3, a ×2, then the ties c, ;, d in alphabetical order: ";" < "c"
    assert vocabulary.tokens == ["<unk>", "<eod>", "b", "a", ";"]
    np.testing.assert_array_equal(vocabulary.encode("B d x ;"), [2, 0, 0, 4])
    np.testing.assert_array_equal(vocabulary.encode_documents(["a", "b b"]), [3, 1, 2, 2, 1])
    assert vocabulary.decode([2, 0]) == ["b", "<unk>"]
    path = vocabulary.save(tmp_path / "vocabulary.txt")
    assert WordVocabulary.load(path).tokens == vocabulary.tokens
    with pytest.raises(ConfigError, match="Invalid vocabulary size 2"):
        WordVocabulary.from_documents(["a"], size=2)
    (tmp_path / "bad.txt").write_text("the\n<unk>\n")
    with pytest.raises(ConfigError, match="is not a vocabulary file"):
        WordVocabulary.load(tmp_path / "bad.txt")


def test_windows_and_segments():
    ids = np.arange(10, dtype=np.int32)
    x, y = windows(ids, 3)
    assert x.shape == (7, 3) and list(x[0]) == [0, 1, 2] and y[0] == 3 and list(x[-1]) == [6, 7, 8] and y[-1] == 9
    x, y = segments(ids, 4)
    np.testing.assert_array_equal(x, [[0, 1, 2, 3], [4, 5, 6, 7]])
    np.testing.assert_array_equal(y, [[1, 2, 3, 4], [5, 6, 7, 8]])


def test_segment_loss_sums_over_time_and_averages_over_the_batch():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 5, 7)).astype(np.float32)
    labels = rng.integers(0, 7, (3, 5))
    mean = keras.losses.SparseCategoricalCrossentropy(from_logits=True)(labels, logits)
    assert float(SegmentLoss()(labels, logits)) == pytest.approx(5 * float(mean), rel=1e-5)


def test_nnlm_trains_on_text_corpus_and_reports_perplexity(tmp_path, corpus_dir):
    size, run = 200, tmp_path / "run"
    summary = train("nnlm", "text_corpus", out=run, steps=30, batch_size=64, optimizer="adam", learning_rate=0.01,
                    data_dir=corpus_dir, progress=False,
                    overrides={"vocabulary_size": size, "embedding_dim": 8, "hidden_dim": 16})
    record = json.loads((run / "train.json").read_text())
    assert record["procedure"] == "language_model" and record["assets"] == ["vocabulary.txt"]
    vocabulary = WordVocabulary.load(run / "vocabulary.txt")
    assert len(vocabulary) == size and vocabulary.tokens[:5] == ["<unk>", "<eod>", ",", ".", "the"]

    # The held-out numbers, recomputed here from the saved model and the split's windows.
    test = token_ids("text_corpus", "test", size, corpus_dir)
    x, y = windows(test, 4)
    probabilities = keras.saving.load_model(run / "nnlm.keras").predict(x, batch_size=4096, verbose=0)
    nats = -np.log(probabilities[np.arange(len(y)), y])
    results = summary["results"]
    assert results["test_loss"] == pytest.approx(float(nats.mean()), rel=1e-4)
    assert results["perplexity"] == pytest.approx(np.exp(results["test_loss"]), rel=1e-9)
    assert results["accuracy"] == pytest.approx(float(np.mean(probabilities.argmax(-1) == y)), abs=1e-6)
    assert results["perplexity"] < 0.5 * size, results  # well below a uniform guess's perplexity, |V|

    # int8: calibrated on training windows, gated on the perplexity of 1,000 fixed held-out windows.
    out = tmp_path / "exports"
    assert main(["convert", str(run / "nnlm.keras"), "--formats", "onnx", "--quantize", "int8",
                 "--out", str(out)]) == 0
    manifest = json.loads((out / "nnlm" / "manifest.json").read_text())
    int8 = next(a for a in manifest["artifacts"] if a["artifact"] == "onnx_int8")
    parity = int8["parity"]
    chosen = np.sort(np.random.default_rng(0).permutation(len(y))[:1000])
    assert parity["examples"] == 1000
    assert parity["perplexity_keras"] == pytest.approx(float(np.exp(nats[chosen].mean())), rel=1e-4)
    assert abs(parity["perplexity_change"]) <= 0.02 and parity["passed"]
    assert "training split of the text_corpus training run" in int8["calibration"]


def test_lstm_lm_trains_on_segments_with_its_paper_recipe(tmp_path, corpus_dir):
    from keras_landmarks import registry
    from keras_landmarks.training.recipe import optimizer

    spec = registry.get_spec("lstm_lm")
    recipe = spec.training(spec.full_config())
    assert recipe.options == {"segment": 35, "sum_over_time": True, "carry_state": True} and recipe.batch_size == 20
    assert len(recipe.boundaries) == 39 - 6 and recipe.decay_factor == pytest.approx(1 / 1.2)
    assert optimizer(recipe, 100).global_clipnorm == 5.0
    run = tmp_path / "run"
    summary = train("lstm_lm", "text_corpus", out=run, steps=4, data_dir=corpus_dir, progress=False,
                    overrides={"vocabulary_size": 100, "hidden_dim": 8})
    tokens = len(token_ids("text_corpus", "train", 100, corpus_dir))
    assert summary["steps_per_epoch"] == ((tokens - 1) // 20) // 35  # 20 streams, 35-word segments of each
    assert np.isfinite(summary["results"]["perplexity"]) and summary["results"]["perplexity"] < 200
    shuffled = train("lstm_lm", "text_corpus", out=tmp_path / "shuffled", steps=4, data_dir=corpus_dir, progress=False,
                     overrides={"vocabulary_size": 100, "hidden_dim": 8}, recipe_options={"carry_state": False})
    assert shuffled["steps_per_epoch"] == ((tokens - 1) // 35) // 20  # segments from zero states, shuffled


@pytest.mark.parametrize("forget_gate", [True, False])
def test_the_state_carrier_continues_each_stream_where_the_last_batch_left_it(forget_gate):
    """Zaremba et al.'s training: two batches of `streams` rows read in turn give the logits and final
    states of the model over the two segments joined, row by row (states carried, no dropout here)."""
    import keras

    from keras_landmarks import registry
    from keras_landmarks.training.language import StateCarrier

    net = registry.build("lstm_lm", vocabulary_size=30, hidden_dim=6, dropout=0.0, forget_gate=forget_gate)
    trainer = StateCarrier(net, streams=3, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    trainer.compile(optimizer=keras.optimizers.SGD(0.0))
    ids = np.random.default_rng(0).integers(0, 30, (3, 10)).astype(np.int32)
    trainer.train_step((ids[:, :5], ids[:, 1:6]))
    whole = net(ids, training=False).numpy()
    logits, _ = trainer.run(ids[:, 5:], [[v.value for v in layer] for layer in trainer.states], training=False)
    np.testing.assert_allclose(np.asarray(logits), whole[:, 5:], atol=1e-5)
    read = trainer.carried_reader()  # evaluation: its own states, from zero
    np.testing.assert_allclose(np.asarray(read(ids[:, :5])), whole[:, :5], atol=1e-5)
    np.testing.assert_allclose(np.asarray(read(ids[:, 5:])), whole[:, 5:], atol=1e-5)


def test_a_language_model_on_image_data_gets_one_line(tmp_path, corpus_dir, capsys):
    argv = ["train", "nnlm", "--data", "digits", "--out", str(tmp_path / "run"), "--data-dir", corpus_dir, "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Dataset 'digits' holds no running text" in err and "text_corpus" in err and err.count("\n") == 1, err
    assert not (tmp_path / "run" / "nnlm.keras").exists()


def test_kneser_ney_baseline_is_a_distribution_with_its_estimated_discount():
    from keras_landmarks.claims.language import kneser_ney, kneser_ney_discount

    assert kneser_ney_discount(collections.Counter({"a": 1, "b": 1, "c": 2, "d": 5})) == pytest.approx(2 / 4)
    ids = np.random.default_rng(0).integers(0, 6, 400)
    model, discount = kneser_ney(ids)
    assert 0 < discount < 1 and model.estimator.discount == discount
    for context in (["1", "2"], ["5", "5"], ["9", "9"]):  # 9 never seen: the lower orders answer
        assert sum(model.score(w, context) for w in model.vocab) == pytest.approx(1.0, abs=1e-9)
    # NLTK's vocabulary adds <s>, </s> and <UNK>, which the ids never are: they take under 1% of the mass
    assert sum(model.score(str(w), ["1", "2"]) for w in range(6)) > 0.99


def test_perplexity_gate_passes_the_model_and_fails_another_function():
    from keras_landmarks import registry
    from keras_landmarks.export.parity import PerplexityGate
    from keras_landmarks.export.signature import keras_outputs

    model = registry.build("lstm_lm", vocabulary_size=50, hidden_dim=8)
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 50, (20, 6)).astype(np.int32), rng.integers(0, 50, (20, 6))
    gate = PerplexityGate(x, y)
    same = gate(model, lambda inputs: keras_outputs(model, inputs))
    assert same["passed"] and same["perplexity_change"] == pytest.approx(0.0, abs=1e-5)
    assert same["perplexity_keras"] == pytest.approx(50, rel=0.05)  # fresh weights: about uniform
    sharpened = gate(model, lambda inputs: {"logits": 30 * keras_outputs(model, inputs)["logits"]})
    assert not sharpened["passed"] and sharpened["perplexity_change"] > 0.02


@pytest.mark.parametrize("forget_gate", [True, False])
def test_lstm_generate_carries_the_state_and_matches_the_model(forget_gate, tmp_path):
    from keras_landmarks import registry
    from keras_landmarks.models.lstm import make_generator

    model = registry.build("lstm_lm", vocabulary_size=30, hidden_dim=8, forget_gate=forget_gate)
    rng = np.random.default_rng(0)
    for weight in model.weights:  # larger than the paper's ±0.05, so greedy decoding varies its tokens
        weight.assign(rng.normal(0, 1, weight.shape))
    prompt = np.array([[3, 4, 5], [7, 8, 9]], np.int32)
    greedy = make_generator(model)(prompt, 6, 1.0, 1, np.array([0, 0], np.int32))["token_ids"].numpy()
    sequence = prompt  # greedy decoding by the whole model on each prefix: the same tokens
    for _ in range(6):
        following = model(sequence, training=False).numpy()[:, -1].argmax(-1).astype(np.int32)
        sequence = np.concatenate([sequence, following[:, None]], axis=1)
    np.testing.assert_array_equal(greedy, sequence)
    assert len(set(greedy[:, 3:].ravel().tolist())) > 1

    np.testing.assert_array_equal(served_greedy_tokens(model, prompt, 6, tmp_path), greedy)
    sampled = make_generator(model)(prompt, 6, 1.0, 0, np.array([1, 2], np.int32))["token_ids"].numpy()
    assert sampled.shape == (2, 9) and (sampled[:, :3] == prompt).all() and sampled.max() < 30
    with pytest.raises(Exception, match="the prompt must hold at least one token"):
        make_generator(model)(prompt[:, :0], 2, 1.0, 1, np.array([0, 0], np.int32))


def test_nnlm_generate_slides_its_window_over_the_text():
    from keras_landmarks import registry
    from keras_landmarks.models.nnlm import make_generator

    model = registry.build("nnlm", vocabulary_size=30, order=3, embedding_dim=4, hidden_dim=8)
    rng = np.random.default_rng(0)
    for weight in model.weights:
        weight.assign(rng.normal(0, 1, weight.shape))
    prompt = np.array([[3, 4, 5], [7, 8, 9]], np.int32)
    greedy = make_generator(model)(prompt, 5, 1.0, 1, np.array([0, 0], np.int32))["token_ids"].numpy()
    sequence = prompt
    for _ in range(5):
        following = model(sequence[:, -2:], training=False).numpy().argmax(-1).astype(np.int32)
        sequence = np.concatenate([sequence, following[:, None]], axis=1)
    np.testing.assert_array_equal(greedy, sequence)
    with pytest.raises(Exception, match="at least n − 1 = 2 words"):
        make_generator(model)(prompt[:, :1], 2, 1.0, 1, np.array([0, 0], np.int32))


def test_adding_problem_sequences_are_experiment_4s():
    from keras_landmarks.claims.recurrent import adding_problem

    x, y = adding_problem(500, 40, seed=0)
    assert x.shape == (500, 40, 2) and y.shape == (500,)
    marks = x[:, :, 1]
    marked = marks == 1.0
    assert (marked.sum(1) == 2).all() and (marked[:, :10].sum(1) >= 1).all() and not marked[:, 20:].any()
    assert (marks[:, -1] == -1).all() and np.isin(marks, [-1.0, 0.0, 1.0]).all()
    np.testing.assert_allclose(y, 0.5 + (x[:, :, 0] * marked).sum(1) / 4, atol=1e-6)
    assert np.abs(x[:, :, 0]).max() <= 1
