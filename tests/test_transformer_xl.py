"""Transformer-XL: a segment with the previous segment's memory computes what the whole text computes,
the memory carries no gradient, and the adaptive softmax is a distribution over the full vocabulary."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_landmarks import registry
from keras_landmarks.models.transformer_xl import AdaptiveSoftmax
from tests.helpers import served_greedy_tokens

CONFIG = {"vocabulary_size": 60, "num_layers": 2, "hidden_dim": 16, "num_heads": 2, "head_dim": 8,
          "intermediate_dim": 32, "cutoffs": (20, 40), "memory_length": 8}


def _empty(batch=2):
    return np.zeros((batch, CONFIG["num_layers"], 0, CONFIG["hidden_dim"]), np.float32)


def test_a_segment_with_memory_computes_what_the_whole_text_computes():
    model = registry.build("transformer_xl", **CONFIG)
    ids = np.random.default_rng(0).integers(0, 60, (2, 11)).astype(np.int32)
    whole = model({"token_ids": ids, "memory": _empty()})["logits"].numpy()
    first = model({"token_ids": ids[:, :5], "memory": _empty()})
    second = model({"token_ids": ids[:, 5:], "memory": first["next_memory"].numpy()})
    np.testing.assert_allclose(first["logits"].numpy(), whole[:, :5], atol=1e-5)
    np.testing.assert_allclose(second["logits"].numpy(), whole[:, 5:], atol=1e-5)  # relative positions line up
    # Without the memory the second segment sees less and computes something else.
    alone = model({"token_ids": ids[:, 5:], "memory": _empty()})["logits"].numpy()
    assert np.abs(alone - whole[:, 5:]).max() > 1e-3
    # The memory keeps the last memory_length inputs of each layer: layer 0's are the scaled embeddings.
    memory = second["next_memory"].numpy()
    assert memory.shape == (2, 2, 8, 16)
    table = model.get_layer("token_embedding").embeddings.numpy()
    np.testing.assert_allclose(memory[:, 0], table[ids[:, 3:]] * np.sqrt(16), rtol=1e-5)


def test_the_memory_carries_no_gradient():
    model = registry.build("transformer_xl", **CONFIG)
    ids = np.random.default_rng(1).integers(0, 60, (2, 4)).astype(np.int32)
    memory = tf.constant(np.random.default_rng(2).normal(size=(2, 2, 5, 16)).astype(np.float32))
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(memory)
        out = model({"token_ids": tf.constant(ids), "memory": memory}, training=True)
        loss = -tf.reduce_mean(tf.gather(out["logits"], ids, axis=-1, batch_dims=2))
    gradient = tape.gradient(loss, memory)
    assert gradient is None or not np.any(gradient.numpy())  # SG(h_τ) in §3.2
    assert all(g is not None for g in tape.gradient(loss, model.trainable_variables))


def test_adaptive_softmax_is_head_times_cluster():
    rng = np.random.default_rng(0)
    layer = AdaptiveSoftmax(10, cutoffs=(4, 7))
    hidden = rng.normal(size=(3, 5)).astype(np.float32)
    logits = rng.normal(size=(3, 10)).astype(np.float32)
    layer.build(hidden.shape, logits.shape)
    layer.bias.assign(rng.normal(size=10))
    layer.cluster_kernel.assign(rng.normal(size=(5, 2)))
    log_p = keras.ops.convert_to_numpy(layer(hidden, logits))
    z = logits + layer.bias.numpy()
    head = np.concatenate([z[:, :4], hidden @ layer.cluster_kernel.numpy() + layer.cluster_bias.numpy()], -1)
    head = head - np.log(np.exp(head).sum(-1, keepdims=True))
    expected = np.concatenate([head[:, :4],
                               head[:, 4:5] + z[:, 4:7] - np.log(np.exp(z[:, 4:7]).sum(-1, keepdims=True)),
                               head[:, 5:6] + z[:, 7:] - np.log(np.exp(z[:, 7:]).sum(-1, keepdims=True))], -1)
    np.testing.assert_allclose(log_p, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(np.exp(log_p).sum(-1), 1.0, rtol=1e-5)


def test_bad_cutoffs_are_one_clear_error():
    import pytest

    from keras_landmarks.errors import ConfigError

    with pytest.raises(ConfigError, match="cutoffs"):
        registry.build("transformer_xl", **{**CONFIG, "cutoffs": (40, 20)})
    with pytest.raises(ConfigError, match="cutoffs"):
        registry.build("transformer_xl", **{**CONFIG, "cutoffs": (20, 60)})


def test_streams_continue_row_for_row():
    from keras_landmarks.models.transformer_xl import streams

    ids = np.arange(103, dtype=np.int32)
    x, y = streams(ids, count=4, length=5)  # 4 streams of 25 tokens: 5 segments each
    assert x.shape == y.shape == (20, 5)
    np.testing.assert_array_equal(y, x + 1)  # targets one on
    for k in range(1, 5):
        np.testing.assert_array_equal(x[k * 4 : (k + 1) * 4, 0], x[(k - 1) * 4 : k * 4, -1] + 1)  # batch k continues k − 1
    np.testing.assert_array_equal(x[:4, 0], [0, 25, 50, 75])


def test_segment_recurrence_trains_through_train_and_carries_the_memory(tmp_path, corpus_dir):
    import json
    import math

    from keras_landmarks.training import train

    small = {**CONFIG, "vocabulary_size": 256, "cutoffs": (), "memory_length": 16}
    summary = train("transformer_xl_enwik8", "text_corpus", out=tmp_path / "run", steps=60, batch_size=8,
                    learning_rate=5e-3, data_dir=corpus_dir, progress=False, overrides=small,
                    recipe_options={"units": "bytes", "segment": 16, "eval_tokens": 20_000})
    results = summary["results"]
    assert results["bits_per_token"] < math.log2(256) - 2.0, results  # well below uniform bytes (8 bits)
    record = json.loads((tmp_path / "run" / "train.json").read_text())
    assert record["options"]["recipe"]["options"] == {"units": "bytes", "segment": 16, "eval_tokens": 20_000}
    model = keras.saving.load_model(tmp_path / "run" / "transformer_xl_enwik8.keras")
    assert model.get_layer("next_memory").memory_length == 16
    # int8 calibrated on the run's training segments (the memory drawn from its kind) and gated on the
    # held-out segments' perplexity, each read from an empty memory
    from keras_landmarks.export import convert

    manifest = convert(str(tmp_path / "run" / "transformer_xl_enwik8.keras"), formats=("onnx_int8",),
                       out=tmp_path / "out", progress=False)
    gate = manifest["artifacts"][0]["parity"]
    assert gate["passed"] and gate["examples"] == 200 and "perplexity" in gate["gate"], gate


def test_the_memory_trainer_keeps_the_last_positions():
    from keras_landmarks.models.transformer_xl import MemoryTrainer

    net = registry.build("transformer_xl", **{**CONFIG, "memory_length": 6, "dropout": 0.0})
    trainer = MemoryTrainer(net, streams=2)
    trainer.compile(optimizer=keras.optimizers.SGD(0.0))
    assert trainer.current_memory().shape[2] == 0
    ids = np.random.default_rng(0).integers(0, 60, (2, 4)).astype(np.int32)
    trainer.train_step((tf.constant(ids), tf.constant(ids)))
    assert trainer.current_memory().shape[2] == 4
    trainer.train_step((tf.constant(ids), tf.constant(ids)))
    kept = trainer.current_memory().numpy()
    assert kept.shape == (2, 2, 6, 16)
    table = net.get_layer("token_embedding").embeddings.numpy()
    np.testing.assert_allclose(kept[:, 0, -4:], table[ids] * 4.0, rtol=1e-5)  # layer 0: the scaled embeddings


def test_bad_recipe_options_and_units_are_one_clear_error(tmp_path, corpus_dir):
    import pytest

    from keras_landmarks.errors import ConfigError
    from keras_landmarks.training import train

    with pytest.raises(ConfigError, match="Unknown recipe option 'window' for transformer_xl_enwik8. Allowed: "
                                          "eval_tokens, segment, units"):
        train("transformer_xl_enwik8", "text_corpus", out=tmp_path / "a", steps=1, data_dir=corpus_dir,
              progress=False, overrides=CONFIG, recipe_options={"window": 3})
    with pytest.raises(ConfigError, match="vocabulary_size >= 256"):
        train("transformer_xl_enwik8", "text_corpus", out=tmp_path / "b", steps=1, data_dir=corpus_dir,
              progress=False, overrides={**CONFIG, "cutoffs": ()}, recipe_options={"units": "bytes"})
    assert not (tmp_path / "b").exists() or not any((tmp_path / "b").iterdir())


def test_generate_reads_with_the_memory_and_matches_the_whole_model(tmp_path):
    """Greedy generation, one token at a time with the cached memory, gives the tokens the model picks
    re-reading the whole prefix (the memory holds every earlier position here); the SavedModel serves
    the same as `generate`."""
    from keras_landmarks.models.transformer_xl import make_generator

    model = registry.build("transformer_xl_enwik8", **{**CONFIG, "cutoffs": (), "memory_length": 16, "dropout": 0.0})
    rng = np.random.default_rng(0)
    for weight in model.weights:  # matrices larger than their initial scale, so that greedy decoding varies
        if len(weight.shape) >= 2:
            weight.assign(rng.normal(0, 0.5, weight.shape))
    prompt = np.array([[3, 4, 5], [7, 8, 9]], np.int32)
    greedy = make_generator(model)(prompt, 6, 1.0, 1, np.array([0, 0], np.int32))["token_ids"].numpy()
    sequence = prompt
    empty = np.zeros((2, CONFIG["num_layers"], 0, CONFIG["hidden_dim"]), np.float32)
    for _ in range(6):
        logits = model({"token_ids": sequence, "memory": empty}, training=False)["logits"].numpy()
        sequence = np.concatenate([sequence, logits[:, -1].argmax(-1).astype(np.int32)[:, None]], axis=1)
    np.testing.assert_array_equal(greedy, sequence)
    assert len(set(greedy[:, 3:].ravel().tolist())) > 1
    np.testing.assert_array_equal(served_greedy_tokens(model, prompt, 6, tmp_path), greedy)


def test_the_perplexity_gate_reads_each_segment_from_an_empty_memory():
    """A run's int8 artifacts are gated on held-out perplexity (Transformer-XL's log-probabilities, the
    memory input given empty): Keras against itself passes, a sharper distribution fails."""
    from keras_landmarks.export.parity import PerplexityGate
    from keras_landmarks.export.signature import keras_outputs
    from keras_landmarks.models.transformer_xl import SegmentRecurrence

    assert SegmentRecurrence.quality_metric == "perplexity"
    model = registry.build("transformer_xl_enwik8", **{**CONFIG, "cutoffs": ()})
    rng = np.random.default_rng(0)
    x, y = rng.integers(0, 60, (12, 6)).astype(np.int32), rng.integers(0, 60, (12, 6))
    gate = PerplexityGate(x, y)
    same = gate(model, lambda inputs: keras_outputs(model, inputs))
    assert same["passed"] and abs(same["perplexity_change"]) < 1e-5 and 30 < same["perplexity_keras"] < 120
    sharpened = gate(model, lambda inputs: {"logits": 30 * keras_outputs(model, inputs)["logits"]})
    assert not sharpened["passed"] and sharpened["perplexity_change"] > 0.02


def test_symbols_number_the_bytes_that_occur(tmp_path, corpus_dir):
    """enwik8's recipe reads `symbols`: the bytes that occur in the text, numbered in byte order (the
    reference code's 204 for enwik8), so the registered vocabulary of 204 trains as it is; the run
    writes the numbering, and a vocabulary too small for the text is refused up front."""
    from keras_landmarks.errors import ConfigError
    from keras_landmarks.models.transformer_xl import byte_ids, byte_symbols, symbol_ids
    from keras_landmarks.training import train

    symbols = byte_symbols("text_corpus", corpus_dir)
    ids = symbol_ids("text_corpus", "test", corpus_dir)
    assert 60 < len(symbols) <= 204 and ids.max() == len(symbols) - 1 and ids.min() == 0
    np.testing.assert_array_equal(symbols[ids], byte_ids("text_corpus", "test", corpus_dir))
    small = {k: v for k, v in CONFIG.items() if k != "vocabulary_size"} | {"cutoffs": (), "memory_length": 8}
    train("transformer_xl_enwik8", "text_corpus", out=tmp_path / "run", steps=2, batch_size=4, data_dir=corpus_dir,
          progress=False, overrides=small, recipe_options={"segment": 8, "eval_tokens": 200})
    written = (tmp_path / "run" / "symbols.txt").read_text().split()
    assert [int(b) for b in written] == symbols.tolist()
    with pytest.raises(ConfigError, match=f"holds {len(symbols)} distinct bytes.*vocabulary_size=50"):
        train("transformer_xl_enwik8", "text_corpus", out=tmp_path / "small", steps=2, batch_size=4,
              data_dir=corpus_dir, progress=False, overrides={**small, "vocabulary_size": 50},
              recipe_options={"segment": 8, "eval_tokens": 200})
    assert not (tmp_path / "small").exists()
