"""Running the teacher LM on input states rather than word ids, for the baselines that move its
inputs by gradient (PPLM's perturbed prefix, DELOREAN's soft blank)."""

from __future__ import annotations

import torch
from torch import nn

from dlmctl.teacher import TeacherLM


def input_states(net: TeacherLM, ids: torch.Tensor) -> torch.Tensor:
    """Word plus position embeddings (B, T, H) of ids (B, T)."""
    return with_positions(net, net.embed(ids))


def with_positions(net: TeacherLM, inputs: torch.Tensor) -> torch.Tensor:
    """Input states (B, T, H) plus the teacher's position embeddings."""
    return inputs + net.position(torch.arange(inputs.shape[1], device=inputs.device))[None]


def causal_states(net: TeacherLM, inputs: torch.Tensor) -> torch.Tensor:
    """Final normalised states (B, T, H) of the teacher run on input states (B, T, H)."""
    length = inputs.shape[1]
    mask = nn.Transformer.generate_square_subsequent_mask(length, device=inputs.device)
    return net.norm(net.blocks(inputs, mask=mask, is_causal=True))
