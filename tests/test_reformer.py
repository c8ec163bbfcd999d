"""The Reformer's layers: LSH attention against its definition written with loops, and full attention
where one chunk holds everything; reversible blocks invert exactly, and the gradient rebuilt from the
outputs alone equals back-propagation through stored activations."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_landmarks.layers.reformer import LSHSelfAttention, ReversibleBlock, ReversibleStack, reversible_gradients

D = 8


def _weights(layer):
    return (layer.w_qk.numpy().astype(np.float64), layer.w_v.numpy().astype(np.float64),
            layer.w_o.numpy().astype(np.float64))


def _buckets(layer, x, count):
    """The layer's bucket ids (B, h, rounds, T), checked against argmax([xR; -xR]) in float64 wherever
    the two largest rotated values are not a near tie (float32 and float64 may break those apart)."""
    qk32 = np.einsum("btd,dhk->bhtk", x, layer.w_qk.numpy())
    buckets = np.asarray(layer.buckets(qk32, count))
    qk = np.einsum("btd,dhk->bhtk", x.astype(np.float64), layer.w_qk.numpy().astype(np.float64))
    rotated = np.einsum("bhtk,knr->bhntr", qk, layer.rotations[:, :, : count // 2].astype(np.float64))
    both = np.concatenate([rotated, -rotated], -1)
    top = np.sort(both, -1)
    clear = top[..., -1] - top[..., -2] > 1e-4
    np.testing.assert_array_equal(buckets[clear], both.argmax(-1)[clear])
    return buckets


def reference_lsh(layer, x):
    """LSH attention with loops: per head and round, hash, sort by (bucket, position), attend within
    the chunk and the one before (the previous round's last chunk for a round's first), combine the
    rounds by their log-sum-exp."""
    wqk, wv, wo = _weights(layer)
    c, n, k = layer.chunk_length, layer.num_hashes, layer.head_dim
    batch, t, _ = x.shape
    count = min(max(2, (t // c + 1) // 2 * 2), layer.max_buckets)
    hashed = _buckets(layer, x, count)
    out = np.zeros((batch, t, x.shape[-1]))
    for b in range(batch):
        heads = []
        for h in range(layer.num_heads):
            qk = x[b].astype(np.float64) @ wqk[:, h]  # (T, k)
            v = x[b].astype(np.float64) @ wv[:, h]
            slots = []  # (position) in sorted order over all rounds
            for r in range(n):
                bucket = hashed[b, h, r]
                slots += sorted(range(t), key=lambda i: (bucket[i], i))
            chunks = [slots[i : i + c] for i in range(0, len(slots), c)]
            results = {}  # (round, position) -> (output, lse)
            for ci, chunk in enumerate(chunks):
                keys = chunk + chunks[ci - 1]
                for slot, i in enumerate(chunk):
                    scores = []
                    for j in keys:
                        unit = qk[j] / np.linalg.norm(qk[j])
                        s = qk[i] @ unit / np.sqrt(k)
                        s -= 3e4 * (j > i) + 1e4 * (j == i)
                        scores.append(s)
                    scores = np.array(scores)
                    lse = scores.max() + np.log(np.exp(scores - scores.max()).sum())
                    weights = np.exp(scores - lse)
                    round_index = (ci * c + slot) // t
                    results[(round_index, i)] = (weights @ v[keys], lse)
            head = np.zeros((t, k))
            for i in range(t):
                lses = np.array([results[(r, i)][1] for r in range(n)])
                share = np.exp(lses - lses.max()) / np.exp(lses - lses.max()).sum()
                head[i] = sum(share[r] * results[(r, i)][0] for r in range(n))
            heads.append(head)
        out[b] = sum(heads[h] @ wo[h] for h in range(layer.num_heads))
    return out


def _layer(**kwargs):
    layer = LSHSelfAttention(**{"num_heads": 2, "head_dim": 4, **kwargs})
    layer.build((None, None, D))
    return layer


def test_lsh_attention_follows_its_definition():
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((2, 12, D)).astype("float32")
    for kwargs in ({"chunk_length": 2, "num_hashes": 2}, {"chunk_length": 4, "num_hashes": 3, "seed": 7},
                   {"chunk_length": 4, "num_hashes": 1}):
        layer = _layer(**kwargs)
        np.testing.assert_allclose(layer(x).numpy(), reference_lsh(layer, x), atol=2e-5)


def test_one_chunk_is_full_causal_attention_over_other_positions():
    """With every position in one chunk, LSH attention is shared-QK causal attention in which a position
    sees the positions before it (itself only when there is nothing before)."""
    layer = _layer(chunk_length=8, num_hashes=2)
    x = np.random.default_rng(1).standard_normal((1, 8, D)).astype("float32")
    wqk, wv, wo = _weights(layer)
    expected = np.zeros((8, D))
    for h in range(2):
        qk, v = x[0] @ wqk[:, h], x[0] @ wv[:, h]
        unit = qk / np.linalg.norm(qk, axis=-1, keepdims=True)
        for i in range(8):
            keys = list(range(i)) or [0]
            s = qk[i] @ unit[keys].T / 2.0
            w = np.exp(s - s.max()) / np.exp(s - s.max()).sum()
            expected[i] += (w @ v[keys]) @ wo[h]
    np.testing.assert_allclose(layer(x).numpy()[0], expected, atol=2e-5)


def test_a_length_off_the_chunks_is_padded_and_causal():
    """A length that is not a multiple of the chunk is padded at the end and cut back. Where one chunk
    holds every position, no later position changes an earlier one's output. (With several chunks,
    later positions do move earlier ones: they take slots in the sorted chunks and so change which
    earlier keys share a chunk, as in the paper's model.)"""
    layer = _layer(chunk_length=12)
    x = np.random.default_rng(2).standard_normal((1, 10, D)).astype("float32")
    full = layer(x).numpy()
    assert full.shape == (1, 10, D)
    changed = x.copy()
    changed[:, 7:] += 1.0
    np.testing.assert_allclose(layer(changed).numpy()[:, :7], full[:, :7], atol=1e-6)
    assert _layer(chunk_length=4)(x).shape == (1, 10, D)


def _stack(depth=3, dropout=0.0):
    blocks = []
    for i in range(depth):
        f = keras.Sequential([keras.layers.LayerNormalization(), keras.layers.Dense(D, activation="tanh")],
                             name=f"f{i}")
        g = keras.Sequential([keras.layers.LayerNormalization(), keras.layers.Dense(16, activation="relu"),
                              keras.layers.Dropout(dropout), keras.layers.Dense(D)], name=f"g{i}")
        blocks.append(ReversibleBlock(f, g, name=f"block{i}"))
    stack = ReversibleStack(blocks)
    stack.build([(None, 5, D), (None, 5, D)])
    return stack


def test_reversible_blocks_invert_exactly():
    stack = _stack()
    rng = np.random.default_rng(3)
    x1, x2 = (tf.constant(rng.standard_normal((2, 5, D)).astype("float32")) for _ in range(2))
    y1, y2 = stack((x1, x2))
    for block in reversed(stack.blocks):
        y1, y2 = block.inverse(y1, y2)
    np.testing.assert_allclose(y1.numpy(), x1.numpy(), atol=1e-5)
    np.testing.assert_allclose(y2.numpy(), x2.numpy(), atol=1e-5)


def test_gradients_rebuilt_from_the_outputs_equal_backpropagation():
    """The Reformer's claim for reversible layers: the same gradients as ordinary residual layers, for
    the inputs and every weight, here through `ReversibleStack`'s training-mode custom gradient."""
    stack = _stack()
    rng = np.random.default_rng(4)
    x1, x2 = (tf.constant(rng.standard_normal((2, 5, D)).astype("float32")) for _ in range(2))
    target = tf.constant(rng.standard_normal((2, 5, D)).astype("float32"))
    variables = [v.value for v in stack.trainable_variables]

    def loss(training, reversible):
        stack.reversible_backward = reversible
        with tf.GradientTape() as tape:
            tape.watch([x1, x2])
            y1, y2 = stack((x1, x2), training=training)
            value = tf.reduce_sum((y1 - target) ** 2) + tf.reduce_sum(tf.sin(y2))
        return tape.gradient(value, [x1, x2, *variables])

    stored = loss(True, False)
    rebuilt = loss(True, True)
    assert len(stored) == 2 + len(variables) == 2 + 3 * 10  # per block: f LayerNorm + Dense, g LayerNorm + 2 Dense
    for a, b in zip(stored, rebuilt):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-4, atol=1e-5)
    y1, y2 = stack((x1, x2))
    dx1, dx2, grads = reversible_gradients(stack.blocks, y1, y2, tf.ones_like(y1), tf.zeros_like(y2))
    assert set(grads) == {v.path for v in stack.trainable_variables}


@pytest.mark.large  # 30 s: a training run
def test_the_reformer_trains_through_train(tmp_path, corpus_dir):
    """The language-model procedure trains the registry's Reformer (reversible backward, LSH attention)
    below the untrained model's perplexity (about the vocabulary size)."""
    from keras_landmarks.training import train

    small = {"vocabulary_size": 200, "num_layers": 2, "hidden_dim": 32, "intermediate_dim": 64, "num_heads": 2,
             "head_dim": 16, "chunk_length": 8, "axial_shape": (8, 8), "axial_dims": (16, 16), "dropout": 0.0}
    summary = train("reformer_enwik8", "text_corpus", out=tmp_path / "run", steps=60, batch_size=16,
                    learning_rate=3e-3, data_dir=corpus_dir, progress=False, overrides=small,
                    recipe_options={"segment": 32})
    assert summary["results"]["perplexity"] < 100, summary["results"]


def test_the_rsqrt_schedule():
    """Linear warm-up to the peak, then the peak · √(warm-up / step) (the Transformer's, the Reformer's)."""
    from keras_landmarks.training.recipe import Recipe, learning_rate

    schedule = learning_rate(Recipe(learning_rate=1e-3, schedule="rsqrt", warmup=0.1), 1000)
    values = [float(schedule(step)) for step in (50, 100, 400, 1000)]
    np.testing.assert_allclose(values, [5e-4, 1e-3, 5e-4, 1e-3 * (0.1**0.5)], rtol=1e-6)


def test_generate_rereads_the_prefix_and_is_served(tmp_path):
    """Greedy generation picks what the model picks re-reading each prefix; the SavedModel serves it."""
    import keras_landmarks
    from keras_landmarks.models.reformer import make_generator
    from tests.helpers import served_greedy_tokens

    config = {"vocabulary_size": 30, "num_layers": 2, "hidden_dim": 16, "intermediate_dim": 32, "num_heads": 2,
              "head_dim": 4, "chunk_length": 4, "axial_shape": (4, 8), "axial_dims": (8, 8), "dropout": 0.0}
    model = keras_landmarks.build("reformer_enwik8", **config)
    prompt = np.array([[3, 4, 5], [7, 8, 9]], np.int32)
    greedy = make_generator(model)(prompt, 5, 1.0, 1, np.array([0, 0], np.int32))["token_ids"].numpy()
    sequence = prompt
    for _ in range(5):
        following = model(sequence, training=False).numpy()[:, -1].argmax(-1).astype(np.int32)
        sequence = np.concatenate([sequence, following[:, None]], axis=1)
    np.testing.assert_array_equal(greedy, sequence)
    np.testing.assert_array_equal(served_greedy_tokens(model, prompt, 5, tmp_path), greedy)


def test_a_chunked_feed_forward_computes_the_same(tmp_path):
    """§3's chunking: `feed_forward_chunk=n` computes the feed-forward n positions at a time (a loop in
    the graph); the logits and the gradients (through the reversible backward) are those of the whole
    sequence at once, also at a length off the chunks, and the model still converts to TFLite built-ins."""
    import keras_landmarks
    from keras_landmarks.export import convert

    small = {"vocabulary_size": 30, "num_layers": 2, "hidden_dim": 16, "intermediate_dim": 32, "num_heads": 2,
             "head_dim": 8, "chunk_length": 4, "axial_shape": (4, 8), "axial_dims": (8, 8), "dropout": 0.0}
    whole = keras_landmarks.build("reformer_enwik8", **small)
    chunked = keras_landmarks.build("reformer_enwik8", **small, feed_forward_chunk=5)
    chunked.set_weights(whole.get_weights())
    ids = tf.constant(np.random.default_rng(6).integers(0, 30, (2, 13)).astype("int32"))

    def gradients(model):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.sin(model(ids, training=True)))
        return tape.gradient(loss, [v.value for v in model.trainable_variables])

    np.testing.assert_allclose(chunked(ids).numpy(), whole(ids).numpy(), rtol=1e-5, atol=1e-5)
    for a, b in zip(gradients(whole), gradients(chunked)):  # the embedding's are IndexedSlices
        np.testing.assert_allclose(tf.convert_to_tensor(b).numpy(), tf.convert_to_tensor(a).numpy(), rtol=1e-4,
                                   atol=1e-5)
    manifest = convert(chunked, formats=("tflite",), out=tmp_path, progress=False)
    art = manifest["artifacts"][0]
    assert art["parity"]["passed"] and art["builtin_ops_only"], art
