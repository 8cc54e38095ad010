"""The Universal POS tag set (universaldependencies.org/u/pos): what annotators tag words with and
what labels the preterminals of trees."""

#: The 17 Universal POS tags.
UPOS_TAGS: tuple[str, ...] = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART",
                              "PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
