"""Token biases that controls share (:attr:`dlmctl.control.Guidance.token_bias`)."""

from __future__ import annotations

from typing import Sequence

import torch

from dlmctl.vocab import Vocabulary


def length_bias(vocab: Vocabulary, seq_len: int, lengths: Sequence[int | None]) -> torch.Tensor:
    """(B, L, V) bias that holds a sentence of exactly ``lengths[b]`` words in row b: START at
    position 0, any word but the specials and UNK at 1..n, END at n + 1 and PAD after (−inf for
    everything else); zeros for rows whose length is None."""
    bias = torch.zeros(len(lengths), seq_len, len(vocab))
    specials = [vocab.start, vocab.end, vocab.pad, vocab.unk]
    for row, n in enumerate(lengths):
        if n is None:
            continue
        bias[row, 1:n + 1, specials] = float("-inf")
        for position, word in ((0, vocab.start), (n + 1, vocab.end)):
            bias[row, position] = float("-inf")
            bias[row, position, word] = 0.0
        bias[row, n + 2:] = float("-inf")
        bias[row, n + 2:, vocab.pad] = 0.0
    return bias
