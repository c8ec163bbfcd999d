"""The language papers' claims: NNLM against Kneser-Ney, Transformer-XL's memory, Reformer's LSH attention
and ELMo's contextual senses."""

import json

import numpy as np

from keras_landmarks.claims import Claim, register_claim
from keras_landmarks.claims.generative import _pyplot, _spread

KN_ORDER = 3


def _signed(percent):
    return f"{abs(percent):.0f}% {'below' if percent < 0 else 'above'}"


def kneser_ney_discount(counts):
    """Chen & Goodman's estimate D = n₁ / (n₁ + 2 n₂) from the n-gram counts (`collections.Counter`):
    n₁ and n₂ the numbers of n-grams seen once and twice."""
    seen = np.fromiter(counts.values(), np.int64)
    once, twice = int(np.sum(seen == 1)), int(np.sum(seen == 2))
    return once / (once + 2 * twice)


def kneser_ney(train_ids, order=KN_ORDER):
    """NLTK's interpolated Kneser-Ney model of `order`, fitted on a token-id stream; (model, discount)."""
    import collections

    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline

    tokens = [str(i) for i in train_ids]
    ngrams = collections.Counter(zip(*(tokens[k:] for k in range(order))))
    discount = kneser_ney_discount(ngrams)
    model = KneserNeyInterpolated(order, discount=discount)
    grams, vocabulary = padded_everygram_pipeline(order, [tokens])
    model.fit(grams, vocabulary)
    return model, discount


def kneser_ney_nats(model, ids, positions, order=KN_ORDER):
    """−log P(w_p | the order − 1 words before) in nats at each position."""
    tokens = [str(i) for i in ids]
    return np.array([-model.logscore(tokens[p], tokens[p - order + 1 : p]) * np.log(2.0) for p in positions])


def nnlm_nats(net, ids, positions, context):
    """−log P(w_p | the `context` words before) in nats at each position, from a trained NNLM."""
    import keras

    from keras_landmarks.training.language import next_word_nats
    from keras_landmarks.training.procedures import outputs_probabilities

    windows = np.stack([ids[p - context : p] for p in positions]).astype(np.int32)
    outputs = keras.ops.convert_to_numpy(net.predict(windows, batch_size=512, verbose=0))
    return next_word_nats(outputs, ids[positions], outputs_probabilities(net))


def nnlm_kneser_ney(folder, quick, seeds, progress):
    import time

    import keras

    from keras_landmarks.training import train
    from keras_landmarks.training.language import token_ids

    size, steps, sample, kn_tokens = (2_000, 300, 200, 300_000) if quick else (10_000, None, 2_000, None)
    epochs = 1
    train_ids, test_ids = token_ids("text_corpus", "train", size), token_ids("text_corpus", "test", size)
    context = 4  # n = 5
    positions = np.sort(np.random.default_rng(0).choice(np.arange(context, len(test_ids)), sample, replace=False))

    started = time.perf_counter()
    kn_train = train_ids[:kn_tokens] if kn_tokens else train_ids
    kn, discount = kneser_ney(kn_train)
    kn_nats = kneser_ney_nats(kn, test_ids, positions)
    kn_ppl = float(np.exp(kn_nats.mean()))
    if progress:
        print(f"nnlm-kneser-ney: Kneser-Ney trigram (D = {discount:.3f}) on {len(kn_train):,} tokens: perplexity "
              f"{kn_ppl:.1f} at {sample:,} held-out positions ({time.perf_counter() - started:.0f} s)", flush=True)

    runs = []
    for seed in seeds:
        out = folder / "runs" / f"nnlm-seed{seed}"
        summary = train("nnlm", "text_corpus", out=out, seed=seed, epochs=epochs, steps=steps, progress=False,
                        overrides={"vocabulary_size": size})
        net = keras.saving.load_model(out / "nnlm.keras")
        nats = nnlm_nats(net, test_ids, positions, context)
        steps_log = json.loads((out / "history.json").read_text())["steps"]
        runs.append({"seed": seed, "perplexity_sample": float(np.exp(nats.mean())),
                     "perplexity_test": summary["results"]["perplexity"], "steps": summary["total_steps"],
                     "curve": [[s["step"], round(s["loss"], 4)] for s in steps_log]})
        if progress:
            print(f"nnlm-kneser-ney: NNLM seed {seed}: perplexity {runs[-1]['perplexity_sample']:.1f} at the same "
                  f"positions, {runs[-1]['perplexity_test']:.1f} on the whole held-out split", flush=True)

    nnlm_ppl = [r["perplexity_sample"] for r in runs]
    held = max(nnlm_ppl) < kn_ppl

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for r in runs:
        curve = np.asarray(r["curve"])
        if len(curve):
            left.plot(curve[:, 0], curve[:, 1], lw=0.8, label=f"NNLM seed {r['seed']} (training loss)")
    left.axhline(np.log(kn_ppl), color="k", ls="--", label="Kneser-Ney trigram, held-out")
    left.set(xlabel="step", ylabel="cross-entropy (nats per word)", title="NNLM training on text_corpus")
    left.legend(fontsize=8)
    names = ["KN trigram"] + [f"NNLM s{r['seed']}" for r in runs]
    right.bar(names, [kn_ppl] + nnlm_ppl, color=["0.5"] + ["tab:blue"] * len(runs))
    right.set(ylabel=f"held-out perplexity ({sample:,} positions)", title=f"|V| = {size:,}")
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)

    change = 100 * (np.asarray(nnlm_ppl) / kn_ppl - 1)
    summary = (f"held-out perplexity at {sample:,} positions: interpolated Kneser-Ney trigram {kn_ppl:.1f} "
               f"(D = {discount:.3f}), NNLM after {runs[0]['steps']:,} steps {_spread(nnlm_ppl)}, "
               f"{_signed(change.mean())} the trigram's (range {_signed(change.min())} to {_signed(change.max())}); "
               f"the NNLM on the whole held-out split: {_spread([r['perplexity_test'] for r in runs])}.")
    numbers = {"vocabulary_size": size, "positions": sample, "kneser_ney": {"perplexity": kn_ppl, "discount": discount,
               "order": KN_ORDER, "training_tokens": len(kn_train)}, "nnlm": runs}
    return {"numbers": numbers, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="nnlm-kneser-ney",
    paper="Bengio et al. (2003)",
    statement="a neural network language model with a learned distributed representation of words reaches a "
              "lower held-out perplexity than the best smoothed n-gram model, an interpolated Kneser-Ney trigram "
              "(their Table 1, Brown corpus).",
    protocol="text_corpus (King James Bible and Shakespeare, 1.87M training words; 173k held out) with a "
             "10,000-word vocabulary. Baseline: NLTK's interpolated Kneser-Ney trigram (`nltk.lm`) fitted on the "
             "training words, its discount D = n₁/(n₁ + 2n₂) from the trigram counts (Chen & Goodman). Model: "
             "`nnlm` (n = 5, m = 30, h = 100, direct connections) trained by `keras-landmarks train` with its "
             "paper recipe (SGD 0.1 per batch of 100, weight decay 10⁻⁴) for one epoch (18,752 steps). Both "
             "scored at the same 2,000 randomly chosen held-out positions.",
    rule="held if every seed's NNLM perplexity at those positions is below the Kneser-Ney trigram's.",
    run=nnlm_kneser_ney,
))


# --- Transformer-XL: the memory lowers held-out bits per character ------------------------------------

XL_MODEL = {"vocabulary_size": 256, "num_layers": 3, "hidden_dim": 128, "num_heads": 4, "head_dim": 32,
            "intermediate_dim": 512, "cutoffs": (), "dropout": 0.1}


def transformer_xl_memory(folder, quick, seeds, progress):
    import math

    import keras

    from keras_landmarks.models.transformer_xl import byte_ids, streams, stream_nll
    from keras_landmarks.training import train

    segment, count, steps = (32, 8, 60) if quick else (64, 16, 3_000)
    test_x, test_y = streams(byte_ids("text_corpus", "test"), count, segment)
    if quick:
        test_x, test_y = test_x[: 40 * count], test_y[: 40 * count]
    runs = {"memory": [], "none": []}
    for seed in seeds:
        for variant, memory in (("memory", segment), ("none", 0)):
            out = folder / "runs" / f"{variant}-seed{seed}"
            train("transformer_xl_enwik8", "text_corpus", out=out, seed=seed, steps=steps, batch_size=count,
                  learning_rate=1e-3, progress=False, recipe_options={"units": "bytes", "segment": segment},
                  overrides={**XL_MODEL, "memory_length": memory})
            net = keras.saving.load_model(out / "transformer_xl_enwik8.keras")
            nats, scored = stream_nll(net, test_x, test_y, count)
            bits = nats / (scored / segment) / math.log(2)  # bits per character at each position in a segment
            runs[variant].append({"seed": seed, "bpc": float(nats.sum() / scored / math.log(2)),
                                  "by_position": [round(float(b), 4) for b in bits]})
            if progress:
                print(f"transformer-xl-memory: seed {seed}, memory {memory}: {runs[variant][-1]['bpc']:.3f} bits per "
                      "character held out", flush=True)
    with_memory = [r["bpc"] for r in runs["memory"]]
    without = [r["bpc"] for r in runs["none"]]
    held = all(a < b for a, b in zip(with_memory, without))

    plt = _pyplot()
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    for variant, color, label in (("memory", "tab:red", f"memory of {segment}"), ("none", "tab:blue", "no memory")):
        curves = np.array([r["by_position"] for r in runs[variant]])
        left.plot(np.arange(1, segment + 1), curves.mean(0), color=color, label=label)
        left.fill_between(np.arange(1, segment + 1), curves.min(0), curves.max(0), color=color, alpha=0.2)
    left.set(xlabel="position in the segment", ylabel="held-out bits per character",
             title=f"segments of {segment} bytes")
    left.legend()
    names = [f"{v} s{r['seed']}" for v in ("memory", "none") for r in runs[v]]
    right.bar(names, with_memory + without, color=["tab:red"] * len(with_memory) + ["tab:blue"] * len(without))
    right.set(ylabel="held-out bits per character", ylim=(0.9 * min(with_memory + without), None),
              title=f"{steps:,} steps of {count} streams")
    right.tick_params(axis="x", rotation=45)
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)

    gaps = np.asarray(without) - np.asarray(with_memory)
    by_position = (np.mean([r["by_position"] for r in runs["none"]], 0)
                   - np.mean([r["by_position"] for r in runs["memory"]], 0))
    where = ""
    if by_position.sum() > 0:
        early = by_position[: segment // 4].sum() / by_position.sum()
        where = f"; {early:.0%} of the saving is at the first quarter of each segment's positions (figure)"
    summary = (f"held-out bits per character after {steps:,} steps with segments of {segment} bytes: with a "
               f"{segment}-byte memory {_spread(with_memory)}, without {_spread(without)}; the memory saves "
               f"{gaps.mean():.3f} bits per character (range {gaps.min():.3f} to {gaps.max():.3f}){where}.")
    numbers = {"segment": segment, "streams": count, "steps": steps, "model": {**XL_MODEL, "cutoffs": []},  # as JSON
               "runs": runs}
    return {"numbers": numbers, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="transformer-xl-memory",
    paper="Dai et al. (2019)",
    statement="reusing the previous segment's hidden states as a memory (segment-level recurrence, with "
              "relative positions) lowers a character language model's held-out bits per character at the same "
              "segment length (their ablations, Tables 6 and 9; enwik8, Table 2).",
    protocol="text_corpus as UTF-8 bytes (enwik8's units), read as 16 contiguous streams side by side in segments "
             "of 64 bytes. Model: `transformer_xl_enwik8` scaled to 3 layers, d = 128, 4 heads of 32, FFN 512, "
             "dropout 0.1, 256 byte values; trained by `keras-landmarks train` (the `segment_recurrence` procedure) "
             "for 3,000 steps with Adam from 10⁻³ (the paper: 2.5·10⁻⁴ over 400,000 steps) on a cosine schedule, "
             "gradients clipped at 0.25, once with a 64-byte memory carried from each segment to the next and once "
             "with none (memory_length = 0); both scored on the whole held-out split read the same way.",
    rule="held if, for every seed, the model with memory has the lower held-out bits per character.",
    run=transformer_xl_memory,
))


def duplication(count, half, symbols, seed):
    """(inputs (count, 2·half), targets (count, 2·half), weights (count, 2·half)): the Reformer paper's
    duplication task, sequences 0w0w with w drawn uniformly from {1, …, symbols − 1}^(half − 1); each
    position's target is the next symbol, weighted 1 where it is in the second copy of w (the part a
    model can know: it is the first copy again)."""
    rng = np.random.default_rng(seed)
    w = rng.integers(1, symbols, (count, half - 1))
    zero = np.zeros((count, 1), np.int64)
    sequence = np.concatenate([zero, w, zero, w], axis=1)
    inputs = sequence.astype(np.int32)
    targets = np.concatenate([sequence[:, 1:], zero], axis=1).astype(np.int32)
    weights = np.zeros(sequence.shape, np.float32)
    weights[:, half : 2 * half - 1] = 1.0  # positions half … 2·half − 2 predict the second w
    return inputs, targets, weights


def _duplication_run(attention, rounds, config, steps, batch, seed, test):
    """Train a one-layer Reformer on fresh duplication sequences; the share of the second copy's symbols
    it predicts right on the test sequences, measured ten times over the run."""
    import keras

    from keras_landmarks import registry

    keras.utils.set_random_seed(seed)
    length = 2 * config["half"]
    chunk = length if attention == "full" else config["chunk_length"]  # one chunk: every position in reach
    net = registry.build("reformer_enwik8", vocabulary_size=config["symbols"], num_layers=1,
                         hidden_dim=config["hidden_dim"], intermediate_dim=2 * config["hidden_dim"], num_heads=4,
                         head_dim=config["hidden_dim"] // 4, chunk_length=chunk, num_hashes=rounds,
                         axial_shape=config["axial_shape"], axial_dims=config["axial_dims"], dropout=0.0)
    net.compile(optimizer=keras.optimizers.Adam(config["learning_rate"]),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), weighted_metrics=[])
    x, y, w = duplication(steps * batch, config["half"], config["symbols"], 1000 + seed)
    curve, chunk_steps = [], max(1, steps // 10)
    for start in range(0, steps, chunk_steps):
        part = slice(start * batch, min(steps, start + chunk_steps) * batch)
        net.fit(x[part], y[part], sample_weight=w[part], batch_size=batch, epochs=1, shuffle=False, verbose=0)
        predicted = np.argmax(net.predict(test[0], batch_size=256, verbose=0), axis=-1)
        right = float(((predicted == test[1]) * test[2]).sum() / test[2].sum())
        curve.append([min(steps, start + chunk_steps), right])
    return curve


def reformer_duplication(folder, quick, seeds, progress):
    if quick:
        config = {"half": 16, "symbols": 32, "hidden_dim": 32, "chunk_length": 4, "axial_shape": (4, 8),
                  "axial_dims": (16, 16), "learning_rate": 1e-3}
        steps, batch, variants = 40, 16, (("full", 1), ("lsh", 1))
    else:
        config = {"half": 32, "symbols": 64, "hidden_dim": 128, "chunk_length": 8, "axial_shape": (8, 8),
                  "axial_dims": (64, 64), "learning_rate": 1e-3}
        steps, batch, variants = 3000, 32, (("full", 1), ("lsh", 1), ("lsh", 4))
    test = duplication(1024, config["half"], config["symbols"], 99)
    runs = {}
    for attention, rounds in variants:
        label = "full attention" if attention == "full" else f"LSH, {rounds} round{'s' * (rounds > 1)}"
        runs[label] = []
        for seed in seeds:
            curve = _duplication_run(attention, rounds, config, steps, batch, seed, test)
            runs[label].append(curve)
            if progress:
                print(f"reformer-duplication: {label}, seed {seed}: {100 * curve[-1][1]:.1f}% of the second copy "
                      "right", flush=True)
    final = {label: [c[-1][1] for c in curves] for label, curves in runs.items()}
    full = final["full attention"]
    lsh = final[f"LSH, {variants[-1][1]} round{'s' * (variants[-1][1] > 1)}"]
    held = min(full) >= 0.9 and np.mean(lsh) >= np.mean(full) - 0.02

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6, 4.2))
    colors = iter(("k", "tab:blue", "tab:red"))
    for label, curves in runs.items():
        color = next(colors)
        for i, curve in enumerate(curves):
            curve = np.asarray(curve)
            axis.plot(curve[:, 0], 100 * curve[:, 1], color=color, alpha=0.8, label=label if i == 0 else None)
    axis.axhline(100 / (config["symbols"] - 1), color="gray", ls=":", label="chance")
    axis.set(xlabel=f"training step ({batch} sequences each)", ylabel="second copy predicted right (%)",
             title=f"duplication, length {2 * config['half']}", ylim=(0, 100))
    axis.legend()
    figure.tight_layout()
    figure.savefig(folder / "figure.png", dpi=100)
    plt.close(figure)
    summary = (f"after {steps:,} steps at length {2 * config['half']}, the share of the second copy's symbols "
               "predicted right on 1,024 test sequences: "
               + "; ".join(f"{label} {_spread(values)}" for label, values in final.items()) + ".")
    return {"numbers": {"config": {k: list(v) if isinstance(v, tuple) else v for k, v in config.items()},
                        "steps": steps, "batch": batch, "curves": runs, "final": final},
            "held": bool(held), "summary": summary}


register_claim(Claim(
    name="reformer-duplication",
    paper="Kitaev, Kaiser & Levskaya (2020)",
    statement="on the duplication task (copy the first half of 0w0w into the second), LSH attention with 4 "
              "hashing rounds reaches the accuracy of full attention, while one round falls short.",
    protocol="sequences 0w0w, w uniform over 63 symbols, length 64 (the paper: 1,024, 127 symbols); a "
             "one-layer `reformer_enwik8` (d = 128 per half, 4 heads of 32, FFN 256, axial positions 8 × 8), "
             "with full shared-QK attention (one chunk of 64) or LSH attention in chunks of 8 with 1 or 4 "
             "hashing rounds, the same rounds in training and evaluation; next-symbol cross-entropy on the "
             "second copy, Adam 10⁻³, 3,000 steps of 32 fresh sequences; accuracy on the second copy of "
             "1,024 fixed test sequences.",
    rule="held if full attention gets at least 90% of the second copy right on every seed and LSH with 4 "
         "rounds is within 2 points of full attention's mean.",
    run=reformer_duplication,
))


# --- ELMo: contextual vectors tell a homograph's senses apart -------------------------------------------

# Words with two senses that the corpus's capitals tell apart, though both models read lower-cased words:
# (word, source, {sense: surface form}), the form "upper" (LORD), "title" (Lot) or "lower" (lot).
HOMOGRAPHS = (
    ("lord", "kjv", {"the LORD (God)": "upper", "a lord (a master)": "lower"}),
    ("lot", "kjv", {"Lot (Abraham's nephew)": "title", "a lot (a share)": "lower"}),
    ("mark", None, {"Mark (Antony; John Mark)": "title", "mark (a sign; to heed)": "lower"}),
    ("march", "shakespeare", {"March (the month; the earl)": "title", "march (to walk)": "lower"}),
    ("page", "shakespeare", {"Page (of Windsor)": "title", "page (a boy servant)": "lower"}),
    ("shallow", "shakespeare", {"Shallow (the justice)": "title", "shallow (not deep)": "lower"}),
)
TOP, UNTRAINED = "biLM layer 2 (top)", "biLM layer 2, untrained"
SENSE_CONTEXT = 10  # tokens each side: windows of 21, about the biLM's training windows of 20
_CASED_WORD = r"[A-Za-z]+(?:'[A-Za-z]+)*|[.,;:!?]"  # words()'s tokens, before lower-casing


def _surface_form(token):
    if len(token) > 1 and token.isupper():
        return "upper"
    return "title" if token[0].isupper() else "lower" if token.islower() else None


def sense_occurrences(data="text_corpus", per_sense=100, context=SENSE_CONTEXT, seed=0, data_dir=None,
                      manual_dir=None):
    """{word: [(window of 2·context + 1 lower-cased tokens, sense index)]}: up to `per_sense` occurrences of
    each sense of each `HOMOGRAPHS` word in the dataset's documents (both splits), drawn with `seed`. A
    sense is read from the word's capitals where they carry it: not after . ! ? ; : and not first on a
    line (where every word is capitalised), and the word's whole window inside its document."""
    import re

    import tensorflow_datasets as tfds

    from keras_landmarks import datasets

    pattern = re.compile(_CASED_WORD)
    builder = datasets.prepare(data, data_dir, manual_dir)
    sources = builder.info.features["source"].names
    words = {word: (source, forms) for word, source, forms in HOMOGRAPHS}
    found = {word: [[] for _ in forms] for word, (_, forms) in words.items()}
    for split in ("train", "test"):
        for example in tfds.as_numpy(builder.as_dataset(split=split)):
            text, source = example["text"].decode("utf-8"), sources[int(example["source"])]
            matches = list(pattern.finditer(text))
            tokens = [m.group().lower() for m in matches]
            for i, m in enumerate(matches):
                if tokens[i] not in words or not context <= i < len(tokens) - context:
                    continue
                wanted, forms = words[tokens[i]]
                form = _surface_form(m.group())
                if (wanted not in (None, source) or matches[i - 1].group() in ".!?;:"
                        or "\n" in text[matches[i - 1].end() : m.start()]):
                    continue
                for sense, sense_form in enumerate(forms.values()):
                    if form == sense_form:
                        found[tokens[i]][sense].append(tuple(tokens[i - context : i + context + 1]))
    rng = np.random.default_rng(seed)
    chosen = {}
    for word, senses in found.items():
        chosen[word] = []
        for sense, windows in enumerate(senses):
            picked = rng.permutation(len(windows))[:per_sense]
            chosen[word] += [(windows[j], sense) for j in sorted(picked)]
    return chosen


def sense_separation(vectors, senses, folds=5, seed=0):
    """How well `vectors` (N, d) tell the `senses` (N,) apart: the balanced accuracy of a nearest-centroid
    classifier (cosine) over `folds` folds drawn with `seed`, each sense's centroid from the other folds.
    Vectors that are all equal (one static vector per word) score 1 / (number of senses)."""
    vectors = np.asarray(vectors, np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    senses = np.asarray(senses)
    labels = np.unique(senses)
    fold = np.empty(len(senses), np.int64)
    rng = np.random.default_rng(seed)
    for label in labels:  # each sense spread evenly over the folds
        where = np.flatnonzero(senses == label)
        fold[rng.permutation(where)] = np.arange(len(where)) % folds
    predicted = np.empty(len(senses), senses.dtype)
    for k in range(folds):
        held = fold == k
        centroids = np.stack([vectors[~held & (senses == label)].mean(0) for label in labels])
        similarity = np.round(vectors[held] @ centroids.T, 9)  # a tie (equal vectors) goes to the first sense
        predicted[held] = labels[np.argmax(similarity, axis=1)]
    return float(np.mean([np.mean(predicted[senses == label] == label) for label in labels]))


def _elmo_vectors(net, windows, context):
    """{layer name: (N, 2·projection)}: the biLM's layers at each window's centre."""
    from keras_landmarks.models.elmo import character_ids

    width = net.input.shape[-1]
    chars = np.stack([[character_ids(t, width) for t in w] for w in windows])
    layers = np.concatenate([np.asarray(net.predict(chars[i : i + 256], verbose=0)["layers"][:, :, context])
                             for i in range(0, len(chars), 256)])
    return {"characters (layer 0)": layers[:, 0], "biLM layer 1": layers[:, 1], TOP: layers[:, -1]}


def _word2vec_vectors(vectors, ids, windows, context):
    """{name: (N, d)}: the word's own vector (one per word) and the mean vector of the window's other words."""
    own = np.stack([vectors[ids.get(w[context], 0)] for w in windows])
    means = []
    for w in windows:
        around = [ids.get(t, 0) for i, t in enumerate(w) if i != context]
        around = [i for i in around if i > 1] or [0]
        means.append(vectors[around].mean(0))
    return {"word2vec, the word": own, f"word2vec, mean of ±{context} words": np.stack(means)}


def senses_figure(runs, counts, path):
    """elmo-senses' figure: each representation's balanced accuracy per word and on average, the mean of the
    seeds as bars and their range as lines; `counts` {word: occurrences}."""
    names = list(runs[0]["mean"])
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(10, 4.4))
    words = list(counts)
    width = 0.8 / len(names)
    colors = ("tab:gray", "tab:blue", "tab:olive", "tab:orange", "tab:red", "mistyrose")
    for k, name in enumerate(names):
        values = np.array([[r["by_word"][w][name] for w in words] + [r["mean"][name]] for r in runs])
        x = np.arange(len(words) + 1) + (k - (len(names) - 1) / 2) * width
        axis.bar(x, 100 * values.mean(0), width, color=colors[k % len(colors)], label=name)
        spread = [np.maximum(values.mean(0) - values.min(0), 0), np.maximum(values.max(0) - values.mean(0), 0)]
        axis.errorbar(x, 100 * values.mean(0), yerr=100 * np.asarray(spread), fmt="none", color="k", lw=0.8)
    axis.axhline(50, color="gray", ls=":")
    labels = [f"{w}\n({counts[w]})" for w in words]
    axis.set_xticks(np.arange(len(words) + 1), labels + ["mean"])
    axis.set(ylabel="senses told apart (balanced accuracy, %)", ylim=(0, 118), yticks=range(0, 101, 20),
             title="nearest sense centroid, 5-fold; bars: mean of seeds, lines: range; dotted: chance")
    axis.legend(fontsize=8, loc="upper center", ncol=3)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


BILM_SMALL = {"max_characters": 20, "filters": ((1, 32), (2, 32), (3, 64), (4, 128), (5, 128)), "projection_dim": 128,
              "lstm_units": 512}


def elmo_senses(folder, quick, seeds, progress):
    import keras

    from keras_landmarks import registry
    from keras_landmarks.models.word2vec import word_vectors
    from keras_landmarks.training import train
    from keras_landmarks.training.language import vocabulary

    if quick:
        bilm_model = {"max_characters": 12, "char_dim": 4, "filters": ((1, 8), (2, 8), (3, 16)), "projection_dim": 16,
                      "lstm_units": 32}
        bilm_steps, word2vec_epochs, word2vec_steps, per_sense = 20, None, 20, 30
    else:
        bilm_model, bilm_steps, word2vec_epochs, word2vec_steps, per_sense = BILM_SMALL, 1_000, 5, None, 100
    occurrences = sense_occurrences(per_sense=per_sense)
    size, dim = 10_000, 100
    ids = vocabulary("text_corpus", size).ids
    runs = []
    for seed in seeds:
        out = folder / "runs" / f"seed{seed}"
        bilm = train("elmo", "text_corpus", out=out / "bilm", seed=seed, steps=bilm_steps, batch_size=64,
                     progress=False, overrides=bilm_model)
        train("word2vec_cbow", "text_corpus", out=out / "word2vec", seed=seed, epochs=word2vec_epochs,
              steps=word2vec_steps, progress=False, overrides={"vocabulary_size": size, "embedding_dim": dim})
        net = keras.saving.load_model(out / "bilm" / "elmo.keras")
        keras.utils.set_random_seed(seed)
        untrained = registry.build("elmo", **bilm_model)  # a control: what random LSTMs' context alone gives
        table = word_vectors(keras.saving.load_model(out / "word2vec" / "word2vec_cbow.keras"))
        scores = {}
        for word, found in occurrences.items():
            windows, senses = [w for w, _ in found], [s for _, s in found]
            kinds = {**_word2vec_vectors(table, ids, windows, SENSE_CONTEXT),
                     **_elmo_vectors(net, windows, SENSE_CONTEXT),
                     UNTRAINED: _elmo_vectors(untrained, windows, SENSE_CONTEXT)[TOP]}
            scores[word] = {name: sense_separation(v, senses) for name, v in kinds.items()}
        mean = {name: float(np.mean([s[name] for s in scores.values()])) for name in next(iter(scores.values()))}
        runs.append({"seed": seed, "bilm_perplexity": [bilm["results"][k] for k in ("perplexity_forward",
                                                                                     "perplexity_backward")],
                     "by_word": scores, "mean": mean})
        if progress:
            print(f"elmo-senses: seed {seed}: " + ", ".join(f"{k} {v:.2f}" for k, v in mean.items()), flush=True)
    names = list(runs[0]["mean"])
    window = f"word2vec, mean of ±{SENSE_CONTEXT} words"
    held = all(r["mean"][TOP] > max(r["mean"]["word2vec, the word"], r["mean"][window]) for r in runs)

    senses_figure(runs, {w: len(found) for w, found in occurrences.items()}, folder / "figure.png")

    perplexity = np.array([r["bilm_perplexity"] for r in runs])
    summary = (f"balanced accuracy of the nearest sense centroid over the {len(occurrences)} words ("
               + "; ".join(f"{name} {_spread([r['mean'][name] for r in runs])}" for name in names)
               + f"); the biLM's held-out perplexity after {bilm_steps:,} steps: forward "
               f"{_spread(perplexity[:, 0])}, backward {_spread(perplexity[:, 1])}.")
    numbers = {"homographs": {w: {"senses": list(f), "occurrences": [sum(1 for _, s in occurrences[w] if s == i)
                                                                     for i in range(len(f))]}
                              for w, _, f in HOMOGRAPHS},
               "bilm": {"model": {k: [list(f) for f in v] if k == "filters" else v for k, v in bilm_model.items()},
                        "steps": bilm_steps, "batch": 64},
               "word2vec": {"model": "word2vec_cbow", "vocabulary_size": size, "embedding_dim": dim,
                            "epochs": word2vec_epochs, "steps": word2vec_steps},
               "runs": runs}
    return {"numbers": numbers, "held": bool(held), "summary": summary}


register_claim(Claim(
    name="elmo-senses",
    paper="Peters et al. (2018)",
    statement="the biLM's contextual vectors tell a word's senses apart where a static word vector cannot, the "
              "top layer best (§5.3, Tables 4 and 5: word sense disambiguation by the nearest sense centroid).",
    protocol="six words of text_corpus whose two senses its capitals tell apart (LORD/lord and Lot/lot in the "
             "Bible; March/march, Page/page and Shallow/shallow in Shakespeare; Mark/mark in both), never at a "
             "sentence's or a line's start; up to 100 occurrences of each sense, each in its window of ±10 "
             "lower-cased words (what both models read). A small `elmo` (characters cut at 20, CNN filters 384, "
             "LSTMP 512 → 128, two layers each way) pre-trained by `keras-landmarks train` (the `bilm` procedure) "
             "for 1,000 steps of 64 windows, and `word2vec_cbow` (10,000 words, d = 100) for its recipe's 5 epochs, "
             "both on the training split. Each occurrence's vector: the biLM's layer 0 (characters, context-free), "
             "1 and 2 at the word; word2vec's vector of the word, and the mean word2vec vector of the window's other "
             "words; as a control, the top layer of the same biLM untrained. Score: the balanced accuracy of the "
             "nearest sense centroid (cosine), 5-fold.",
    rule="held if, for every seed, the biLM's top layer scores higher (mean over the six words) than both the "
         "word's word2vec vector and the mean word2vec vector of the same window.",
    run=elmo_senses,
))
