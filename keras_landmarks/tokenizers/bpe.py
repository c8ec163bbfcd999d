"""Byte-pair encoding: subword units learned by merging the most frequent pair of symbols.

- Sennrich, Haddow & Birch. "Neural Machine Translation of Rare Words with Subword Units." ACL 2016
  (arXiv 1508.07909, 2015). https://arxiv.org/abs/1508.07909

Algorithm 1 of the paper: start from each word of the training text as a sequence of characters
followed by an end-of-word marker `</w>`, count the words (the word-frequency dictionary), then
repeatedly replace the most frequent adjacent pair of symbols (a, b) by the new symbol ab, recording
the merge; a text is segmented by applying the merges in the order they were learned. The vocabulary
is the characters plus one symbol per merge, so any word made of known characters has a segmentation:
nothing is out of vocabulary but an unseen character.

Learning and applying the merges is done by Hugging Face `tokenizers` (its `BpeTrainer` counts the
pre-tokenized words and merges pairs by frequency as Algorithm 1 does, in Rust: 2.2 s for 10,000
symbols on text_corpus's 8.4M characters, where the paper's own script, subword-nmt, takes 19.6 s);
sentencepiece's BPE was the alternative, but it learns from raw sentences with its own whitespace
symbol rather than from a word-frequency dictionary. `tools/bpe_vs_subword_nmt.py` compares the merges and
segmentations with subword-nmt's on the same words (docs/bpe.md).

Two styles:

- `"sennrich"` (the paper's): words and punctuation split on whitespace and punctuation (the
  tokenized text the paper starts from), characters as the base symbols, `</w>` ending each word.
- `"byte_level"` (GPT-2's refinement, Radford et al. 2019): the text's UTF-8 bytes as the base symbols
  (so no character is ever unknown), GPT-2's pre-tokenization, and the word boundary marked by the space
  that *starts* a word (`Ġ`) instead of `</w>` ending it. It is what keras-hub's in-graph
  `BytePairTokenizer` applies, so `BytePairEncoding.keras_hub()` gives a Keras layer and
  `tokenizer_module()` a SavedModel that take raw strings, with the same ids as `encode` (tested).

Both collapse each run of whitespace to one space first (GPT-2's pre-tokenizer and keras-hub's treat
runs of newlines differently; a single space they split the same way). Ids: 0 is `<unk>` (only the
Sennrich style can emit it), 1 `<eod>`, a special token neither style splits.

    bpe = BytePairEncoding.train(corpus_documents("text_corpus", "train"), 10_000)
    bpe.tokens("the riper should by time decease")   # ['the</w>', 'ri', 'per</w>', ...]
    bpe.save(folder / "bpe.json"); BytePairEncoding.load(folder / "bpe.json")
"""

import json
import os
import pathlib

from keras_landmarks.errors import ConfigError

STYLES = ("sennrich", "byte_level")
SPECIAL = ("<unk>", "<eod>")
END_OF_WORD = "</w>"


def _tokenizer(style, lowercase):
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

    steps = [normalizers.Replace(Regex(r"\s+"), " ")] + ([normalizers.Lowercase()] if lowercase else [])
    if style == "sennrich":
        tokenizer = Tokenizer(models.BPE(unk_token=SPECIAL[0], end_of_word_suffix=END_OF_WORD))
        tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()  # \w+|[^\w\s]+: words and punctuation
        tokenizer.decoder = decoders.BPEDecoder(suffix=END_OF_WORD)
    else:
        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
    tokenizer.normalizer = normalizers.Sequence(steps)
    return tokenizer


class BytePairEncoding:
    """A learned BPE: `encode` / `tokens` / `decode`, the `merges` in learned order, `vocabulary`
    (symbol → id). Build it with `train` or `load`."""

    def __init__(self, tokenizer, style, lowercase=False):
        self.tokenizer, self.style, self.lowercase = tokenizer, style, bool(lowercase)
        model = json.loads(tokenizer.to_str())["model"]
        self.vocabulary = dict(model["vocab"])
        self.merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]

    @classmethod
    def train(cls, documents, vocabulary_size, style="sennrich", lowercase=False, min_frequency=2):
        """Learn merges from `documents` (an iterable of strings) until the vocabulary (special tokens,
        base symbols and one symbol per merge) holds `vocabulary_size` entries, or no pair occurs
        `min_frequency` times."""
        from tokenizers import pre_tokenizers, trainers

        if style not in STYLES:
            raise ConfigError(f"Unknown BPE style {style!r}. Allowed: {', '.join(STYLES)}.", key="style", value=style)
        if isinstance(vocabulary_size, bool) or not isinstance(vocabulary_size, int) or vocabulary_size < 300:
            raise ConfigError(f"Invalid BPE vocabulary size {vocabulary_size!r}: an integer ≥ 300 (the base symbols, "
                              "up to 256 bytes, come first).", key="vocabulary_size", value=vocabulary_size)
        tokenizer = _tokenizer(style, lowercase)
        options = {"vocab_size": vocabulary_size, "min_frequency": min_frequency, "show_progress": False,
                   "special_tokens": list(SPECIAL)}
        if style == "sennrich":
            options["end_of_word_suffix"] = END_OF_WORD
        else:
            options["initial_alphabet"] = pre_tokenizers.ByteLevel.alphabet()
        tokenizer.train_from_iterator(documents, trainers.BpeTrainer(**options))
        return cls(tokenizer, style, lowercase)

    def __len__(self):
        return self.tokenizer.get_vocab_size()

    def encode(self, text):
        """The ids of `text` (a string), merges applied in learned order."""
        return self.tokenizer.encode(text).ids

    def tokens(self, text):
        return self.tokenizer.encode(text).tokens

    def decode(self, ids):
        return self.tokenizer.decode(list(ids))

    def save(self, path):
        """Write the tokenizer (Hugging Face's tokenizer.json format, our style beside it) to `path`."""
        path = pathlib.Path(path)
        record = json.loads(self.tokenizer.to_str())
        record["keras_landmarks"] = {"style": self.style, "lowercase": self.lowercase}
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, path)

    @classmethod
    def load(cls, path):
        from tokenizers import Tokenizer

        path = pathlib.Path(path)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            ours = record.pop("keras_landmarks")
            tokenizer = Tokenizer.from_str(json.dumps(record))
        except Exception as error:  # a missing, unreadable or foreign file; tokenizers raises a bare Exception
            raise ConfigError(f"{path} is not a BPE tokenizer written by BytePairEncoding.save ({error}).",
                              key="path", value=str(path)) from error
        return cls(tokenizer, ours["style"], ours.get("lowercase", False))

    def keras_hub(self, sequence_length=None):
        """keras-hub's `BytePairTokenizer` with this vocabulary and these merges: strings → ids inside a
        TensorFlow graph (byte-level style only; whitespace runs are collapsed by `tokenizer_module`)."""
        import keras_hub

        if self.style != "byte_level":
            raise ConfigError("keras-hub's in-graph BytePairTokenizer applies byte-level BPE; this tokenizer is "
                              f"{self.style!r}. Train one with style='byte_level'.", key="style", value=self.style)
        return keras_hub.tokenizers.BytePairTokenizer(vocabulary=self.vocabulary,
                                                      merges=[" ".join(m) for m in self.merges],
                                                      sequence_length=sequence_length,
                                                      unsplittable_tokens=list(SPECIAL))


def tokenizer_module(bpe):
    """A `tf.Module` whose `tokenize` signature takes raw strings (batch,) and returns `token_ids`
    (batch, longest) int32, padded with `<unk>` (0), and `lengths` (batch,): save it with
    `tf.saved_model.save(module, path, signatures={"tokenize": module.tokenize})`."""
    import tensorflow as tf

    layer = bpe.keras_hub()

    class Tokenize(tf.Module):
        def __init__(self):
            super().__init__(name="bpe")
            self.layer = layer

        @tf.function(input_signature=[tf.TensorSpec((None,), tf.string, name="text")])
        def tokenize(self, text):
            text = tf.strings.regex_replace(text, r"\s+", " ")
            if bpe.lowercase:
                text = tf.strings.lower(text, encoding="utf-8")
            ids = tf.cast(self.layer.tokenize(text), tf.int32)
            return {"token_ids": ids.to_tensor(0), "lengths": tf.cast(ids.row_lengths(), tf.int32)}

    return Tokenize()


def merge_pair(symbols, a, b):
    """One step of Algorithm 1 on one word: every adjacent (a, b) in `symbols` (a tuple) replaced by ab.
    `BytePairEncoding` learns and applies merges through `tokenizers`; this is the step its checks replay."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def unknown_rate(ids, unknown=0):
    """The fraction of `ids` that are `unknown` (the out-of-vocabulary rate)."""
    import numpy as np

    ids = np.asarray(ids)
    return float(np.mean(ids == unknown)) if ids.size else 0.0
