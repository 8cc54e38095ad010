"""From a corpus source to encoded training tensors and the vocabulary."""

from __future__ import annotations

import torch

from dlmctl.data import load_texts
from dlmctl.errors import UsageError
from dlmctl.vocab import Vocabulary, tokenize


def tokenized(source: str, text_column: str) -> list[list[str]]:
    texts = load_texts(source, text_column)
    if not texts:
        raise UsageError(f"{source} has no non-empty texts in column '{text_column}'")
    return [tokenize(t) for t in texts]


def prepare(source: str, text_column: str, seq_len: int, min_count: int,
            vocab: Vocabulary | None = None) -> tuple[torch.Tensor, Vocabulary]:
    """Encoded sentences (N, seq_len) and the vocabulary (built here unless given)."""
    sentences = tokenized(source, text_column)
    vocab = vocab or Vocabulary.build(sentences, min_count)
    return vocab.encode_batch(sentences, seq_len), vocab
