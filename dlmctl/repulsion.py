"""Samples of one request pushed apart while their words form (particle guidance, Corso et al.,
2023): drawn independently, the candidates of one target fall into the same mode of the model and
come out as near copies of each other (docs/method.md, "Samples that differ")."""

from __future__ import annotations

import math

import torch


def repulsion(x0: torch.Tensor, groups: torch.Tensor) -> torch.Tensor:
    """(B, L, d) push on each row of the x̂0 estimates ``x0`` (B, L, d) away from the other rows of
    its group (``groups`` (B,) ids; a row alone in its group gets 0).

    Row i moves by Σ_j k_ij (x̂0_i − x̂0_j) / (m_i − 1) over the m_i − 1 other rows j of its group,
    with the RBF kernel k_ij = exp(−‖x̂0_i − x̂0_j‖² / h): the descent direction of the kernel sum
    Σ_j k_ij (up to the factor 2 / h): rows about the kernel's width apart push each other most,
    rows far beyond it hardly at all. h is the median squared distance between rows of one group
    over log(m + 1), m the largest group (the median heuristic: it keeps the push's size
    independent of the noise level)."""
    flat = x0.flatten(1)
    others = (groups[:, None] == groups[None, :]) & ~torch.eye(len(groups), dtype=torch.bool, device=x0.device)
    if not others.any():
        return torch.zeros_like(x0)
    squared = torch.cdist(flat, flat) ** 2
    largest = int(others.sum(1).max()) + 1
    bandwidth = squared[others].median() / math.log(largest + 1) + torch.finfo(x0.dtype).tiny
    kernel = torch.exp(-squared / bandwidth) * others
    push = kernel.sum(1, keepdim=True) * flat - kernel @ flat
    return (push / others.sum(1, keepdim=True).clamp(min=1)).view_as(x0)
