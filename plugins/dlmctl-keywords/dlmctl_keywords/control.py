"""The ``keywords`` control: the sentence must contain every given word or phrase.

Target: comma-separated keywords, each a word or a phrase (``keywords="riverside, coffee shop"``).
Matching ignores case: a keyword stands for every vocabulary word equal to it up to case.

Guidance (no classifier): the rounding head of the diffusion model says how likely each position of
the latents x is to round to each word, log p(w at s | x) = log_softmax(x Eᵀ)[s, w]. A phrase of m
words holds at start s with log p_s = Σ_j log p(w_j at s+j | x); "the phrase is somewhere" is the
soft maximum over starts, and keywords combine as a sum::

    log p(keywords | x) = Σ_k logsumexp_s Σ_j log p(w_kj at s+j | x)

``benchmarks/keywords.py`` chose this term and λ by measurement: it reaches all keywords most often
of the cheap terms. Its cost is repetition (it grows with every extra copy, so samples often repeat
a keyword); a noisy-or over positions (log(1 − Π_s(1 − p_s))) repeats far less but succeeds less
often, and the same term on the denoiser's x̂0 costs about 6× more per sample.

Oracle: 1.0 when every keyword occurs in the text (as consecutive words, ignoring case), else 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from dlmctl.control import Control, Guidance
from dlmctl.errors import TargetError
from dlmctl.vocab import tokenize

#: stands for log 0 in masked entries; finite, so that gradients through masked rows stay finite
NEG = -1e9


@dataclass(frozen=True)
class KeywordsTarget:
    """Parsed keywords: ``phrases[k]`` are keyword k's words (lower case) and ``ids[k][j]`` the
    vocabulary ids of every case variant of word j."""

    phrases: tuple[tuple[str, ...], ...]
    ids: tuple[tuple[tuple[int, ...], ...], ...]


def _case_variants(vocab) -> dict[str, tuple[int, ...]]:
    """Lower-cased word → ids of every vocabulary word with that spelling up to case."""
    variants: dict[str, list[int]] = {}
    for i, word in enumerate(vocab.words):
        variants.setdefault(word.lower(), []).append(i)
    return {w: tuple(ids) for w, ids in variants.items()}


def contains_phrase(words: Sequence[str], phrase: Sequence[str]) -> bool:
    """Whether ``phrase`` occurs as consecutive items of ``words`` (both already lower case)."""
    m = len(phrase)
    return any(tuple(words[s:s + m]) == tuple(phrase) for s in range(len(words) - m + 1))


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


class KeywordsControl(Control):
    name = "keywords"
    description = "the sentence contains every given word or phrase (case-insensitive)"
    target_help = ('comma-separated words or phrases from the model vocabulary, '
                   'e.g. keywords="riverside, cheap"')
    default_weight = 0.01

    def parse_target(self, text: str, model) -> KeywordsTarget:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise TargetError(f"no keywords in '{text}'; expected {self.target_help}")
        variants = _case_variants(model.vocab)
        phrases = tuple(tuple(w.lower() for w in tokenize(item)) for item in items)
        unknown = sorted({w for phrase in phrases for w in phrase if w not in variants})
        if unknown:
            listed = ", ".join(f"'{w}'" for w in unknown)
            raise TargetError(f"not in the model's vocabulary of {len(model.vocab)} words: {listed}; "
                              f"expected {self.target_help}")
        words = sum(len(p) for p in phrases)
        room = model.config.seq_len - 2
        if words > room:
            raise TargetError(f"{words} keyword words do not fit in a sentence of at most {room} words")
        ids = tuple(tuple(variants[w] for w in phrase) for phrase in phrases)
        return KeywordsTarget(phrases, ids)

    def word_log_probs(self, model, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """log p(word at position | x): the rounding head on the latents, (B, L, d) → (B, L, V)."""
        return torch.log_softmax(model.denoiser.logits(x), dim=-1)

    def over_positions(self, starts: torch.Tensor) -> torch.Tensor:
        """(B, L, K) log p(keyword k starts at s) → (B, K) log p(keyword k occurs)."""
        return soft_max_over_positions(starts)

    def guidance(self, model, targets: Sequence[KeywordsTarget | None]) -> Guidance:
        index, valid, used = (tensor.to(model.device) for tensor in pack_targets(targets))

        def log_prob(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return keyword_log_prob(self.word_log_probs(model, x, t), index, valid, used, self.over_positions)

        return Guidance(log_prob=log_prob)

    def score(self, text: str, target: KeywordsTarget) -> float:
        words = [w.lower() for w in tokenize(text)]
        return float(all(contains_phrase(words, phrase) for phrase in target.phrases))
