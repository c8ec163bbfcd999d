"""Tokenizers: text → token ids, as the language papers split it.

- `words`: a word-level vocabulary of a corpus's most frequent words (Bengio et al.'s and Zaremba et
  al.'s language models, word2vec, GloVe): lower-cased words and punctuation marks, the rare words
  mapped to `<unk>`.
"""

from keras_landmarks.tokenizers.words import EOD, UNK, WordVocabulary, corpus_documents, words

__all__ = ["EOD", "UNK", "WordVocabulary", "corpus_documents", "words"]
