"""The model's own judgement of finished sentences: a denoising loss that ranks samples, used to
keep the best of several candidates (``dlmctl generate --candidates``, ``dlmctl infill
--candidates``)."""

from __future__ import annotations

import torch

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


def best_of(model: DiffusionLM, ids: torch.Tensor, candidates: int,
            target_log_prob: torch.Tensor | None = None,
            classifier_first: torch.Tensor | None = None) -> torch.Tensor:
    """(N,) row indices into ids (N·candidates, L), whose consecutive groups of ``candidates`` rows
    are samples for one output: in each group, the row with the lowest :func:`denoising_loss`.

    With ``target_log_prob`` (N·candidates,), how likely the controls' classifiers find each row
    meets its targets, the row with the best sum of its two ranks in the group (by loss, by target
    log p) wins, ties to the lower loss: a candidate must be both fluent and on target. Groups
    marked in ``classifier_first`` (N,) bool are ranked by target log p alone, ties to the lower loss."""
    loss = denoising_loss(model, ids).view(-1, candidates)
    key = ranks(loss)
    if target_log_prob is not None:
        on_target = ranks(-target_log_prob.to(loss.device).view(-1, candidates))
        if classifier_first is not None:
            on_target = torch.where(classifier_first.to(loss.device)[:, None], on_target * candidates, on_target)
        key = (key + on_target) * candidates + ranks(loss)
    return key.argmin(1) + torch.arange(0, len(ids), candidates, device=loss.device)


def ranks(values: torch.Tensor) -> torch.Tensor:
    """(G, C) → (G, C): how many entries of the same row are smaller (0 = best; ties share a rank)."""
    return (values[:, None, :] < values[:, :, None]).sum(-1)
