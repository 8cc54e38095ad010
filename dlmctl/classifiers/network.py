"""The network of a noisy-latent classifier: a small Transformer encoder that reads latents x_t
(B, L, d) in the model's *frozen* embedding space and the step t, followed by a task head that each
control supplies (per-position tags, a span chart, field values). Every head returns logits
(B, …, C) whose leading shape matches the labels (B, …); label ``IGNORE`` marks items that carry no
loss."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlmctl.configs import from_known_fields
from dlmctl.model import DiffusionLM, timestep_embedding

IGNORE = -100


@dataclass
class EncoderConfig:
    embed_dim: int
    seq_len: int
    diffusion_steps: int
    hidden: int = 64
    layers: int = 2
    heads: int = 4

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "EncoderConfig":
        return from_known_fields(cls, data)


class LatentEncoder(nn.Module):
    """x_t (B, L, d), t (B,) model-time indices → contextual states (B, L, H)."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.input = nn.Linear(cfg.embed_dim, h)
        self.position = nn.Embedding(cfg.seq_len, h)
        self.time = nn.Sequential(nn.Linear(h, 2 * h), nn.SiLU(), nn.Linear(2 * h, h))
        layer = nn.TransformerEncoderLayer(h, cfg.heads, 4 * h, 0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(h)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        time = self.time(timestep_embedding(t * 1000.0 / self.cfg.diffusion_steps, self.cfg.hidden))
        pos = self.position(torch.arange(x.shape[1], device=x.device))
        return self.norm(self.encoder(self.input(x) + pos[None] + time[:, None]))


class LatentClassifier(nn.Module):
    """Encoder + a control's head: (x_t, t) → logits (B, …, C)."""

    def __init__(self, cfg: EncoderConfig, head: nn.Module):
        super().__init__()
        self.encoder = LatentEncoder(cfg)
        self.head = head

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return self.head(self.encoder(x, t))


def encoder_config(model: DiffusionLM, **overrides: Any) -> EncoderConfig:
    cfg = model.config
    return EncoderConfig(embed_dim=cfg.embed_dim, seq_len=cfg.seq_len, diffusion_steps=cfg.diffusion_steps,
                         **{k: v for k, v in overrides.items() if v is not None})


def param_count(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def log_softmax_at(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Σ of log-softmax(logits)[label] over every labelled item of each row → (B,).
    logits (B, …, C), labels (B, …) with IGNORE for items that do not count."""
    logp = torch.log_softmax(logits, -1)
    mask = labels != IGNORE
    picked = logp.gather(-1, labels.clamp(min=0).unsqueeze(-1)).squeeze(-1)
    return (picked * mask).reshape(len(labels), -1).sum(-1)
