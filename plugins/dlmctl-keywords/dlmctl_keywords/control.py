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
from typing import TYPE_CHECKING, Sequence

from dlmctl.control import Control, Guidance
from dlmctl.errors import TargetError
from dlmctl.vocab import tokenize

if TYPE_CHECKING:
    import torch

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


class KeywordsControl(Control):
    name = "keywords"
    description = "the sentence contains every given word or phrase (case-insensitive)"
    target_help = ('comma-separated words or phrases from the model vocabulary, '
                   'e.g. keywords="riverside, cheap"')
    example_target = "riverside, cheap"
    # the bundled model, which predicts words, repairs gently steered latents back to its own sentence:
    # at 0.01 it kept every keyword half as often as the model before it (docs/benchmarks.md, session 36)
    default_weight = 1e-3
    # its gradient sits on the few positions that could hold a keyword: steps along it leave the
    # rest of the sentence alone (more fluent at the same success, docs/benchmarks.md)
    guidance_schedule = {"guide_norm": "sentence"}
    # chosen fluent first, its samples kept all their keywords far less often, and less still from
    # more candidates (docs/benchmarks.md, session 33)
    fluent_first = False

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
        import torch

        return torch.log_softmax(model.denoiser.logits(x), dim=-1)

    def over_positions(self, starts: torch.Tensor) -> torch.Tensor:
        """(B, L, K) log p(keyword k starts at s) → (B, K) log p(keyword k occurs)."""
        from dlmctl_keywords.terms import soft_max_over_positions

        return soft_max_over_positions(starts)

    def guidance(self, model, targets: Sequence[KeywordsTarget | None]) -> Guidance:
        from dlmctl_keywords.terms import keyword_log_prob, pack_targets

        index, valid, used = (tensor.to(model.device) for tensor in pack_targets(targets))

        def log_prob(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
            return keyword_log_prob(self.word_log_probs(model, x, t), index, valid, used, self.over_positions)

        return Guidance(log_prob=log_prob)

    def score(self, text: str, target: KeywordsTarget) -> float:
        words = [w.lower() for w in tokenize(text)]
        return float(all(contains_phrase(words, phrase) for phrase in target.phrases))
