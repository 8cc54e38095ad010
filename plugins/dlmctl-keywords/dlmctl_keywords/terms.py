"""The keywords control's log-probability term, in tensors (see :mod:`dlmctl_keywords.control`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:
    from dlmctl_keywords.control import KeywordsTarget

#: stands for log 0 in masked entries; finite, so that gradients through masked rows stay finite
NEG = -1e9


def soft_max_over_positions(starts: torch.Tensor) -> torch.Tensor:
    """logsumexp over dim 1 of log p(keyword k starts at s) ``starts`` (B, L, K) → (B, K)."""
    return starts.logsumexp(1)


def keyword_log_prob(word_log_probs: torch.Tensor, index: torch.Tensor, valid: torch.Tensor,
                     used: torch.Tensor, over_positions=soft_max_over_positions) -> torch.Tensor:
    """Σ_k over_positions_s Σ_j logsumexp_variants log p(w_kj at s+j).

    :param word_log_probs: (B, L, V) log p(word at position).
    :param index: (B, K, M, C) vocabulary ids: K keywords of up to M words, C case variants each.
    :param valid: (B, K, M, C) bool, which entries of ``index`` are real.
    :param used: (B, K, M) bool, which keyword words exist (a keyword with no words is absent).
    :param over_positions: (B, L, K) log p(keyword k starts at s) → (B, K) log p(k occurs).
    :returns: (B,) log-probability that every keyword occurs; 0 for rows without keywords.
    """
    b, length, _ = word_log_probs.shape
    _, k, m, c = index.shape
    gathered = word_log_probs.gather(2, index.reshape(b, 1, -1).expand(b, length, -1))
    gathered = gathered.reshape(b, length, k, m, c).masked_fill(~valid[:, None], NEG)
    per_word = gathered.logsumexp(-1)                              # (B, L, K, M)
    padded = torch.cat([per_word, per_word.new_full((b, m, k, m), NEG)], dim=1)
    starts = per_word.new_zeros(b, length, k)                      # (B, L, K): phrase at start s
    for j in range(m):
        shifted = padded[:, j:j + length, :, j]
        starts = starts + torch.where(used[:, None, :, j], shifted, torch.zeros_like(shifted))
    per_keyword = over_positions(starts)                           # (B, K)
    present = used.any(-1)
    return torch.where(present, per_keyword, torch.zeros_like(per_keyword)).sum(-1)


def pack_targets(targets: Sequence[KeywordsTarget | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pad a batch of targets into the ``index``/``valid``/``used`` tensors of
    :func:`keyword_log_prob`: (B, K, M, C), (B, K, M, C), (B, K, M)."""
    rows = [t.ids if t is not None else () for t in targets]
    k = max((len(r) for r in rows), default=0) or 1
    m = max((len(p) for r in rows for p in r), default=0) or 1
    c = max((len(w) for r in rows for p in r for w in p), default=0) or 1
    index = torch.zeros(len(rows), k, m, c, dtype=torch.long)
    valid = torch.zeros(len(rows), k, m, c, dtype=torch.bool)
    for b, row in enumerate(rows):
        for kk, phrase in enumerate(row):
            for j, word_ids in enumerate(phrase):
                index[b, kk, j, :len(word_ids)] = torch.tensor(word_ids)
                valid[b, kk, j, :len(word_ids)] = True
    return index, valid, valid.any(-1)
