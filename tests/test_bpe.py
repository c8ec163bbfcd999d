"""Byte-pair encoding: Algorithm 1's merges (each the most frequent pair at its turn), segmentation by the
merges in learned order, the in-graph tokenizer's ids equal to the Python tokenizer's, and the
out-of-vocabulary claim in docs/bpe.md."""

import collections
import json
import pathlib

import numpy as np
import pytest

from keras_landmarks.errors import ConfigError
from keras_landmarks.tokenizers import BytePairEncoding, corpus_documents, tokenizer_module
from keras_landmarks.tokenizers.bpe import merge_pair

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(corpus_dir):
    train = corpus_documents("text_corpus", "train", corpus_dir)
    test = corpus_documents("text_corpus", "test", corpus_dir)
    return train, test


def test_each_merge_is_the_most_frequent_pair_at_its_turn(corpus):
    train, _ = corpus
    sample = [d[:200_000] for d in train[:6]]
    bpe = BytePairEncoding.train(sample, 400)
    words = collections.Counter(w for d in sample for w, _ in bpe.tokenizer.pre_tokenizer.pre_tokenize_str(
        bpe.tokenizer.normalizer.normalize_str(d)))
    symbols = collections.Counter({tuple(w[:-1]) + (w[-1] + "</w>",): c for w, c in words.items()})
    assert len(bpe.merges) > 100
    for a, b in bpe.merges:  # Algorithm 1 replayed: the merge taken is a most frequent pair
        pairs = collections.Counter()
        for s, c in symbols.items():
            for pair in zip(s, s[1:]):
                pairs[pair] += c
        assert pairs[(a, b)] == max(pairs.values()), (a, b, pairs[(a, b)], pairs.most_common(2))
        merged = collections.Counter()
        for s, c in symbols.items():
            merged[merge_pair(s, a, b)] += c
        symbols = merged
    # A word is segmented by applying the merges in the order they were learned.
    rank = {m: i for i, m in enumerate(bpe.merges)}
    for word in ("increase", "thereby", "Shakespeare", "unkindness", "zyx"):
        s = tuple(word[:-1]) + (word[-1] + "</w>",)
        while True:
            candidates = [p for p in zip(s, s[1:]) if p in rank]
            if not candidates:
                break
            s = merge_pair(s, *min(candidates, key=rank.get))
        assert bpe.tokens(word) == list(s), word


def test_the_end_of_word_marker_and_decoding(corpus):
    train, _ = corpus
    bpe = BytePairEncoding.train(train[:4], 2_000)
    tokens = bpe.tokens("the riper should, by time, decease")
    assert tokens[0] == "the</w>" and tokens[-1].endswith("</w>")
    assert "".join(tokens).replace("</w>", " ").split() == ["the", "riper", "should", ",", "by", "time", ",",
                                                            "decease"]
    assert bpe.decode(bpe.encode("the riper should")) == "the riper should"
    assert bpe.encode("the Ω")[-1] == 0  # a character never seen in training: <unk>, the only way to be unknown


def test_byte_level_bpe_covers_any_text_and_round_trips(corpus):
    train, _ = corpus
    bpe = BytePairEncoding.train(train[:4], 1_000, style="byte_level")
    text = "Naïve café — 1611 ™ Ω\tend"
    ids = bpe.encode(text)
    assert 0 not in ids and bpe.decode(ids) == "Naïve café — 1611 ™ Ω end"  # whitespace runs become one space


def test_a_saved_model_takes_raw_strings_with_the_same_ids(corpus, tmp_path):
    import tensorflow as tf

    train, test = corpus
    bpe = BytePairEncoding.train(train, 3_000, style="byte_level")
    module = tokenizer_module(bpe)
    tf.saved_model.save(module, str(tmp_path / "tokenizer"), signatures={"tokenize": module.tokenize})
    loaded = tf.saved_model.load(str(tmp_path / "tokenizer"))
    texts = [d[i : i + 1500] for d in test for i in range(0, len(d), 20_000)]
    texts += ["Hello  world!\n\nThe 3 kings' 1611 edition — naïve café <eod> end", "", "   "]
    out = loaded.signatures["tokenize"](text=tf.constant(texts))
    assert len(texts) > 30
    for i, text in enumerate(texts):
        served = out["token_ids"][i, : out["lengths"][i]].numpy().tolist()
        assert served == bpe.encode(text), text[:80]
    assert bpe.vocabulary["<eod>"] in out["token_ids"].numpy()  # a special token is kept whole


def test_save_load_and_bad_input(corpus, tmp_path):
    train, _ = corpus
    bpe = BytePairEncoding.train(train[:2], 800)
    bpe.save(tmp_path / "bpe.json")
    again = BytePairEncoding.load(tmp_path / "bpe.json")
    assert again.merges == bpe.merges and again.style == "sennrich"
    assert again.encode("thereby beauty's rose") == bpe.encode("thereby beauty's rose")
    (tmp_path / "broken.json").write_text("{not json")
    with pytest.raises(ConfigError, match="broken.json is not a BPE tokenizer"):
        BytePairEncoding.load(tmp_path / "broken.json")
    with pytest.raises(ConfigError, match="Unknown BPE style 'wordpiece'"):
        BytePairEncoding.train(train[:1], 800, style="wordpiece")
    with pytest.raises(ConfigError, match="Invalid BPE vocabulary size 10"):
        BytePairEncoding.train(train[:1], 10)
    with pytest.raises(ConfigError, match="in-graph BytePairTokenizer applies byte-level"):
        bpe.keras_hub()


@pytest.mark.large  # about 20 s: subword-nmt learns 1,137 merges in Python
def test_the_subword_nmt_comparison_runs_its_protocol(tmp_path):
    import subprocess
    import sys

    output = tmp_path / "bpe.md"
    subprocess.run([sys.executable, str(ROOT / "tools" / "bpe_vs_subword_nmt.py"), "--quick", "--output", str(output)],
                   check=True, cwd=ROOT, capture_output=True)
    result = json.loads(output.with_suffix(".json").read_text())
    compared = result["subword_nmt"]
    assert compared["merges"] == compared["subword_nmt_merges"] > 1000
    assert compared["same_segmentation"] > 0.9 and compared["common_prefix"] > 0
    assert {r["tokenizer"] for r in result["oov"]} == {"words (lower-cased)", "BPE, sennrich", "BPE, byte_level"}


def test_docs_hold_the_full_comparison_and_the_claim():
    result = json.loads((ROOT / "docs" / "bpe.json").read_text(encoding="utf-8"))
    assert not result["quick"] and result["vocabulary_size"] == 10_000
    words = [r for r in result["oov"] if r["tokenizer"].startswith("words")]
    bpe = [r for r in result["oov"] if r["tokenizer"].startswith("BPE")]
    assert len(words) >= 3 and all(r["oov_rate"] > 0 for r in words)
    assert all(r["oov_rate"] == 0 for r in bpe) and len(bpe) == 2 * len(words)
    assert np.isclose(result["subword_nmt"]["same_segmentation"], 0.9975, atol=0.01)
    assert "Verdict: shown." in (ROOT / "docs" / "bpe.md").read_text(encoding="utf-8")
