"""How alike generated sentences are: same-target overlap and distinct-n.

Texts are space-separated words (as ``dlmctl generate`` writes them). Different people describing
one E2E meaning overlap by about 0.2 in word bigrams; five copies of one sentence overlap by 1.
"""

from __future__ import annotations

from itertools import combinations
from statistics import fmean
from typing import Iterable, Sequence


def ngrams(text: str, n: int = 2) -> list[tuple[str, ...]]:
    """The word n-grams of ``text`` in order (lower-cased)."""
    words = text.lower().split()
    return [tuple(words[i:i + n]) for i in range(len(words) - n + 1)]


def bigram_jaccard(a: str, b: str) -> float:
    """|A ∩ B| / |A ∪ B| of the two texts' word-bigram sets; 1 for two empty texts."""
    return jaccard(set(ngrams(a)), set(ngrams(b)))


def jaccard(first: set, second: set) -> float:
    """|A ∩ B| / |A ∪ B| of two sets; 1 for two empty sets."""
    union = len(first | second)
    return len(first & second) / union if union else 1.0


def group_overlap(texts: Sequence[str]) -> float | None:
    """Mean pairwise :func:`bigram_jaccard` of the texts of one target (None below two texts)."""
    pairs = [bigram_jaccard(a, b) for a, b in combinations(texts, 2)]
    return fmean(pairs) if pairs else None


def same_target_overlap(groups: Iterable[Sequence[str]]) -> float | None:
    """Mean over targets of :func:`group_overlap`: how alike the samples of one target are."""
    values = [v for v in (group_overlap(g) for g in groups) if v is not None]
    return fmean(values) if values else None


def distinct_n(texts: Iterable[str], n: int = 2) -> float:
    """Distinct word n-grams / all word n-grams over ``texts`` (0 when there are none)."""
    grams = [g for text in texts for g in ngrams(text, n)]
    return len(set(grams)) / len(grams) if grams else 0.0
