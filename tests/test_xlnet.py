"""XLNet: keras-hub's XLNetBackbone computes what ours computes with its weights; the permutation masks
follow the authors' rule; the query stream never sees the token it predicts nor later ones in the order."""

import numpy as np
import pytest

import keras_landmarks
from keras_landmarks.inputs import PermutationMask
from keras_landmarks.models.xlnet import partial_count, permutation_inputs

CONFIG = {"vocabulary_size": 60, "num_layers": 2, "num_heads": 2, "hidden_dim": 16, "intermediate_dim": 32,
          "dropout": 0.0}


def _tokens(batch, length, seed=0, padded=0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, CONFIG["vocabulary_size"], (batch, length)).astype("int32")
    segments = (np.arange(length) >= length // 2).astype("int32")[None].repeat(batch, 0)
    mask = np.ones((batch, length), "int32")
    if padded:
        mask[-1, -padded:] = 0
    return {"token_ids": ids, "segment_ids": segments, "padding_mask": mask}


@pytest.fixture(scope="module")
def hub_preset(tmp_path_factory):
    keras_hub = pytest.importorskip("keras_hub")
    import keras

    keras.utils.set_random_seed(3)
    hub = keras_hub.models.XLNetBackbone(**{k: v for k, v in CONFIG.items()})
    for w in hub.weights:  # biases and segment terms start at zero there: give every tensor a value
        w.assign(np.random.default_rng(len(w.path)).normal(0, 0.3, w.shape).astype("float32"))
    folder = tmp_path_factory.mktemp("preset") / "xlnet_hub"
    hub.save_to_preset(str(folder))
    return hub, folder


def test_keras_hub_weights_compute_the_same_sequence_output(hub_preset):
    """Loaded through `--weights` (a keras-hub preset folder), our content stream equals keras-hub's, with
    two segments and padding. keras-hub's backbone reshapes where it should transpose (its position
    encodings and masks), so it is right at batch 1 only: compared example by example."""
    hub, folder = hub_preset
    model = keras_landmarks.build("xlnet_base", weights=str(folder), **CONFIG)
    assert keras_landmarks.registry.built_from(model)[1]["activation"] == "gelu"  # as keras-hub computes it
    assert model.weights_report["tensors"] == len(hub.weights)
    x = _tokens(3, 9, padded=3)
    ours = model(x)["sequence_output"].numpy()
    for b in range(3):
        one = {k: v[b : b + 1] for k, v in x.items()}
        theirs = hub(one).numpy()
        real = x["padding_mask"][b].astype(bool)
        np.testing.assert_allclose(ours[b, real], theirs[0, real], atol=2e-5)
        np.testing.assert_allclose(model(one)["sequence_output"].numpy()[0], ours[b], atol=2e-5)


def test_the_masks_follow_the_authors_rule():
    """`permutation_inputs` (keras.ops, used in training) and the `PermutationMask` kind (numpy, used for
    parity and calibration data) agree, and say what §2.3 says: a target sees the context and the
    targets before it in the order, the context sees the context only."""
    rng = np.random.default_rng(0)
    ranks = np.stack([rng.permutation(12) for _ in range(4)])
    mask, mapping = (np.asarray(a) for a in permutation_inputs(ranks, partial_count(12, 6)))
    assert partial_count(12, 6) == 2 and mapping.shape == (4, 2, 12)
    for b in range(4):
        targets = np.flatnonzero(ranks[b] >= 10)
        np.testing.assert_array_equal(mapping[b].argmax(-1), targets)  # rows in position order
        for i in range(12):
            for j in range(12):
                i_target, j_target = ranks[b, i] >= 10, ranks[b, j] >= 10
                sees = not j_target or (i_target and ranks[b, j] < ranks[b, i])
                assert mask[b, i, j] == (0 if sees else 1)
    kind = PermutationMask()
    drawn = kind.sample(np.random.default_rng(5), (4, 12, 12), "float32")
    again = np.random.default_rng(5)
    ranks = np.stack([again.permutation(12) for _ in range(4)])
    np.testing.assert_array_equal(drawn, np.asarray(permutation_inputs(ranks, 2)[0]))


def test_the_query_stream_sees_neither_its_token_nor_later_ones():
    """g at a target does not change when that token, or a token after it in the order, changes; it
    does change with a token before it. The content stream at a target sees its own token."""
    model = keras_landmarks.build("xlnet_base", include_heads=True, **CONFIG)
    x = _tokens(1, 8, seed=1)
    ranks = np.array([[3, 0, 7, 5, 1, 6, 2, 4]])  # targets (K = 4, two): positions 2 (rank 7) and 5 (rank 6)
    mask, mapping = permutation_inputs(ranks, 2)
    x.update(permutation_mask=np.asarray(mask), target_mapping=np.asarray(mapping))
    base = model(x)

    def changed(position):
        y = dict(x, token_ids=x["token_ids"].copy())
        y["token_ids"][0, position] = (y["token_ids"][0, position] % 59) + 1
        out = model(y)
        return tuple(np.abs(np.asarray(out[k]) - np.asarray(base[k])).max(-1)[0] > 1e-6
                     for k in ("lm_logits", "sequence_output"))

    logits_moved, content_moved = changed(2)  # the last target: nothing sees it but its own content
    assert not logits_moved.any() and content_moved[2] and content_moved.sum() == 1
    logits_moved, _ = changed(5)  # the first target: the last one (position 2) sees it, not itself
    np.testing.assert_array_equal(logits_moved, [True, False])
    logits_moved, _ = changed(0)  # context: both targets see it
    np.testing.assert_array_equal(logits_moved, [True, True])


def test_a_segment_with_memory_computes_what_the_joined_text_computes():
    """With `memory_length`, the second segment attends to the first one's remembered layer inputs: its
    outputs (both streams) equal those of the two segments read together, where the first segment sees
    itself only and the second sees everything. The memory is each layer's content-stream input, and it
    counts as segment 0 (so a second segment of segment id 1 sees it as the other segment)."""
    model = keras_landmarks.build("xlnet_base", include_heads=True, memory_length=6, **CONFIG)
    rng = np.random.default_rng(4)
    model.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in model.get_weights()])  # segment terms too
    first, second = _tokens(2, 6, seed=5), _tokens(2, 5, seed=6)
    first["segment_ids"] = np.zeros_like(first["segment_ids"])  # the memory counts as segment 0
    second["segment_ids"] = np.ones_like(second["segment_ids"])
    ranks = np.stack([rng.permutation(5) for _ in range(2)])
    mask, mapping = (np.asarray(a) for a in permutation_inputs(ranks, 2))
    empty = np.zeros((2, CONFIG["num_layers"], 0, CONFIG["hidden_dim"]), "float32")
    no_targets = {"permutation_mask": np.zeros((2, 6, 6), "float32"),
                  "target_mapping": np.eye(6, dtype="float32")[None, :1].repeat(2, 0)}
    out_first = model({**first, **no_targets, "memory": empty})
    memory = np.asarray(out_first["next_memory"])
    assert memory.shape == (2, CONFIG["num_layers"], 6, CONFIG["hidden_dim"])
    table = np.asarray(model.get_layer("token_embedding").embeddings)
    np.testing.assert_allclose(memory[:, 0], table[first["token_ids"]], rtol=1e-6)  # layer 0: the embeddings
    out_second = model({**second, "permutation_mask": mask, "target_mapping": mapping, "memory": memory})

    joined = {k: np.concatenate([first[k], second[k]], axis=1) for k in ("token_ids", "segment_ids", "padding_mask")}
    joined_mask = np.ones((2, 11, 11), "float32")
    joined_mask[:, :6, :6] = 0  # the first segment sees itself
    joined_mask[:, 6:, :6] = 0  # the second sees the first
    joined_mask[:, 6:, 6:] = mask
    joined_mapping = np.concatenate([np.zeros((2, 2, 6), "float32"), mapping], axis=2)
    no_memory = keras_landmarks.build("xlnet_base", include_heads=True, **CONFIG)
    no_memory.set_weights(model.get_weights())
    out_joined = no_memory({**joined, "permutation_mask": joined_mask, "target_mapping": joined_mapping})
    np.testing.assert_allclose(out_second["sequence_output"], np.asarray(out_joined["sequence_output"])[:, 6:],
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out_second["lm_logits"], out_joined["lm_logits"], rtol=1e-4, atol=1e-5)
    alone = model({**second, "permutation_mask": mask, "target_mapping": mapping, "memory": empty})
    assert np.abs(np.asarray(alone["sequence_output"]) - np.asarray(out_second["sequence_output"])).max() > 1e-3
    # The next memory keeps the last 6 of [memory; segment] at each layer.
    np.testing.assert_allclose(np.asarray(out_second["next_memory"])[:, 0, :1], memory[:, 0, -1:], rtol=1e-6)
    np.testing.assert_allclose(np.asarray(out_second["next_memory"])[:, 0, 1:], table[second["token_ids"]],
                               rtol=1e-6)


def test_a_preset_of_another_family_is_refused(hub_preset, tmp_path):
    from keras_landmarks.weights import WeightsError

    _, folder = hub_preset
    with pytest.raises(WeightsError, match="holds a keras-hub XLNetBackbone; bert_tiny is a bert model"):
        keras_landmarks.build("bert_tiny", weights=str(folder))


@pytest.mark.large  # 20 s: a training run and a conversion
def test_permutation_lm_trains_through_train(tmp_path, corpus_dir):
    """The `xlnet` procedure: 80 steps from a fresh model take the held-out perplexity of the predicted
    words well below the untrained model's (about the vocabulary size); the run's model is the
    pre-training graph (with `lm_logits`), and it converts."""
    import json

    from keras_landmarks.export import convert
    from keras_landmarks.training import train

    small = {"vocabulary_size": 300, "num_layers": 2, "num_heads": 2, "hidden_dim": 32, "intermediate_dim": 64}
    summary = train("xlnet_base", "text_corpus", out=tmp_path / "run", steps=80, batch_size=16, learning_rate=2e-3,
                    data_dir=corpus_dir, progress=False, overrides=small,
                    recipe_options={"sequence_length": 24, "partial": 4, "memory": 12})
    assert summary["results"]["perplexity"] < 150, summary["results"]  # untrained: about 300
    record = json.loads((tmp_path / "run" / "train.json").read_text())
    assert record["options"]["recipe"]["options"] == {"sequence_length": 24, "partial": 4, "memory": 12}
    manifest = convert(str(tmp_path / "run" / "xlnet_base.keras"), formats=("onnx",), out=tmp_path / "out",
                       progress=False)
    art = manifest["artifacts"][0]
    assert art["parity"]["passed"] and set(manifest["input_kinds"]) == {
        "token_ids", "segment_ids", "padding_mask", "permutation_mask", "target_mapping", "memory"}


def test_the_permutation_trainer_carries_each_streams_memory():
    """With a memory, each step reads the memory the previous step left (the last M of each layer's
    content-stream input): the second batch's loss is the net's with the first batch's next memory, and
    that memory is held as the trainer's state."""
    import keras

    from keras_landmarks.models.xlnet import PermutationTrainer

    net = keras_landmarks.build("xlnet_base", include_heads=True, memory_length=5, **CONFIG)
    rng = np.random.default_rng(9)
    net.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in net.get_weights()])
    trainer = PermutationTrainer(net, partial=3, streams=2)
    trainer.compile(optimizer=keras.optimizers.SGD(0.0))  # weights fixed: only the memory moves
    first, second = _tokens(2, 6, seed=7)["token_ids"], _tokens(2, 6, seed=8)["token_ids"]
    assert trainer.current_memory().shape == (2, 2, 0, 16)
    trainer.train_on_batch(first, first)
    table = np.asarray(net.get_layer("token_embedding").embeddings)
    np.testing.assert_allclose(np.asarray(trainer.current_memory())[:, 0], table[first[:, 1:]], rtol=1e-6)
    kept = np.asarray(trainer.current_memory())
    with_memory, _ = trainer.targets_loss(second, 11, False, kept)
    without, _ = trainer.targets_loss(second, 11, False, kept[:, :, :0])
    assert abs(float(with_memory) - float(without)) > 1e-2
