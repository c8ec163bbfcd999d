"""BPE against subword-nmt, and out-of-vocabulary rates: `python tools/bpe_vs_subword_nmt.py [--quick]
[--output docs/bpe.md]`.

1. Learns Sennrich-style BPE (`keras_landmarks.tokenizers.BytePairEncoding`, Hugging Face `tokenizers`)
   on text_corpus's training split at 10,000 symbols, and subword-nmt's `learn_bpe` (the paper's own
   script) on the same word-frequency dictionary (the same pre-tokenized words) with as many merges.
   Compares the merge lists (the longest common prefix, the share of merges both learned) and the
   segmentations of the held-out split's words, and times both.
2. The claim: on the held-out split, the share of tokens that are out of vocabulary for a word-level
   vocabulary of N entries (`WordVocabulary`, the language models' vocabulary: lower-cased words) and
   for BPE of N symbols (both styles), at several N. Tokenization is deterministic: no seeds.

Writes the tables to `--output` and the raw numbers beside it (.json). `--quick`: one small vocabulary
size and 1,000 merges (a check that it runs).
"""

import argparse
import collections
import json
import os
import pathlib
import platform
import sys
import tempfile
import time


def pre_tokenized(bpe, documents):
    """The words `bpe` segments (after its normalizer and pre-tokenizer), as a list."""
    normalizer, pre = bpe.tokenizer.normalizer, bpe.tokenizer.pre_tokenizer
    return [w for d in documents for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(d))]


def subword_nmt_run(counts, merges, folder):
    """subword-nmt's merges (a list of pairs) learned from the word counts, and its segmenter."""
    from subword_nmt.apply_bpe import BPE
    from subword_nmt.learn_bpe import learn_bpe

    dictionary, codes = folder / "dictionary.txt", folder / "codes.txt"
    dictionary.write_text("".join(f"{w} {c}\n" for w, c in counts.items()), encoding="utf-8")
    started = time.perf_counter()
    with open(dictionary, encoding="utf-8") as infile, open(codes, "w", encoding="utf-8") as outfile:
        learn_bpe(infile, outfile, merges, min_frequency=2, is_dict=True)
    seconds = time.perf_counter() - started
    lines = [line.split() for line in codes.read_text(encoding="utf-8").splitlines()
             if line and not line.startswith("#version")]
    with open(codes, encoding="utf-8") as handle:
        segmenter = BPE(handle)
    return [tuple(line) for line in lines], segmenter, seconds


def theirs(segmenter, word):
    """subword-nmt's segmentation of `word` in the `</w>` notation: ["ri@@", "per"] → ["ri", "per</w>"]."""
    pieces = segmenter.segment_tokens([word])
    return [p[:-2] if p.endswith("@@") else p + "</w>" for p in pieces]


def pair_frequencies(counts, merges, pairs):
    """Algorithm 1 replayed: the words' symbols (characters, `</w>` ending the last) after applying
    `merges` in order, and the frequency of each pair of `pairs` then (why the next merges differ)."""
    from keras_landmarks.tokenizers.bpe import merge_pair

    words = {tuple(w[:-1]) + (w[-1] + "</w>",): c for w, c in counts.items() if w}
    for a, b in merges:
        merged = {}
        for symbols, count in words.items():
            if a in symbols and b in symbols:
                symbols = merge_pair(symbols, a, b)
            merged[symbols] = merged.get(symbols, 0) + count
        words = merged
    frequency = collections.Counter()
    for symbols, count in words.items():
        for pair in zip(symbols, symbols[1:]):
            frequency[pair] += count
    return [frequency[tuple(p)] for p in pairs]


def compare_with_subword_nmt(train, test, size):
    from keras_landmarks.tokenizers import BytePairEncoding

    started = time.perf_counter()
    ours = BytePairEncoding.train(train, size)
    our_seconds = time.perf_counter() - started
    counts = collections.Counter(pre_tokenized(ours, train))
    with tempfile.TemporaryDirectory() as work:
        their_merges, segmenter, their_seconds = subword_nmt_run(counts, len(ours.merges), pathlib.Path(work))
    prefix = next((i for i, (a, b) in enumerate(zip(ours.merges, their_merges)) if a != b),
                  min(len(ours.merges), len(their_merges)))
    shared = len(set(ours.merges) & set(their_merges))
    first = None
    if prefix < min(len(ours.merges), len(their_merges)):
        frequencies = pair_frequencies(counts, ours.merges[:prefix], [ours.merges[prefix], their_merges[prefix]])
        first = {"ours": list(ours.merges[prefix]), "subword_nmt": list(their_merges[prefix]),
                 "frequencies": frequencies}
    held_out = collections.Counter(pre_tokenized(ours, test))
    same = differ = 0
    examples = []
    ours_pieces = theirs_pieces = 0
    for word, count in held_out.items():
        a = [t.value for t in ours.tokenizer.model.tokenize(word)]
        b = theirs(segmenter, word)
        ours_pieces += len(a) * count
        theirs_pieces += len(b) * count
        if a == b:
            same += count
        else:
            differ += count
            if len(examples) < 8:
                examples.append({"word": word, "ours": a, "subword_nmt": b, "count": count})
    return {"merges": len(ours.merges), "subword_nmt_merges": len(their_merges), "common_prefix": prefix,
            "first_difference": first,
            "shared_merges": shared, "held_out_words": sum(held_out.values()),
            "same_segmentation": same / max(1, same + differ),
            "pieces_per_word": {"ours": ours_pieces / sum(held_out.values()),
                                "subword_nmt": theirs_pieces / sum(held_out.values())},
            "examples": examples, "seconds": {"ours": round(our_seconds, 2), "subword_nmt": round(their_seconds, 1)}}


def out_of_vocabulary(train, test, sizes):
    from keras_landmarks.tokenizers import BytePairEncoding, WordVocabulary, unknown_rate, words

    rows = []
    held_out_words = [w for d in test for w in words(d)]
    for size in sizes:
        vocabulary = WordVocabulary.from_documents(train, size)
        rate = sum(w not in vocabulary.ids for w in held_out_words) / len(held_out_words)
        rows.append({"tokenizer": "words (lower-cased)", "size": size, "oov_rate": rate,
                     "held_out_tokens": len(held_out_words)})
        for style in ("sennrich", "byte_level"):
            bpe = BytePairEncoding.train(train, size, style=style)
            ids = [i for d in test for i in bpe.encode(d)]
            rows.append({"tokenizer": f"BPE, {style}", "size": size, "oov_rate": unknown_rate(ids),
                         "held_out_tokens": len(ids)})
    return rows


def run(quick=False):
    from keras_landmarks.tokenizers import corpus_documents

    train, test = corpus_documents("text_corpus", "train"), corpus_documents("text_corpus", "test")
    size, sizes = (1_300, (1_000,)) if quick else (10_000, (2_000, 10_000, 30_000))
    return {"quick": quick, "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
            "vocabulary_size": size, "subword_nmt": compare_with_subword_nmt(train, test, size),
            "oov": out_of_vocabulary(train, test, sizes)}


def render(result):
    s = result["subword_nmt"]
    lines = ["# Byte-pair encoding", "",
             f"Measured by `python tools/bpe_vs_subword_nmt.py{' --quick' if result['quick'] else ''}` on "
             f"{result['machine']}, text_corpus (training split to learn, test split held out).", "",
             "## Against subword-nmt", "",
             f"Sennrich-style BPE at {result['vocabulary_size']:,} symbols ({s['merges']:,} merges) learned by "
             "`BytePairEncoding.train` (Hugging Face `tokenizers`) and by subword-nmt's `learn_bpe` on the same "
             "word-frequency dictionary with as many merges.", "",
             "| | ours (HF tokenizers) | subword-nmt |", "|---|---:|---:|",
             f"| merges learned | {s['merges']:,} | {s['subword_nmt_merges']:,} |",
             f"| learning time, s | {s['seconds']['ours']} | {s['seconds']['subword_nmt']} |",
             f"| pieces per held-out word | {s['pieces_per_word']['ours']:.4f} | "
             f"{s['pieces_per_word']['subword_nmt']:.4f} |", "",
             f"- The first {s['common_prefix']:,} merges are identical, in the same order; "
             f"{s['shared_merges']:,} of {s['merges']:,} merges ({s['shared_merges'] / max(1, s['merges']):.1%}) "
             "are learned by both."]
    if s["first_difference"]:
        d = s["first_difference"]
        ours_f, theirs_f = d["frequencies"]
        why = ("a tie: both pairs occur equally often there, and the two break ties differently (`tokenizers` "
               "by the pair's symbols, subword-nmt by the order of its pair statistics); every later merge then "
               "sees different counts" if ours_f == theirs_f else
               "not a tie: the frequencies differ, so one of the two did not pick the most frequent pair")
        lines.append(f"- The first difference, merge {s['common_prefix'] + 1}: ours `{' '.join(d['ours'])}` "
                     f"(occurring {ours_f:,} times after the common merges), subword-nmt `{' '.join(d['subword_nmt'])}` "
                     f"({theirs_f:,} times): {why}.")
    lines += [f"- {s['same_segmentation']:.2%} of the {s['held_out_words']:,} held-out words (tokens) are "
              "segmented identically.", "", "Words segmented differently (held-out count):", "",
              "| word | ours | subword-nmt |", "|---|---|---|"]
    for e in s["examples"]:
        lines.append(f"| {e['word']} ({e['count']}) | {' '.join(e['ours'])} | {' '.join(e['subword_nmt'])} |")
    lines += ["", "## Out-of-vocabulary rate on held-out text", "",
              "The share of held-out tokens that are out of vocabulary: for the word-level vocabulary of N entries "
              "(the language models' `WordVocabulary`: lower-cased words and punctuation) the words outside it; "
              "for BPE of N symbols the `<unk>` tokens. Tokenization is deterministic, so there is no spread "
              "to report.", "",
              "| N | " + " | ".join(dict.fromkeys(r["tokenizer"] for r in result["oov"])) + " |",
              "|---:|" + "---:|" * len(dict.fromkeys(r["tokenizer"] for r in result["oov"]))]
    for size in dict.fromkeys(r["size"] for r in result["oov"]):
        cells = [f"{r['oov_rate']:.2%}" for r in result["oov"] if r["size"] == size]
        lines.append(f"| {size:,} | " + " | ".join(cells) + " |")
    words = [r for r in result["oov"] if r["tokenizer"].startswith("words")]
    bpe = [r for r in result["oov"] if r["tokenizer"].startswith("BPE")]
    held = all(r["oov_rate"] == 0 for r in bpe)
    lines += ["", f"Verdict: {'shown' if held else 'not shown'}. BPE leaves "
              f"{'no' if held else 'some'} held-out token out of vocabulary at every size, where the word-level "
              f"vocabulary misses {min(r['oov_rate'] for r in words):.2%} to {max(r['oov_rate'] for r in words):.2%} "
              "of the held-out words. Sennrich-style BPE covers every held-out word because every character of the "
              "held-out text occurs in the training text; byte-level BPE covers any text by construction."]
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a smaller protocol: a check that it runs")
    parser.add_argument("--output", default="docs/bpe.md")
    args = parser.parse_args()
    output = pathlib.Path(args.output)
    result = run(args.quick)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.with_suffix(".json").write_text(json.dumps(result, indent=1, ensure_ascii=False), encoding="utf-8")
    output.write_text(render(result), encoding="utf-8")
    print(output.read_text(encoding="utf-8"))


if __name__ == "__main__":
    sys.exit(main())
