"""The keywords control's terms, in tensors (see :mod:`dlmctl_keywords.control`): where a phrase
may start, the word bias that holds every keyword at its most plausible start, and the
log-probability that the keywords occur (the gradient term ``benchmarks/keywords.py`` compares)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

if TYPE_CHECKING:
    from dlmctl_keywords.control import KeywordsTarget

#: stands for log 0 in masked entries; finite, so that gradients through masked rows stay finite
NEG = -1e9
#: the score a held keyword word gets: far above any word score, so the clamp always takes it
HOLD = 1e4


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
    per_keyword = over_positions(phrase_starts(word_log_probs, index, valid, used))   # (B, K)
    present = used.any(-1)
    return torch.where(present, per_keyword, torch.zeros_like(per_keyword)).sum(-1)


def phrase_starts(word_log_probs: torch.Tensor, index: torch.Tensor, valid: torch.Tensor,
                  used: torch.Tensor) -> torch.Tensor:
    """(B, L, K) log p(keyword k starts at position s): Σ_j logsumexp_variants log p(w_kj at s+j),
    NEG-like where the phrase would run past the end (arguments as :func:`keyword_log_prob`)."""
    b, length, _ = word_log_probs.shape
    _, k, m, c = index.shape
    gathered = word_log_probs.gather(2, index.reshape(b, 1, -1).expand(b, length, -1))
    gathered = gathered.reshape(b, length, k, m, c).masked_fill(~valid[:, None], NEG)
    per_word = gathered.logsumexp(-1)                              # (B, L, K, M)
    padded = torch.cat([per_word, per_word.new_full((b, m, k, m), NEG)], dim=1)
    starts = per_word.new_zeros(b, length, k)
    for j in range(m):
        shifted = padded[:, j:j + length, :, j]
        starts = starts + torch.where(used[:, None, :, j], shifted, torch.zeros_like(shifted))
    return starts


def placement_bias(scores: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, used: torch.Tensor,
                   strength: float) -> torch.Tensor:
    """(B, L, V) scores that hold every keyword where the model finds it most plausible now.

    From the model's word scores (B, L, V) at one clamping step, keyword by keyword (in target
    order), the start s whose phrase log p (:func:`phrase_starts`) is highest among the starts
    whose words do not cover a position an earlier keyword holds; each of its words gets
    ``strength`` on its likeliest case variant at s + j. Rows without keywords get 0."""
    b, length, _ = scores.shape
    log_probs = scores.float().log_softmax(-1)
    starts = phrase_starts(log_probs, index, valid, used)         # (B, L, K)
    per_word = log_probs.gather(2, index.reshape(b, 1, -1).expand(b, length, -1))
    per_word = per_word.reshape(b, length, *index.shape[1:]).masked_fill(~valid[:, None], NEG)   # (B, L, K, M, C)
    bias = torch.zeros_like(scores)
    widths = used.sum(-1).tolist()                                 # (B, K) words per keyword
    for row in range(b):
        held = torch.zeros(length, dtype=torch.bool, device=scores.device)
        for k, width in enumerate(widths[row]):
            if width == 0:
                continue
            free = torch.stack([~held.roll(-j) for j in range(width)]).all(0)   # no word on a held position
            free[length - width + 1:] = False
            s = int(starts[row, :, k].masked_fill(~free, float("-inf")).argmax())
            for j in range(width):
                variant = int(per_word[row, s + j, k, j].argmax())
                bias[row, s + j, index[row, k, j, variant]] = strength
            held[s:s + width] = True
    return bias


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
