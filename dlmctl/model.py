"""The Diffusion-LM network: word embeddings, a Transformer denoiser that predicts x0, and the
rounding head tied to the embeddings (docs/method.md)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from dlmctl.configs import PREDICTIONS, from_known_fields
from dlmctl.diffusion import Diffusion
from dlmctl.vocab import Vocabulary


@dataclass
class ModelConfig:
    vocab_size: int
    seq_len: int = 64
    embed_dim: int = 16
    hidden: int = 256
    layers: int = 6
    heads: int = 4
    dropout: float = 0.1
    diffusion_steps: int = 2000
    self_condition: bool = False  # the denoiser also reads its previous estimate of x0 (Chen et al., 2022)
    predict: str = "embedding"    # what the network outputs: x̂0 itself, or "words" (x̂0 is their mean embedding)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        return from_known_fields(cls, data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def problem(self) -> str | None:
        """What makes these settings impossible to build (a field of the wrong type or range, a
        width the heads do not divide), or None."""
        for name in ("vocab_size", "seq_len", "embed_dim", "hidden", "layers", "heads", "diffusion_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                return f"'{name}' must be a whole number ≥ 1, got {value!r}"
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            return f"'dropout' must be a number in [0, 1), got {self.dropout!r}"
        if not isinstance(self.self_condition, bool):
            return f"'self_condition' must be true or false, got {self.self_condition!r}"
        if self.predict not in PREDICTIONS:
            return f"'predict' must be one of {', '.join(PREDICTIONS)}, got {self.predict!r}"
        if self.hidden % self.heads:
            return f"'hidden' ({self.hidden}) must be a multiple of 'heads' ({self.heads})"
        return None


def timestep_embedding(t: torch.Tensor, dim: int, max_period: float = 10000.0) -> torch.Tensor:
    """Sinusoidal embedding (B, dim) of (possibly fractional) timesteps t (B,)."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    args = t.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    return nn.functional.pad(emb, (0, dim % 2))


def nearest_word_scores(x: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """(B, L, V) scores 2·x·e − ‖e‖² of x (B, L, d) against embeddings (V, d): their argmax is the
    nearest word embedding (L2) of each position."""
    return 2 * x @ emb.T - (emb ** 2).sum(-1)


class Denoiser(nn.Module):
    """f_θ(x_t, t[, x̂0_prev]) → x̂0. x_t (B, L, d), t (B,) model-time indices → (B, L, d).

    With ``cfg.self_condition`` the network also reads an earlier estimate x̂0_prev (B, L, d) of the
    same sentence (zeros when there is none): training feeds it a first, gradient-free pass half of
    the time, sampling feeds it the previous step's estimate. With ``cfg.predict`` "words" the last
    layer gives word scores (B, L, V) and x̂0 is the embedding they average to (:meth:`predict`).
    Also owns the word embedding ``embed`` (V, d) and the tied rounding head :meth:`logits`.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        h = cfg.hidden
        self.embed = nn.Embedding(cfg.vocab_size, cfg.embed_dim)
        nn.init.normal_(self.embed.weight, std=1.0)
        inputs = cfg.embed_dim * (2 if cfg.self_condition else 1)
        self.input_up = nn.Sequential(nn.Linear(inputs, h), nn.Tanh(), nn.Linear(h, h))
        self.time_mlp = nn.Sequential(nn.Linear(h, 4 * h), nn.SiLU(), nn.Linear(4 * h, h))
        self.position = nn.Embedding(cfg.seq_len, h)
        self.norm = nn.LayerNorm(h)
        self.dropout = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(h, cfg.heads, 4 * h, cfg.dropout, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        outputs = cfg.vocab_size if cfg.predict == "words" else cfg.embed_dim
        self.output_down = nn.Sequential(nn.LayerNorm(h), nn.Linear(h, h), nn.Tanh(), nn.Linear(h, outputs))

    def forward(self, x: torch.Tensor, t: torch.Tensor, x0_prev: torch.Tensor | None = None,
                with_scores: bool = False) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """x̂0 (B, L, d); with ``with_scores``, also the word scores of :meth:`predict`."""
        if self.cfg.self_condition:
            x = torch.cat([x, torch.zeros_like(x) if x0_prev is None else x0_prev], dim=-1)
        time = self.time_mlp(timestep_embedding(t * 1000.0 / self.cfg.diffusion_steps, self.cfg.hidden))
        pos = self.position(torch.arange(x.shape[1], device=x.device))
        h = self.dropout(self.norm(self.input_up(x) + pos[None] + time[:, None]))
        out = self.output_down(self.encoder(h))
        emb = self.embed.weight
        if self.cfg.predict == "words":
            x0, scores = out.softmax(-1) @ emb, out
            return (x0, scores) if with_scores else x0
        return (out, nearest_word_scores(out, emb)) if with_scores else out

    def predict(self, x: torch.Tensor, t: torch.Tensor,
                x0_prev: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """x̂0 (B, L, d) and word scores (B, L, V) whose argmax is the word the clamping step takes:
        the network's own with ``predict`` "words" (x̂0 is their softmax's mean embedding), else the
        nearest word embedding (L2) to x̂0. Under DistributedDataParallel, call the wrapper with
        ``with_scores`` instead."""
        return self(x, t, x0_prev, with_scores=True)

    def estimate(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        """The best single estimate of x0 (B, L, d) from x_t alone: with self-conditioning, a second
        pass that reads the first."""
        x0 = self(x, t)
        return self(x, t, x0) if self.cfg.self_condition else x0

    def estimate_words(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`predict` from x_t alone (a second pass reading the first, if self-conditioned)."""
        return self.predict(x, t, self(x, t) if self.cfg.self_condition else None)

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Rounding head: (B, L, d) → (B, L, V) word scores, tied to the embeddings."""
        return x @ self.embed.weight.T


class DiffusionLM:
    """A loaded model: network (EMA weights), vocabulary, noise schedule and its directory.

    This is what controls receive; ``model_dir`` is where their classifiers live.
    """

    def __init__(self, denoiser: Denoiser, vocab: Vocabulary, model_dir: Path | None = None,
                 meta: dict[str, Any] | None = None):
        self.denoiser = denoiser.eval()
        self.vocab = vocab
        self.config = denoiser.cfg
        self.diffusion = Diffusion.sqrt(self.config.diffusion_steps)
        self.model_dir = model_dir
        self.meta = meta or {}

    @property
    def device(self) -> torch.device:
        return self.denoiser.embed.weight.device

    @property
    def embeddings(self) -> torch.Tensor:
        """(V, d) word embeddings."""
        return self.denoiser.embed.weight

    def to(self, device: torch.device | str) -> "DiffusionLM":
        self.denoiser.to(device)
        return self
