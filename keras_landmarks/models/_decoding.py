"""Decoding in graph mode: greedy and beam search for the sequence-to-sequence landmarks, and the
sampling step and serving signature of the language models' `generate`.

A model supplies `step(tokens, step, state) -> (log_probs, state)`: given the tokens so far (N,
max_length), with positions 0..step filled, it returns the next-token log-probabilities (N, V) and its
updated state, a nest of tensors whose first dimension is N (one row per hypothesis). The searches
run in one `tf.while_loop` each, so they trace into a `tf.function` and export as SavedModel
signatures.
"""


def _initial_tokens(tf, rows, max_length, bos_id, pad_id):
    return tf.concat([tf.fill([rows, 1], bos_id), tf.fill([rows, max_length - 1], pad_id)], axis=1)


def _write(tf, tokens, step, token):
    rows = tf.shape(tokens)[0]
    return tf.tensor_scatter_nd_update(tokens, tf.stack([tf.range(rows), tf.fill([rows], step + 1)], axis=1), token)


def greedy_search(step_fn, state, batch, max_length, bos_id, eos_id, pad_id):
    """The most likely token at each step, until every row has produced `eos_id`. (B, max_length)."""
    import tensorflow as tf

    tokens = _initial_tokens(tf, batch, max_length, bos_id, pad_id)

    def body(step, tokens, done, state):
        log_probs, state = step_fn(tokens, step, state)
        token = tf.where(done, pad_id, tf.argmax(log_probs, -1, output_type=tf.int32))
        return step + 1, _write(tf, tokens, step, token), done | tf.equal(token, eos_id), state

    _, tokens, _, _ = tf.while_loop(
        lambda step, tokens, done, state: (step < max_length - 1) & ~tf.reduce_all(done),
        body, (tf.constant(0), tokens, tf.zeros([batch], tf.bool), state))
    return tokens


def beam_search(step_fn, state, batch, beam_width, max_length, length_penalty, bos_id, eos_id, pad_id):
    """Beam search with the GNMT length penalty $((5 + |Y|)/6)^\\alpha$ (Wu et al. 2016).

    `state` must already hold `beam_width` copies of each example's rows (B·k, ...), the beams of
    one example adjacent. Returns the best hypothesis per example (B, max_length) and its score (B,):
    the summed log-probability divided by the length penalty.
    """
    import tensorflow as tf

    k = beam_width
    rows = batch * k
    tokens = _initial_tokens(tf, rows, max_length, bos_id, pad_id)
    # Only the first beam is live at the start, so the k beams do not all pick the same first token.
    scores = tf.tile(tf.concat([[0.0], tf.fill([k - 1], -1e9)], axis=0), [batch])
    lengths = tf.ones([rows], tf.float32)

    def penalty(lengths):
        return tf.pow((5.0 + lengths) / 6.0, length_penalty)

    def body(step, tokens, scores, done, lengths, state):
        log_probs, state = step_fn(tokens, step, state)  # (B·k, V)
        vocab = tf.shape(log_probs)[-1]
        # A finished hypothesis only extends with padding, at no cost and no extra length.
        pad_only = tf.one_hot(tf.fill([rows], pad_id), vocab, on_value=0.0, off_value=-1e9)
        log_probs = tf.where(done[:, None], pad_only, log_probs)
        total = tf.reshape(scores[:, None] + log_probs, [batch, k * vocab])
        grown = tf.reshape(lengths[:, None] + tf.where(done[:, None], 0.0, 1.0) + 0.0 * log_probs, [batch, k * vocab])
        _, top = tf.math.top_k(total / penalty(grown), k=k)  # (B, k)
        parents = tf.reshape(top // vocab + tf.range(batch)[:, None] * k, [-1])  # each survivor's source row
        token = tf.reshape(top % vocab, [-1])
        tokens = _write(tf, tf.gather(tokens, parents), step, token)
        scores = tf.reshape(tf.gather(total, top, batch_dims=1), [-1])
        lengths = tf.reshape(tf.gather(grown, top, batch_dims=1), [-1])
        done = tf.gather(done, parents) | tf.equal(token, eos_id)
        state = tf.nest.map_structure(lambda s: tf.gather(s, parents), state)
        return step + 1, tokens, scores, done, lengths, state

    _, tokens, scores, done, lengths, _ = tf.while_loop(
        lambda step, tokens, scores, done, lengths, state: (step < max_length - 1) & ~tf.reduce_all(done),
        body, (tf.constant(0), tokens, scores, tf.zeros([rows], tf.bool), lengths, state))
    final = tf.reshape(scores / penalty(lengths), [batch, k])
    best = tf.argmax(final, axis=1, output_type=tf.int32) + tf.range(batch) * k
    return tf.gather(tokens, best), tf.reduce_max(final, axis=1)


def repeat_rows(tensor, times):
    """(B, ...) → (B·times, ...), each row repeated `times` times in place (beams adjacent)."""
    import tensorflow as tf

    return tf.repeat(tensor, times, axis=0)


GENERATE_SIGNATURE = (("prompt_ids", [None, None], "int32"), ("max_new_tokens", [], "int32"),
                      ("temperature", [], "float32"), ("top_k", [], "int32"), ("seed", [2], "int32"))


def generate_signature():
    """The `generate` signature's inputs: prompt_ids (B, T), max_new_tokens, temperature, top_k (0: the
    whole vocabulary; 1: greedy) and a stateless seed (2,)."""
    import tensorflow as tf

    return [tf.TensorSpec(shape, getattr(tf, dtype), name=name) for name, shape, dtype in GENERATE_SIGNATURE]


def sample_token(logits, temperature, top_k, seed):
    """A token from `logits` (B, V) at `temperature`, among the `top_k` most likely (0: all). (B,) int32."""
    import tensorflow as tf

    logits = logits / temperature
    vocab = tf.shape(logits)[-1]
    k = tf.where(top_k > 0, tf.minimum(top_k, vocab), vocab)
    kth = tf.math.top_k(logits, k=k).values[:, -1:]  # keep the k most likely tokens
    logits = tf.where(logits < kth, tf.fill(tf.shape(logits), -1e9), logits)
    return tf.cast(tf.random.stateless_categorical(logits, 1, seed=seed)[:, 0], tf.int32)
