"""GloVe against skip-gram: `python tools/glove_vs_skipgram.py [--quick] [--seeds 3] [--epochs 50]
[--output docs/glove.md]`.

Trains `glove` by `keras-landmarks train` (the `glove` procedure: co-occurrences within ten words either
side weighted 1/d, x_max = 100, α = ¾, AdaGrad from 0.05) on text_corpus with the vocabulary and
dimension of `tools/word2vec_vs_gensim.py` (the 10,000 most frequent words, d = 100), and gensim's
skip-gram with negative sampling on the same word stream in the same run; our own skip-gram's scores are
read from that tool's `docs/word2vec.json` (same vocabulary, dimension and evaluations). All vectors
are scored by the same gensim evaluations: analogies restricted to the vocabulary, WordSim-353 and
SimLex-999 Spearman. Writes the table to `--output`, the raw numbers beside it (.json) and the scores
after each pass as a figure (.png). `--quick`: a smaller protocol (a check that it runs).
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

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from word2vec_vs_gensim import METRICS, _cell, gensim_run, neighbours  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def glove_run(size, dim, epochs, seed, folder, steps=None):
    import keras

    from keras_landmarks.models.glove import glove_vectors
    from keras_landmarks.training import train

    train("glove", "text_corpus", out=folder, seed=seed, epochs=epochs, steps=steps, progress=False,
          overwrite=True, overrides={"vocabulary_size": size, "embedding_dim": dim})
    history = json.loads((folder / "history.json").read_text())["epochs"]
    net = keras.saving.load_model(folder / "glove.keras")
    curve = [{"pass": e["epoch"], "analogy_accuracy": e["val_analogy_accuracy"],
              "wordsim353_spearman": e["val_wordsim353_spearman"]} for e in history]
    return glove_vectors(net), sum(e["seconds"] for e in history), curve


def compare(quick=False, seeds=3, epochs=50, progress=True):
    from keras_landmarks.models.word2vec import vector_scores
    from keras_landmarks.training.language import vocabulary

    size, dim, steps = (2_000, 32, 200) if quick else (10_000, 100, None)
    epochs = 1 if quick else epochs
    tokens = vocabulary("text_corpus", size).tokens
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for seed in range(seeds):
            vectors, seconds, curve = glove_run(size, dim, epochs, seed, pathlib.Path(work) / f"glove-{seed}", steps)
            rows.append({"implementation": "keras_landmarks", "model": "glove", "seed": seed,
                         "train_seconds": round(seconds, 1), "curve": curve, **vector_scores(vectors, tokens),
                         "neighbours": neighbours(vectors, tokens)})
            if progress:
                print(f"glove            seed {seed}: {rows[-1]['analogy_accuracy']:.3f} analogies, {seconds:.0f} s",
                      flush=True)
            vectors, seconds = gensim_run("skipgram", size, dim, 1 if quick else 5, 5, 0.025, 1e-3, seed)
            rows.append({"implementation": "gensim", "model": "skipgram", "seed": seed,
                         "train_seconds": round(seconds, 1), **vector_scores(vectors, tokens),
                         "neighbours": neighbours(vectors, tokens)})
            if progress:
                print(f"gensim skipgram  seed {seed}: {rows[-1]['analogy_accuracy']:.3f} analogies, {seconds:.0f} s",
                      flush=True)
    ours = json.loads((ROOT / "docs" / "word2vec.json").read_text())
    if not quick and (ours["vocabulary_size"], ours["dim"]) == (size, dim):
        rows += [{**r, "model": "skipgram", "from": "docs/word2vec.json"} for r in ours["rows"]
                 if r["implementation"] == "keras_landmarks" and r["architecture"] == "skipgram"]
    return {"quick": quick, "vocabulary_size": size, "dim": dim, "glove_passes": epochs, "seeds": seeds,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "rows": rows}


def render(result, figure_name):
    command = "python tools/glove_vs_skipgram.py" + (" --quick" if result["quick"] else "")
    if not result["quick"] and result["glove_passes"] != 50:
        command += f" --epochs {result['glove_passes']}"
    lines = ["# GloVe against skip-gram", "",
             f"Measured by `{command}` on {result['machine']}: text_corpus, the {result['vocabulary_size']:,} most "
             f"frequent words, d = {result['dim']}, {result['seeds']} seeds (mean ± standard deviation). GloVe: "
             f"{result['glove_passes']} passes of AdaGrad (0.05) over the co-occurrence entries (ten words either "
             "side, weighted 1/d; x_max = 100, α = ¾), vectors W + W̃. Skip-gram: negative sampling, k = 5, "
             "t = 10⁻³, windows of 1 to 5, 5 epochs (gensim measured in this run; ours from "
             "[word2vec.md](word2vec.md), same vocabulary, dimension and evaluations). Scored by gensim: "
             "Mikolov et al.'s analogies whose four words are in the vocabulary (3CosAdd), WordSim-353 and "
             "SimLex-999 Spearman correlations.", "",
             "| model | implementation | analogies | semantic | syntactic | WordSim-353 | SimLex-999 | training s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    rows = result["rows"]
    for model, implementation in (("glove", "keras_landmarks"), ("skipgram", "keras_landmarks"),
                                  ("skipgram", "gensim")):
        chosen = [r for r in rows if r["model"] == model and r["implementation"] == implementation]
        if not chosen:
            continue
        cells = [_cell([r[m] for r in chosen]) for m in METRICS]
        seconds = np.mean([r["train_seconds"] for r in chosen])
        lines.append(f"| {model} | {implementation} | {' | '.join(cells)} | {seconds:.0f} |")
    glove_rows = [r for r in rows if r["model"] == "glove"]
    curve = np.mean([[p["analogy_accuracy"] for p in r["curve"]] for r in glove_rows], 0)
    theirs = [r["analogy_accuracy"] for r in rows if r["model"] == "skipgram"]
    if theirs:
        rising = len(curve) > 1 and curve[-1] > curve[len(curve) // 2]
        lines += ["", f"After {result['glove_passes']} passes GloVe answers {curve[-1]:.1%} of the analogies, skip-gram "
                  f"{min(theirs):.1%} to {max(theirs):.1%}. The paper finds GloVe ahead of skip-gram at equal training "
                  "time on corpora of billions of words (its Fig. 4, Table 2); on this corpus of 1.9M words, with the "
                  "paper's settings, GloVe is behind: the comparison is not shown at this scale. "
                  + ("Its accuracy is still rising at the last pass (half-way: "
                     f"{curve[len(curve) // 2]:.1%}), so more passes (the paper's 50) may narrow the gap; that is "
                     "not measured here. " if rising else "")
                  + "With x_max = 100 most of this corpus's co-occurrence counts (below 1 for pairs several words "
                  "apart) get small weights, and frequent words dominate the nearest neighbours below."]
    lines += ["", f"![GloVe's scores after each pass]({figure_name})", "",
              "Nearest neighbours (cosine) of a few words, seed 0:", "",
              "| word | GloVe | skip-gram (gensim) |", "|---|---|---|"]
    glove = next(r for r in rows if r["model"] == "glove")
    skipgram = next(r for r in rows if r["model"] == "skipgram" and r["implementation"] == "gensim")
    for word in glove["neighbours"]:
        lines.append(f"| {word} | {', '.join(glove['neighbours'][word])} | "
                     f"{', '.join(skipgram['neighbours'].get(word, []))} |")
    return "\n".join(lines) + "\n"


def plot(result, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = [r["curve"] for r in result["rows"] if r["model"] == "glove"]
    passes = [p["pass"] for p in curves[0]]
    figure, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for axis, metric, title in ((axes[0], "analogy_accuracy", "analogies (in vocabulary)"),
                                (axes[1], "wordsim353_spearman", "WordSim-353 Spearman")):
        values = np.array([[p[metric] for p in c] for c in curves])
        axis.plot(passes, values.mean(0), label="GloVe (ours)")
        axis.fill_between(passes, values.min(0), values.max(0), alpha=0.3)
        for model, implementation, style in (("skipgram", "gensim", "--"), ("skipgram", "keras_landmarks", ":")):
            chosen = [r[metric] for r in result["rows"] if r["model"] == model and r["implementation"] == implementation]
            if chosen:
                axis.axhline(np.mean(chosen), linestyle=style, color="grey",
                             label=f"skip-gram ({'ours' if implementation == 'keras_landmarks' else 'gensim'}, 5 epochs)")
        axis.set(xlabel="GloVe pass", title=title)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    partial = path.with_name(f".{path.name}.partial.png")
    figure.savefig(partial, dpi=90)
    plt.close(figure)
    os.replace(partial, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller protocol: a check that it runs")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=50, help="GloVe's passes (the paper's 50 for d < 300)")
    parser.add_argument("--output", default="docs/glove.md")
    args = parser.parse_args()
    if not 1 <= args.seeds <= 10:
        parser.error(f"--seeds must be from 1 to 10. Received: {args.seeds}")
    if not 1 <= args.epochs <= 1000:
        parser.error(f"--epochs must be from 1 to 1000. Received: {args.epochs}")
    output = pathlib.Path(args.output)
    started = time.perf_counter()
    result = compare(args.quick, args.seeds, args.epochs)
    result["total_seconds"] = round(time.perf_counter() - started)
    output.parent.mkdir(parents=True, exist_ok=True)
    figure = output.with_suffix(".png")
    plot(result, figure)
    output.with_suffix(".json").write_text(json.dumps(result, indent=1))
    output.write_text(render(result, figure.name))
    print(output.read_text())


if __name__ == "__main__":
    sys.exit(main())
