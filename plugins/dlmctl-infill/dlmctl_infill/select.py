"""Choosing one sentence among several samples by minimum Bayes risk (the model's own score is
:func:`dlmctl.rerank.denoising_loss`)."""

from __future__ import annotations

from typing import Sequence

from sacrebleu.metrics import BLEU


_BLEU = BLEU(effective_order=True)


def mbr_index(texts: Sequence[str]) -> int:
    """Index of the text with the highest mean sentence BLEU against all the others
    (minimum Bayes risk under BLEU, the samples standing in for the model's distribution)."""
    if len(texts) == 1:
        return 0
    means = [sum(_BLEU.sentence_score(hyp, [ref]).score for j, ref in enumerate(texts) if j != i)
             for i, hyp in enumerate(texts)]
    return max(range(len(texts)), key=means.__getitem__)
