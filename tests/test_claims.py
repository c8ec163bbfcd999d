"""`keras-landmarks reproduce`: every claim runs its protocol (quick mode), writes its figure, numbers
and verdict, and decides "held" by its stated rule; docs/claims.md holds every claim's full run."""

import json
import pathlib

import numpy as np
import pytest

from keras_landmarks.claims import list_claims, reproduce
from keras_landmarks.cli import main
from keras_landmarks.training.judge import frechet_distance

DOCS = pathlib.Path(__file__).resolve().parents[1] / "docs"


def test_frechet_distance_of_shifted_copies_is_the_squared_shift():
    a = np.random.default_rng(0).normal(size=(500, 6))
    shift = np.arange(6) / 3.0
    assert frechet_distance(a, a + shift) == pytest.approx(float(np.sum(shift**2)), rel=1e-6)
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert frechet_distance(a, 2 * a) > frechet_distance(a, 1.1 * a) > 0  # a wider spread is further


def _held_by_rule(name, numbers):
    """Each claim's rule, recomputed from its numbers."""
    if name == "vae-elbo":
        curves = numbers["curves"]
        improves = all(c[-1] < c[0] for runs in curves.values() for c in runs)
        return improves and max(c[-1] for c in curves["20"]) < min(c[-1] for c in curves["2"])
    if name in ("gan-samples", "dcgan-samples"):
        return all(r["frechet"][-1] < r["frechet"][0] and r["frechet"][-1] < r["frechet"][1] for r in numbers["runs"])
    if name == "stylegan-styles":
        return all(r["truncation"][0]["frechet"] < r["frechet_untrained"]
                   and r["truncation"][0]["spread"] > r["truncation"][1]["spread"] > r["truncation"][2]["spread"]
                   and r["truncation"][2]["confidence"] > r["truncation"][0]["confidence"]
                   and r["mixing"]["class_of_coarse_source"] > r["mixing"]["class_of_fine_source"]
                   for r in numbers["runs"])
    if name == "lstm-adding":
        final = {k: [c[-1][1] for c in v] for k, v in numbers["curves"].items()}
        return min(final["lstm"]) >= 0.9 and max(final["simple_rnn"]) < 0.5
    if name == "nnlm-kneser-ney":
        return all(r["perplexity_sample"] < numbers["kneser_ney"]["perplexity"] for r in numbers["nnlm"])
    if name == "transformer-xl-memory":
        return all(a["bpc"] < b["bpc"] for a, b in zip(numbers["runs"]["memory"], numbers["runs"]["none"]))
    if name == "reformer-duplication":
        final = numbers["final"]
        lsh = final[[k for k in final if k.startswith("LSH")][-1]]  # the most rounds
        return min(final["full attention"]) >= 0.9 and np.mean(lsh) >= np.mean(final["full attention"]) - 0.02
    if name == "elmo-senses":
        return all(r["mean"]["biLM layer 2 (top)"] > max(r["mean"]["word2vec, the word"],
                                                         r["mean"]["word2vec, mean of ±10 words"])
                   for r in numbers["runs"])
    if name == "dqn-cartpole":
        final = numbers["final"]
        return min(final["dqn"]) >= 195 and all(np.mean(final[v]) <= 0.8 * np.mean(final["dqn"])
                                                for v in ("no replay", "no target network"))
    if name == "alphazero-tictactoe":
        return all(r["minimax"]["first"][2] == 0 and r["minimax"]["second"][2] == 0
                   and r["random"]["first"][0] >= 0.95 * sum(r["random"]["first"]) and r["random"]["second"][2] == 0
                   for r in numbers["runs"])
    return all(r["clip"]["at_extremes"] >= 0.5 and r["gp"]["at_extremes"] <= 0.05 for r in numbers["runs"])


@pytest.mark.parametrize("name", ["vae-elbo", "gan-samples", "dcgan-samples", "stylegan-styles", "lstm-adding",
                                  pytest.param("wgan-gp-toy", marks=pytest.mark.large),  # 30 s of double backprop
                                  pytest.param("nnlm-kneser-ney", marks=pytest.mark.large),  # 40 s: NLTK's n-gram
                                  pytest.param("transformer-xl-memory", marks=pytest.mark.large),  # 40 s: two runs
                                  pytest.param("reformer-duplication", marks=pytest.mark.large),  # 15 s
                                  pytest.param("elmo-senses", marks=pytest.mark.large),  # 70 s: two trainings
                                  pytest.param("dqn-cartpole", marks=pytest.mark.large),  # three short trainings
                                  pytest.param("alphazero-tictactoe", marks=pytest.mark.large)])  # 20 s
def test_each_claim_runs_its_protocol_and_applies_its_rule(name, tmp_path):
    record = reproduce(name, quick=True, seeds=1, out=tmp_path, progress=False)
    folder = tmp_path / name
    assert (folder / "figure.png").stat().st_size > 10_000
    assert json.loads((folder / "result.json").read_text())["numbers"] == record["numbers"]
    assert record["held"] == _held_by_rule(name, record["numbers"])
    assert record["verdict"].startswith(f"**{name}: {'held' if record['held'] else 'not shown'} (quick mode")
    assert (folder / "verdict.md").read_text().strip() == record["verdict"]
    assert not list(tmp_path.glob(".*.partial"))


def test_claims_list_and_bad_arguments(tmp_path, capsys):
    assert main(["reproduce", "--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in list_claims()) and "Kingma & Welling" in listed
    for argv, message in [(["reproduce", "vae-elb"], "Unknown claim 'vae-elb'. Did you mean: vae-elbo?"),
                          (["reproduce", "vae-elbo", "--seeds", "0", "--out", str(tmp_path)],
                           "Invalid number of seeds 0: an integer from 1 to 20."),
                          (["reproduce", "vae-elbo", "--out", str(DOCS / "claims.md")], "is not writable")]:
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_docs_hold_every_claims_full_run():
    """docs/claims.md is regenerated by tools/claims.py; every registered claim has its full run there."""
    records = json.loads((DOCS / "claims.json").read_text())
    assert sorted(records) == list_claims()
    page = (DOCS / "claims.md").read_text()
    for name, record in records.items():
        assert not record["quick"] and len(record["seeds"]) >= 3
        assert (DOCS / "claims" / f"{name}.png").is_file() and record["verdict"] in page


def test_every_image_the_readme_shows_is_in_docs():
    """The sample grids (tools/sample_grids.py) and claim figures the README shows are committed."""
    import re

    readme = (DOCS.parent / "README.md").read_text()
    images = re.findall(r"\]\((docs/[^)]+\.png)\)", readme)
    assert any("samples/" in i for i in images) and all((DOCS.parent / i).is_file() for i in images), images


def test_senses_come_from_the_capitals_and_static_vectors_cannot_tell_them_apart(corpus_dir):
    """elmo-senses' set: each sense's occurrences carry its capitals in the text (LORD is the Bible's God,
    Lot Abraham's nephew), never first in a sentence or a line; the windows are what the models read,
    lower-cased; one vector per word scores chance, vectors that differ by sense score 1."""
    from keras_landmarks.claims.language import HOMOGRAPHS, SENSE_CONTEXT, sense_occurrences, sense_separation

    found = sense_occurrences(per_sense=40, data_dir=corpus_dir)
    assert list(found) == [w for w, _, _ in HOMOGRAPHS]
    for word, occurrences in found.items():
        counts = np.bincount([s for _, s in occurrences], minlength=2)
        assert (counts >= 25).all() and (counts <= 40).all(), (word, counts)
        for window, _ in occurrences:
            assert len(window) == 2 * SENSE_CONTEXT + 1 and window[SENSE_CONTEXT] == word
            assert all(t == t.lower() for t in window) and window[SENSE_CONTEXT - 1] not in ".!?;:"
    lot = [" ".join(w) for w, s in found["lot"] if s == 0]
    assert sum("abraham" in w or "sodom" in w or "daughters" in w or "lot said" in w for w in lot) >= 5
    senses = np.repeat([0, 1], 30)
    assert sense_separation(np.ones((60, 4)), senses) == 0.5
    rng = np.random.default_rng(0)
    apart = rng.normal(size=(60, 4)) * 0.1 + np.where(senses[:, None] == 0, 1.0, -1.0)
    assert sense_separation(apart, senses) == 1.0
    assert 0.3 < sense_separation(rng.normal(size=(60, 4)), senses) < 0.7


def test_the_senses_figure_draws_seeds_that_agree(tmp_path):
    """elmo-senses' figure with several seeds, some of them equal (a range of zero), as a full run has."""
    from keras_landmarks.claims.language import senses_figure

    names = ("word2vec, the word", "biLM layer 2 (top)")
    runs = [{"by_word": {"lot": {n: v for n in names}, "page": {n: 0.1 for n in names}},  # mean(0.1 × 3) > 0.1
             "mean": {n: (v + 0.1) / 2 for n in names}} for v in (0.7, 0.7, 0.8)]
    senses_figure(runs, {"lot": 110, "page": 146}, tmp_path / "figure.png")
    assert (tmp_path / "figure.png").stat().st_size > 10_000
