"""Choosing one sentence among several samples: minimum Bayes risk, or the model's own score."""

from __future__ import annotations

from typing import Sequence

import torch
from sacrebleu.metrics import BLEU

from dlmctl.model import DiffusionLM

_BLEU = BLEU(effective_order=True)


def mbr_index(texts: Sequence[str]) -> int:
    """Index of the text with the highest mean sentence BLEU against all the others
    (minimum Bayes risk under BLEU, the samples standing in for the model's distribution)."""
    if len(texts) == 1:
        return 0
    means = [sum(_BLEU.sentence_score(hyp, [ref]).score for j, ref in enumerate(texts) if j != i)
             for i, hyp in enumerate(texts)]
    return max(range(len(texts)), key=means.__getitem__)


@torch.no_grad()
def denoising_loss(model: DiffusionLM, ids: torch.Tensor, points: int = 8, seed: int = 0) -> torch.Tensor:
    """(B,) x0-reconstruction error ‖f(x_t, t) − EMB(w)‖² of word ids (B, L), averaged over the
    non-PAD positions and ``points`` noise levels spread over the chain, the same noise for every
    row; lower when the model finds the sentence likely. (Averaging over PAD positions too would
    favour short sentences: PAD is easy to predict.)"""
    diffusion = model.diffusion
    ids = ids.to(model.device)
    x0 = model.embeddings[ids]                                          # (B, L, d)
    words = (ids != model.vocab.pad).float()                            # (B, L)
    generator = torch.Generator().manual_seed(seed)
    total = torch.zeros(ids.shape, device=x0.device)
    for step in torch.linspace(0, diffusion.num_steps - 1, points).round().long():
        noise = torch.randn(x0.shape[1:], generator=generator).to(x0.device).expand_as(x0)
        idx = torch.full((ids.shape[0],), int(step), device=x0.device)
        x_t = diffusion.q_sample(x0, idx, noise)
        total += ((model.denoiser.estimate(x_t, idx) - x0) ** 2).mean(-1)
    return (total * words).sum(1) / (points * words.sum(1))
