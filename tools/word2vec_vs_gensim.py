"""word2vec against gensim: `python tools/word2vec_vs_gensim.py [--quick] [--seeds 3] [--objectives ns,hs]
[--output docs/word2vec.md]`.

Trains skip-gram and CBOW, each with negative sampling (ns) and with the hierarchical softmax over a
Huffman tree (hs), on text_corpus by `keras-landmarks train` (the `word2vec` procedure) and by gensim's
`Word2Vec` with the same settings: the same vocabulary and word stream (the 10,000 most frequent words,
documents cut at 10,000 words as gensim takes them), d = 100, windows of 1 to 5 (CBOW 4), k = 5 noise
words (ns), t = 10⁻³, 5 epochs, the rate falling linearly from 0.025 (CBOW 0.05), two threads for
gensim on the machine's two cores. Both sets of vectors are scored by the same gensim evaluations
(analogies restricted to the vocabulary, WordSim-353 and SimLex-999 Spearman), and the nearest
neighbours of a few words are listed. Writes the table to `--output` and the raw numbers beside it
(.json); `--objectives hs` runs those rows only and keeps the others of an existing .json. `--quick`
runs a smaller protocol, ours for 200 steps only (a check that it runs).
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

import numpy as np

PROBES = ("god", "king", "love", "heaven", "sword", "eyes")
METRICS = ("analogy_accuracy", "analogy_semantic", "analogy_syntactic", "wordsim353_spearman", "simlex999_spearman")


OBJECTIVES = {"ns": "negative_sampling", "hs": "hierarchical_softmax"}


def gensim_run(architecture, size, dim, epochs, window, rate, sample, seed, objective="ns"):
    from gensim.models import Word2Vec

    from keras_landmarks.models.word2vec import word_stream
    from keras_landmarks.training.language import vocabulary

    vocab = vocabulary("text_corpus", size)
    ids, starts = word_stream("text_corpus", size, "train")
    tokens = np.array(vocab.tokens)
    ends = list(starts[1:]) + [len(ids)]
    sentences = [tokens[ids[a:b][i : i + 10_000]].tolist()
                 for a, b in zip(starts, ends) for i in range(0, b - a, 10_000)]
    hs = objective == "hs"
    model = Word2Vec(vector_size=dim, window=window, min_count=1, sg=int(architecture == "skipgram"),
                     negative=0 if hs else 5, hs=int(hs), sample=sample, alpha=rate, min_alpha=rate * 1e-4, cbow_mean=1, workers=2, seed=seed)
    model.build_vocab_from_freq({w: vocab.counts[w] for w in vocab.tokens[2:]})
    started = time.perf_counter()
    model.train(sentences, total_examples=len(sentences), epochs=epochs)
    seconds = time.perf_counter() - started
    vectors = np.zeros((size, dim), np.float32)
    for i, word in enumerate(vocab.tokens[2:], 2):
        vectors[i] = model.wv[word]
    return vectors, seconds


def ours_run(architecture, size, dim, epochs, seed, folder, steps=None, objective="ns"):
    import keras

    from keras_landmarks.models.word2vec import word_vectors
    from keras_landmarks.training import train

    name = f"word2vec_{architecture}"
    started = time.perf_counter()
    summary = train(name, "text_corpus", out=folder, seed=seed, epochs=epochs, steps=steps, progress=False,
                    overwrite=True,
                    overrides={"vocabulary_size": size, "embedding_dim": dim, "objective": OBJECTIVES[objective]})
    seconds = time.perf_counter() - started
    history = json.loads((folder / "history.json").read_text())["epochs"]
    train_seconds = sum(e["seconds"] for e in history)
    net = keras.saving.load_model(folder / f"{name}.keras")
    pairs = summary["steps_per_epoch"] * summary["options"]["recipe"]["batch_size"]
    return word_vectors(net), train_seconds, pairs, seconds


def neighbours(vectors, tokens, words=PROBES, count=5):
    from keras_landmarks.models.word2vec import keyed_vectors

    kv = keyed_vectors(vectors, tokens)
    return {w: [n for n, _ in kv.most_similar(w, topn=count)] for w in words if w in kv}


def compare(quick=False, seeds=3, progress=True, objectives=("ns", "hs")):
    from keras_landmarks.errors import TrainingError
    from keras_landmarks.models.word2vec import vector_scores
    from keras_landmarks.training.language import vocabulary

    size, dim, epochs, steps = (2_000, 32, 1, 200) if quick else (10_000, 100, 5, None)
    tokens = vocabulary("text_corpus", size).tokens
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for objective in objectives:
            for architecture, window, rate in (("skipgram", 5, 0.025), ("cbow", 4, 0.05)):
                for seed in range(seeds):
                    started = time.perf_counter()
                    try:
                        vectors, seconds, pairs, _ = ours_run(
                            architecture, size, dim, epochs, seed,
                            pathlib.Path(work) / f"{architecture}-{objective}-{seed}", steps, objective)
                        scores = {**vector_scores(vectors, tokens), "neighbours": neighbours(vectors, tokens)}
                    except TrainingError as error:  # the loss became NaN: a row that says so
                        seconds, pairs = time.perf_counter() - started, None
                        scores = {**{m: float("nan") for m in METRICS}, "analogy_questions": None, "neighbours": {},
                                  "diverged": str(error)}
                    rows.append({"implementation": "keras_landmarks", "architecture": architecture,
                                 "objective": objective, "seed": seed, "train_seconds": round(seconds, 1),
                                 "pairs_per_epoch": pairs, **scores})
                    if progress:
                        print(f"ours   {architecture:<8} {objective} seed {seed}: "
                              f"{rows[-1].get('diverged') or format(rows[-1]['analogy_accuracy'], '.3f') + ' analogies'}, "
                              f"{seconds:.0f} s", flush=True)
                    vectors, seconds = gensim_run(architecture, size, dim, epochs, window, rate, 1e-3, seed, objective)
                    rows.append({"implementation": "gensim", "architecture": architecture, "objective": objective,
                                 "seed": seed, "train_seconds": round(seconds, 1), **vector_scores(vectors, tokens),
                                 "neighbours": neighbours(vectors, tokens)})
                    if progress:
                        print(f"gensim {architecture:<8} {objective} seed {seed}: "
                              f"{rows[-1]['analogy_accuracy']:.3f} analogies, {seconds:.0f} s", flush=True)
    return {"quick": quick, "vocabulary_size": size, "dim": dim, "epochs": epochs, "seeds": seeds,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "rows": rows}


def _diverged(row):
    """A run stopped by a non-finite loss, or whose vectors became NaN (its correlations are not numbers)."""
    return bool(row.get("diverged")) or any(not np.isfinite(row[m]) for m in ("wordsim353_spearman",
                                                                             "simlex999_spearman"))


def _cell(values):
    values = np.asarray(values, np.float64)
    return f"{values.mean():.3f} ± {values.std():.3f}" if len(values) > 1 else f"{values[0]:.3f}"


def render(result):
    lines = ["# word2vec against gensim", "",
             f"Measured by `python tools/word2vec_vs_gensim.py`{' --quick' if result['quick'] else ''} on "
             f"{result['machine']}: text_corpus, the {result['vocabulary_size']:,} most frequent words, "
             f"d = {result['dim']}, {result['epochs']} epochs, negative sampling (ns: k = 5) or the hierarchical "
             "softmax over a Huffman tree (hs), sub-sampling t = 10⁻³, windows of 1 to 5 "
             f"(CBOW 4), {result['seeds']} seeds (mean ± standard deviation). Both sets of vectors are scored by "
             "gensim's evaluations: Mikolov et al.'s analogies whose four words are in the vocabulary (3CosAdd), "
             "WordSim-353 and SimLex-999 Spearman correlations.", "",
             "| model | objective | implementation | analogies | semantic | syntactic | WordSim-353 | SimLex-999 "
             "| training s |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    rows = result["rows"]
    for objective in OBJECTIVES:
        for architecture in ("skipgram", "cbow"):
            for implementation in ("keras_landmarks", "gensim"):
                chosen = [r for r in rows if r["architecture"] == architecture and r["implementation"] == implementation
                          and r.get("objective", "ns") == objective]
                if not chosen:
                    continue
                diverged = [r for r in chosen if _diverged(r)]
                if diverged:  # vectors that are not finite have no scores: say so, do not average them
                    cells = [f"diverged in {len(diverged)} of {len(chosen)} runs"] + [""] * (len(METRICS) - 1)
                else:
                    cells = [_cell([r[m] for r in chosen]) for m in METRICS]
                seconds = np.mean([r["train_seconds"] for r in chosen])
                lines.append(f"| {architecture} | {objective} | {implementation} | {' | '.join(cells)} | {seconds:.0f} |")
    questions = next(r["analogy_questions"] for r in rows if r.get("analogy_questions"))
    lines += [""] + [f"{note}\n" for note in result.get("notes", [])]
    lines += [f"{questions:,} analogy questions have all four words in the vocabulary.", "",
              "Nearest neighbours (cosine) of a few words, seed 0:", "",
              "| word | model | keras_landmarks | gensim |", "|---|---|---|---|"]
    for architecture in ("skipgram", "cbow"):
        ours = next(r for r in rows if r["architecture"] == architecture and r["implementation"] == "keras_landmarks"
                    and r.get("objective", "ns") == "ns")
        theirs = next(r for r in rows if r["architecture"] == architecture and r["implementation"] == "gensim"
                      and r.get("objective", "ns") == "ns")
        for word in ours["neighbours"]:
            lines.append(f"| {word} | {architecture} | {', '.join(ours['neighbours'][word])} | "
                         f"{', '.join(theirs['neighbours'].get(word, []))} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller protocol: a check that it runs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--objectives", default="ns,hs", help="comma-separated: ns (negative sampling), hs "
                                                                 "(hierarchical softmax)")
    parser.add_argument("--output", default="docs/word2vec.md")
    parser.add_argument("--render", action="store_true", help="only rewrite the table from the .json beside it")
    args = parser.parse_args()
    if not 1 <= args.seeds <= 10:
        parser.error(f"--seeds must be from 1 to 10. Received: {args.seeds}")
    objectives = tuple(args.objectives.split(","))
    if not objectives or any(o not in OBJECTIVES for o in objectives):
        parser.error(f"--objectives takes ns and/or hs. Received: {args.objectives}")
    output = pathlib.Path(args.output)
    if args.render:
        output.write_text(render(json.loads(output.with_suffix(".json").read_text())))
        return 0
    result = compare(args.quick, args.seeds, objectives=objectives)
    raw = output.with_suffix(".json")
    if raw.exists() and set(objectives) != set(OBJECTIVES):  # keep the other objectives' rows of the same protocol
        kept = json.loads(raw.read_text())
        if all(kept[k] == result[k] for k in ("quick", "vocabulary_size", "dim", "epochs", "seeds")):
            result["rows"] = [r for r in kept["rows"] if r.get("objective", "ns") not in objectives] + result["rows"]
    text = render(result)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(result, indent=1))
    output.write_text(text)
    print(text)


if __name__ == "__main__":
    sys.exit(main())
