"""Tokenizers: text → token ids, as the language papers split it.

- `words`: a word-level vocabulary of a corpus's most frequent words (Bengio et al.'s and Zaremba et
  al.'s language models, word2vec, GloVe): lower-cased words and punctuation marks, the rare words
  mapped to `<unk>`.
- `bpe`: byte-pair encoding (Sennrich et al.'s subword units, and GPT-2's byte-level form with
  keras-hub's in-graph tokenizer), learned by Hugging Face `tokenizers`.
"""

from keras_landmarks.tokenizers.bpe import BytePairEncoding, tokenizer_module, unknown_rate
from keras_landmarks.tokenizers.words import EOD, UNK, WordVocabulary, corpus_documents, words

__all__ = ["BytePairEncoding", "tokenizer_module", "unknown_rate", "EOD", "UNK", "WordVocabulary", "corpus_documents", "words"]
