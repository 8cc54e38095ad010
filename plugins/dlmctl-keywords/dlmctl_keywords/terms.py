"""The keywords control's terms, in tensors (see :mod:`dlmctl_keywords.control`): the batch's
keywords packed as phrases (:mod:`dlmctl.biases` holds them), and the log-probability that they
occur, the gradient term ``benchmarks/keywords.py`` compares with holding them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import torch

from dlmctl.biases import Phrase, pack_phrases, phrase_starts

if TYPE_CHECKING:
    from dlmctl_keywords.control import KeywordsTarget


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


def target_phrases(targets: Sequence[KeywordsTarget | None]) -> list[Sequence[Phrase]]:
    """The keyword phrases of each target of a batch (none for a row without target), as
    :mod:`dlmctl.biases` takes them."""
    return [t.ids if t is not None else () for t in targets]


def pack_targets(targets: Sequence[KeywordsTarget | None]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The keywords of a batch of targets as :func:`dlmctl.biases.pack_phrases` packs them:
    ``index``/``valid`` (B, K, M, C), ``used`` (B, K, M)."""
    return pack_phrases(target_phrases(targets))
