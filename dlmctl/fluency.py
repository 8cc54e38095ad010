"""A per-sentence fluency score that sees single words: the teacher LM's surprisal at the least likely
token of a sentence.

A corpus-mean lm-score hides a broken sentence among fluent ones; one word the teacher finds very
unlikely ("It is is", "a English", a name cut off before its end) does not hide. A sentence counts as
*fluent* when its worst token's NLL is at most a threshold (nats); ``dlmctl evaluate`` reports the
share of fluent samples beside that of human references.
"""

from __future__ import annotations

from typing import Sequence

import torch

from dlmctl import defaults
from dlmctl.teacher import Teacher

#: Worst-token NLL (nats) at or below which a sentence counts as fluent: 6 means every token has a
#: probability of at least e^-6 ≈ 1/400 (chosen against the blind readings, docs/evaluation.md)
DEFAULT_THRESHOLD = defaults.FLUENCY_THRESHOLD


def sentence_scores(teacher: Teacher, sentences: Sequence[Sequence[str]]) -> torch.Tensor:
    """(N,) NLL of each sentence's least likely token under ``teacher`` (words and END), the
    sentences given as words (:func:`dlmctl.vocab.tokenize`); higher is worse."""
    rows = teacher.word_nlls(sentences)
    return torch.stack([row.max() for row in rows]) if rows else torch.zeros(0)


def fluent(scores: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> torch.Tensor:
    """(N,) bool: which :func:`sentence_scores` count as fluent."""
    return scores <= threshold
