"""Choosing one sentence among several samples by minimum Bayes risk (the model's own score is
:func:`dlmctl.rerank.denoising_loss`)."""

from __future__ import annotations

from typing import Sequence

from sacrebleu.metrics import BLEU


_BLEU = BLEU(effective_order=True)


def mbr_order(texts: Sequence[str]) -> list[int]:
    """Indices of the texts, highest mean sentence BLEU against all the others first (minimum
    Bayes risk under BLEU, the samples standing in for the model's distribution; ties keep order)."""
    if len(texts) == 1:
        return [0]
    means = [sum(_BLEU.sentence_score(hyp, [ref]).score for j, ref in enumerate(texts) if j != i)
             for i, hyp in enumerate(texts)]
    return sorted(range(len(texts)), key=lambda i: -means[i])


def mbr_index(texts: Sequence[str]) -> int:
    """Index of the consensus text: the first of :func:`mbr_order`."""
    return mbr_order(texts)[0]
