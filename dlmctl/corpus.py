"""From a corpus source to encoded training tensors and the vocabulary."""

from __future__ import annotations

import torch

from dlmctl.data import load_texts
from dlmctl.errors import UsageError
from dlmctl.vocab import SPECIALS, Vocabulary, tokenize


def tokenized(source: str, text_column: str) -> list[list[str]]:
    texts = load_texts(source, text_column)
    if not texts:
        raise UsageError(f"{source} has no non-empty texts in column '{text_column}'")
    return [tokenize(t) for t in texts]


def prepare(source: str, text_column: str, seq_len: int, min_count: int,
            vocab: Vocabulary | None = None) -> tuple[torch.Tensor, Vocabulary]:
    """Encoded sentences (N, seq_len) and the vocabulary (built here unless given)."""
    sentences = tokenized(source, text_column)
    if vocab is None:
        vocab = Vocabulary.build(sentences, min_count)
        if len(vocab) == len(SPECIALS):
            raise UsageError(f"no word of {source} occurs {min_count} times or more, so the vocabulary would be "
                             f"empty: use a larger corpus or a lower --min-count")
    return vocab.encode_batch(sentences, seq_len), vocab
