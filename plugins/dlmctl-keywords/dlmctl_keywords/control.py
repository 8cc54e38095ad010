"""The ``keywords`` control: the sentence must contain every given word or phrase.

Target: comma-separated keywords, each a word or a phrase (``keywords="riverside, coffee shop"``).
Matching ignores case: a keyword stands for every vocabulary word equal to it up to case.

Guidance (no classifier): at every clamping step the model's word scores say how likely each
position is to hold each word, log p(w at s). A phrase of m words starts at s with
log p_s = Σ_j log p(w_j at s+j); each keyword is *held* at its most plausible start of that step,
one keyword after another on positions still free, by a word bias the clamp cannot refuse
(:func:`dlmctl.biases.hold_phrases`). The keyword moves while the sentence forms and the
model writes the rest around it; every sample contains every keyword.

``benchmarks/keywords.py`` compares this with the gradient terms the control used before (a soft
maximum over starts of the same log-probabilities, on the latents): held keywords are always there
and read grammatical more often (docs/benchmarks.md).

Oracle: 1.0 when every keyword occurs in the text (as consecutive words, ignoring case), else 0.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dlmctl.control import Control, Guidance
from dlmctl.errors import TargetError
from dlmctl.vocab import tokenize


@dataclass(frozen=True)
class KeywordsTarget:
    """Parsed keywords: ``phrases[k]`` are keyword k's words (lower case) and ``ids[k][j]`` the
    vocabulary ids of every case variant of word j."""

    phrases: tuple[tuple[str, ...], ...]
    ids: tuple[tuple[tuple[int, ...], ...], ...]


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
    default_weight = None   # held by a word bias: no gradient term, no λ
    # every candidate holds its keywords, so the choice is for fluency alone: chosen from 8, they read
    # grammatical far more often than from 4 (docs/benchmarks.md, session 37)
    default_candidates = 8

    def parse_target(self, text: str, model) -> KeywordsTarget:
        items = [item.strip() for item in text.split(",") if item.strip()]
        if not items:
            raise TargetError(f"no keywords in '{text}'; expected {self.target_help}")
        from dlmctl.biases import case_variants

        variants = case_variants(model.vocab)
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

    def guidance(self, model, targets: Sequence[KeywordsTarget | None]) -> Guidance:
        from dlmctl.biases import hold
        from dlmctl_keywords.terms import target_phrases

        return Guidance(word_bias=hold(target_phrases(targets), model.device))

    def score(self, text: str, target: KeywordsTarget) -> float:
        words = [w.lower() for w in tokenize(text)]
        return float(all(contains_phrase(words, phrase) for phrase in target.phrases))
