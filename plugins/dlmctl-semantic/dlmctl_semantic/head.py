"""The semantic classifier's head: the value of every E2E field a sentence expresses."""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn


class FieldHead(nn.Module):
    """States (B, L, H) → logits (B, F, V): features max-pooled over positions (a value is a
    phrase somewhere in the sentence), then one value layer per field; ``sizes[f]`` values are
    real, the other columns score −1e4."""

    def __init__(self, hidden: int, sizes: Sequence[int]):
        super().__init__()
        fields, values, width = len(sizes), max(sizes), 2 * hidden
        self.features = nn.Linear(hidden, width)
        self.weight = nn.Parameter(torch.randn(fields, width, values) / math.sqrt(width))
        self.bias = nn.Parameter(torch.zeros(fields, values))
        valid = torch.arange(values)[None] < torch.tensor(list(sizes))[:, None]
        self.register_buffer("valid", valid, persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        pooled = torch.relu(self.features(h).max(1).values)                      # (B, W)
        logits = torch.einsum("bw,fwv->bfv", pooled, self.weight) + self.bias
        return logits.masked_fill(~self.valid, -1e4)
