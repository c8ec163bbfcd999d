"""The attention landmarks: masks, generation, and the paper's claim that attention lets the decoder look back."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import keras_landmarks
from keras_landmarks.models import gpt, rnnsearch, transformer
from tests.helpers import tiny_model

BOS, EOS, PAD = 1, 2, 0


def _changed_padding(ids, mask, seed=0):
    """`ids` with different tokens wherever `mask` is 0."""
    rng = np.random.default_rng(seed)
    other = rng.integers(3, 20, ids.shape).astype("int32")
    return np.where(mask == 1, ids, other)


# ---------------------------------------------------------------------------------------------------
# Padding.


def test_bert_padding_does_not_change_real_positions():
    model = tiny_model("bert_tiny")
    ids = np.random.default_rng(1).integers(3, 50, (2, 7)).astype("int32")
    mask = np.array([[1] * 7, [1] * 4 + [0] * 3], "int32")
    segments = np.zeros_like(ids)
    a = model({"token_ids": ids, "segment_ids": segments, "padding_mask": mask})
    b = model({"token_ids": _changed_padding(ids, mask), "segment_ids": segments, "padding_mask": mask})
    real = mask.astype(bool)
    np.testing.assert_allclose(a["sequence_output"].numpy()[real], b["sequence_output"].numpy()[real], atol=1e-5)
    np.testing.assert_allclose(a["pooled_output"].numpy(), b["pooled_output"].numpy(), atol=1e-5)
    # Without the mask the padded tokens do leak into the real positions (the test can fail).
    c = model({"token_ids": _changed_padding(ids, mask), "segment_ids": segments, "padding_mask": np.ones_like(mask)})
    assert not np.allclose(a["sequence_output"].numpy()[real], c["sequence_output"].numpy()[real], atol=1e-5)


def test_gpt2_left_padding_is_ignored():
    model = tiny_model("gpt2")
    ids = np.random.default_rng(2).integers(3, 50, (2, 6)).astype("int32")
    mask = np.array([[1] * 6, [0, 0] + [1] * 4], "int32")  # the second prompt is left-padded
    a = model({"token_ids": ids, "padding_mask": mask})["logits"].numpy()
    b = model({"token_ids": _changed_padding(ids, mask), "padding_mask": mask})["logits"].numpy()
    np.testing.assert_allclose(a[mask == 1], b[mask == 1], atol=1e-5)


def test_transformer_padding_does_not_change_real_positions():
    model = tiny_model("transformer_base")
    rng = np.random.default_rng(3)
    src, tgt = rng.integers(3, 50, (2, 7)).astype("int32"), rng.integers(3, 50, (2, 5)).astype("int32")
    src_mask = np.array([[1] * 7, [1] * 3 + [0] * 4], "int32")
    tgt_mask = np.array([[1] * 5, [1] * 2 + [0] * 3], "int32")

    def run(s, t):
        return model({"encoder_token_ids": s, "encoder_padding_mask": src_mask, "decoder_token_ids": t,
                      "decoder_padding_mask": tgt_mask})["logits"].numpy()

    a = run(src, tgt)
    b = run(_changed_padding(src, src_mask), _changed_padding(tgt, tgt_mask, seed=4))
    np.testing.assert_allclose(a[tgt_mask == 1], b[tgt_mask == 1], atol=1e-5)


def test_rnnsearch_padding_does_not_change_real_positions():
    model = tiny_model("rnnsearch")
    rng = np.random.default_rng(5)
    src, tgt = rng.integers(3, 40, (2, 7)).astype("int32"), rng.integers(3, 30, (2, 4)).astype("int32")
    mask = np.array([[1] * 7, [1] * 3 + [0] * 4], "int32")
    a = model({"source_token_ids": src, "source_padding_mask": mask, "target_token_ids": tgt})["logits"].numpy()
    b = model({"source_token_ids": _changed_padding(src, mask), "source_padding_mask": mask,
               "target_token_ids": tgt})["logits"].numpy()
    np.testing.assert_allclose(a, b, atol=1e-5)


# ---------------------------------------------------------------------------------------------------
# Generation.


def test_gpt2_generator_with_cache_matches_full_recomputation():
    model = tiny_model("gpt2")
    generate = gpt.make_generator(model)
    prompt = np.array([[5, 9, 3], [7, 7, 11]], "int32")
    out = generate(prompt, tf.constant(6), tf.constant(1.0), tf.constant(1), tf.constant([1, 2]))["token_ids"].numpy()
    # top_k = 1 is greedy: recompute the whole sequence at every step and take the argmax.
    ids = prompt
    for _ in range(6):
        logits = model({"token_ids": ids, "padding_mask": np.ones_like(ids)})["logits"].numpy()
        ids = np.concatenate([ids, logits[:, -1].argmax(-1)[:, None].astype("int32")], axis=1)
    np.testing.assert_array_equal(out, ids)


def test_gpt2_sampling_is_seeded_and_respects_top_k():
    model = tiny_model("gpt2")
    generate = gpt.make_generator(model)
    prompt = np.array([[5, 9, 3]], "int32")
    args = (tf.constant(8), tf.constant(1.0), tf.constant(0))
    a = generate(prompt, *args, tf.constant([3, 4]))["token_ids"].numpy()
    b = generate(prompt, *args, tf.constant([3, 4]))["token_ids"].numpy()
    c = generate(prompt, *args, tf.constant([5, 6]))["token_ids"].numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    with pytest.raises(tf.errors.InvalidArgumentError, match="must fit in 16 positions"):
        generate(prompt, tf.constant(20), *args[1:], tf.constant([1, 1]))


# ---------------------------------------------------------------------------------------------------
# Training on synthetic translation tasks.


def reversal_data(n, length, vocab, seed):
    """Source: random tokens 3..vocab-1; target: the source reversed, then EOS."""
    rng = np.random.default_rng(seed)
    source = rng.integers(3, vocab, (n, length)).astype("int32")
    target = np.concatenate([source[:, ::-1], np.full((n, 1), EOS, "int32")], axis=1)
    decoder_inputs = np.concatenate([np.full((n, 1), BOS, "int32"), target[:, :-1]], axis=1)
    return source, decoder_inputs, target


def _train(model, inputs, target, steps, batch=32, learning_rate=1e-2, seed=0):
    keras.utils.set_random_seed(seed)
    model.compile(keras.optimizers.Adam(learning_rate), {"logits": keras.losses.SparseCategoricalCrossentropy(from_logits=True)})
    epochs = max(1, steps * batch // len(target))
    model.fit(inputs, {"logits": target}, batch_size=batch, epochs=epochs, verbose=0, shuffle=True)


def _accuracy(model, inputs, target):
    """(token accuracy, whole-sequence accuracy) of the teacher-forced predictions."""
    correct = model.predict(inputs, verbose=0)["logits"].argmax(-1) == target
    return float(correct.mean()), float(correct.all(axis=1).mean())


def _rnnsearch(attention, seed=0):
    keras.utils.set_random_seed(seed)
    return keras_landmarks.build("rnnsearch", source_vocabulary_size=12, target_vocabulary_size=12, embedding_dim=16,
                                 hidden_dim=16, alignment_dim=16, maxout_dim=16, attention=attention)


@pytest.fixture(scope="module")
def reversal():
    train = reversal_data(2048, 12, 12, seed=0)
    test = reversal_data(256, 12, 12, seed=1)
    return train, test


def _rnn_inputs(source, decoder_inputs):
    return {"source_token_ids": source, "source_padding_mask": np.ones_like(source), "target_token_ids": decoder_inputs}


@pytest.mark.large  # a small training experiment (35 s)
def test_attention_beats_the_same_network_without_attention(reversal):
    """Reversing 12 tokens needs the first source token at the last step: a 16-unit state forgets it;
    attention looks it up (§5.2.1: RNNsearch does not degrade with length as RNNencdec does)."""
    (src, dec, tgt), (test_src, test_dec, test_tgt) = reversal
    accuracy = {}
    for attention in (True, False):
        model = _rnnsearch(attention)
        _train(model, _rnn_inputs(src, dec), tgt, steps=600)
        accuracy[attention] = _accuracy(model, _rnn_inputs(test_src, test_dec), test_tgt)
        keras.backend.clear_session()
    print("token / sequence accuracy with attention", accuracy[True], "without", accuracy[False])
    assert accuracy[True][1] > 0.9, accuracy  # whole reversed sequences right
    assert accuracy[True][1] - accuracy[False][1] > 0.5, accuracy


def _decode_ok(tokens, target):
    """Decoded rows (BOS, y_1 … EOS, PAD …) against targets (y_1 … EOS)."""
    return np.array_equal(tokens[:, 1 : target.shape[1] + 1], target)


def test_rnnsearch_greedy_and_beam_reproduce_training_targets():
    src, dec, tgt = reversal_data(16, 5, 12, seed=2)
    model = _rnnsearch(True, seed=1)
    _train(model, _rnn_inputs(src, dec), tgt, steps=400, batch=16)
    greedy, beam = rnnsearch.make_decoder(model, max_length=8, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    mask = np.ones_like(src)
    assert _decode_ok(greedy(src, mask)["token_ids"].numpy(), tgt)
    result = beam(src, mask, tf.constant(3), tf.constant(0.6))
    assert _decode_ok(result["token_ids"].numpy(), tgt)
    assert np.all(np.isfinite(result["scores"].numpy()))


@pytest.mark.large  # trains to convergence (35 s); RNNsearch's decoding test runs by default
def test_transformer_greedy_and_beam_reproduce_training_targets():
    src, dec, tgt = reversal_data(16, 5, 12, seed=3)
    keras.utils.set_random_seed(2)
    model = keras_landmarks.build("transformer_base", vocabulary_size=12, num_layers=2, num_heads=2, hidden_dim=32,
                                  intermediate_dim=64, dropout=0.0)
    inputs = {"encoder_token_ids": src, "encoder_padding_mask": np.ones_like(src), "decoder_token_ids": dec,
              "decoder_padding_mask": np.ones_like(dec)}
    _train(model, inputs, tgt, steps=300, batch=16, learning_rate=3e-3)
    greedy, beam = transformer.make_decoder(model, max_length=8, bos_id=BOS, eos_id=EOS, pad_id=PAD)
    mask = np.ones_like(src)
    greedy_tokens = greedy(src, mask)["token_ids"].numpy()
    assert _decode_ok(greedy_tokens, tgt)
    result = beam(src, mask, tf.constant(4), tf.constant(0.6))
    assert _decode_ok(result["token_ids"].numpy(), tgt)
    # After EOS every position holds padding.
    assert np.all(greedy_tokens[:, tgt.shape[1] + 1 :] == PAD)


def test_generators_export_as_saved_model_signatures(tmp_path):
    from keras_landmarks.export import write_saved_model

    model = tiny_model("gpt2")
    generate = gpt.make_generator(model)
    write_saved_model(model, tmp_path / "gpt2", extra_signatures={"generate": generate})
    loaded = tf.saved_model.load(str(tmp_path / "gpt2"))
    assert set(loaded.signatures) == {"serving_default", "generate"}
    prompt = np.array([[5, 9, 3]], "int32")
    args = dict(max_new_tokens=tf.constant(4), temperature=tf.constant(1.0), top_k=tf.constant(1),
                seed=tf.constant([1, 2]))
    served = loaded.signatures["generate"](prompt_ids=tf.constant(prompt), **args)["token_ids"].numpy()
    np.testing.assert_array_equal(served, generate(prompt, *args.values())["token_ids"].numpy())

    seq2seq = tiny_model("transformer_base")
    greedy, beam = transformer.make_decoder(seq2seq, max_length=6)
    write_saved_model(seq2seq, tmp_path / "transformer", extra_signatures={"greedy": greedy, "beam": beam})
    loaded = tf.saved_model.load(str(tmp_path / "transformer"))
    src = tf.constant([[5, 6, 7, 8]], tf.int32)
    served = loaded.signatures["beam"](encoder_token_ids=src, encoder_padding_mask=tf.ones_like(src),
                                       beam_width=tf.constant(2), length_penalty=tf.constant(0.6))
    assert served["token_ids"].shape == (1, 6) and served["token_ids"].numpy()[0, 0] == 1
