"""ELMo's biLM pre-training: the characters the CNN reads, the two directions' targets, and a run
through `train`."""

import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.models.elmo import BiLMTrainer, character_ids

SMALL = {"characters": 262, "max_characters": 12, "char_dim": 4, "filters": ((1, 8), (2, 8), (3, 16)),
         "projection_dim": 8, "lstm_units": 16}


def test_characters_are_the_authors_ids():
    """bilm-tf's ids, shifted by one: begin-of-word 259, the UTF-8 bytes + 1, end-of-word 260, padding 261."""
    np.testing.assert_array_equal(character_ids("the", 8), [259, 117, 105, 102, 260, 261, 261, 261])
    assert character_ids("é", 6).tolist() == [259, 196, 170, 260, 261, 261]  # two bytes
    assert character_ids("x" * 20, 6).tolist() == [259, 121, 121, 121, 121, 260]  # cut to fit
    assert character_ids("<eod>", 5).tolist() == [259, 258, 260, 261, 261]


def test_the_forward_lm_predicts_the_next_word_and_the_backward_the_previous():
    """The loss pairs the top forward state at k with word k + 1 and the top backward state with word
    k − 1, through one softmax shared by both directions (checked in numpy)."""
    net = keras_landmarks.build("elmo", **SMALL)
    words = ["<eod>", "a", "b", "c", "d", "e"]
    trainer = BiLMTrainer(net, np.stack([character_ids(w, 12) for w in words]), vocabulary_size=7)
    rng = np.random.default_rng(0)
    trainer.softmax_bias.assign(rng.normal(0, 1, 7).astype("float32"))
    surface = rng.integers(0, 6, (2, 5)).astype(np.int32)
    targets = rng.integers(0, 7, (2, 5)).astype(np.int32)
    forward, backward = (float(v) for v in trainer.directions_nll(surface, targets, training=False))
    top = net(np.stack([[character_ids(words[i], 12) for i in row] for row in surface]))["layers"].numpy()[:, -1]
    w, b = trainer.softmax_kernel.numpy(), trainer.softmax_bias.numpy()

    def nll(h, y):
        logits = h @ w + b
        logits -= logits.max(-1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(-1, keepdims=True))
        return -np.take_along_axis(log_p, y[..., None], -1).mean()

    assert forward == pytest.approx(nll(top[:, :-1, :8], targets[:, 1:]), rel=1e-4)
    assert backward == pytest.approx(nll(top[:, 1:, 8:], targets[:, :-1]), rel=1e-4)
    assert len(trainer.trained_variables()) == len(net.trainable_variables) + 2


@pytest.mark.large  # 30 s
def test_the_bilm_trains_through_train(tmp_path, corpus_dir):
    from keras_landmarks.training import train

    summary = train("elmo", "text_corpus", out=tmp_path / "run", steps=60, batch_size=16, learning_rate=0.2,
                    data_dir=corpus_dir, progress=False, overrides=SMALL, recipe_options={"vocabulary_size": 500})
    results = summary["results"]
    assert results["perplexity_forward"] < 250 and results["perplexity_backward"] < 250, results  # untrained: ~500
    assert (tmp_path / "run" / "elmo.keras").is_file() and (tmp_path / "run" / "vocabulary.txt").is_file()
