"""The language papers' claims: Bengio et al.'s neural language model against a Kneser-Ney n-gram."""

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
                  learning_rate=1e-3, progress=False, recipe_options={"segment": segment},
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
