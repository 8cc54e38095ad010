"""Choosing among finished candidates: the model's own denoising loss, ranks that combine it with
the controls' classifiers and the teacher's fluency, and a pick that keeps samples of one target
apart (``dlmctl generate --candidates``, ``dlmctl infill --candidates``)."""

from __future__ import annotations

from typing import Sequence

import torch

from dlmctl.diversity import jaccard, ngrams
from dlmctl.fluency import fluent
from dlmctl.model import DiffusionLM


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
    return (total * words).sum(1) / (points * words.sum(1).clamp(min=1))


def selection_keys(loss: torch.Tensor, on_target: torch.Tensor | None = None, classifier_first: bool = False,
                   fluency: torch.Tensor | None = None, fluent_first: bool = True,
                   flawed: torch.Tensor | None = None) -> torch.Tensor:
    """(P,) ranking keys of one pool of P candidates, lower is better.

    Each measure ranks the pool: ``loss`` (P,) the model's :func:`denoising_loss`; ``on_target``
    (P,) how likely the controls' classifiers find each candidate meets its targets (higher is
    better); ``fluency`` (P,) the teacher's per-sentence score (:func:`dlmctl.fluency.sentence_scores`,
    higher is worse). The key is the sum of the ranks, with the classifier's rank counting P times
    over when ``classifier_first``; ties go to the lower loss. With ``fluent_first``, every candidate
    the teacher finds fluent (:func:`dlmctl.fluency.fluent`) comes before every one it does not, and
    within each of those groups every candidate without flaws (``flawed`` (P,) bool,
    :func:`dlmctl.critique.sentence_flaws`) before every one with (read blind, a fluent sentence with
    a flaw is still grammatical more often than one the teacher does not find fluent)."""
    size = len(loss)
    total = rank(loss)
    if on_target is not None:
        total = total + rank(-on_target) * (size if classifier_first else 1)
    if fluency is not None:
        total = total + rank(fluency)
    keys = total * size + rank(loss)
    if flawed is not None and fluent_first:
        keys = keys + flawed.long() * (keys.max() + 1)
    if fluency is not None and fluent_first:
        keys = keys + (~fluent(fluency)).long() * (keys.max() + 1)
    return keys


def pick_distinct(order: list[int], texts: list[str], keep: int, max_overlap: float,
                  avoid: Sequence[str] = ()) -> list[int]:
    """``keep`` entries of ``order`` (candidate indices, best first): in turn, each candidate whose
    word-bigram overlap (:func:`dlmctl.diversity.bigram_jaccard`) with every one already kept, and
    with every text of ``avoid`` (samples kept before), is at most ``max_overlap``; when too few are
    left, the ones least like those. Each candidate's closest overlap so far is kept up to date as
    samples are kept, so choosing k of n compares each candidate once with each kept sample."""
    grams = {c: set(ngrams(texts[c])) for c in order}
    avoided = [set(ngrams(text)) for text in avoid]
    closeness = {c: max([jaccard(grams[c], other) for other in avoided], default=0.0) for c in order}
    kept: list[int] = []
    rest = list(order)
    while len(kept) < keep and rest:
        fresh = next((i for i, c in enumerate(rest) if closeness[c] <= max_overlap), None)
        chosen = rest.pop(fresh if fresh is not None else min(range(len(rest)), key=lambda i: closeness[rest[i]]))
        kept.append(chosen)
        for c in rest:
            closeness[c] = max(closeness[c], jaccard(grams[c], grams[chosen]))
    return kept


def rank(values: torch.Tensor) -> torch.Tensor:
    """(P,) → (P,): how many entries are smaller (0 = best; ties share a rank)."""
    return (values[None, :] < values[:, None]).sum(-1)
