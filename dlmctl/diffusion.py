"""Gaussian diffusion over word embeddings: the sqrt schedule, q(x_t | x0), the posterior and
respacing to fewer sampling steps (docs/method.md). All tensors are float64 tables indexed by step."""

from __future__ import annotations

import math

import torch


def sqrt_alpha_bar(tau: float) -> float:
    """ᾱ(τ) = 1 − √(τ + 0.0001), τ ∈ [0, 1]."""
    return 1.0 - math.sqrt(tau + 0.0001)


def sqrt_schedule_betas(num_steps: int) -> torch.Tensor:
    """β_i = min(1 − ᾱ((i+1)/T) / ᾱ(i/T), 0.999), shape (T,)."""
    betas = [min(1 - sqrt_alpha_bar((i + 1) / num_steps) / sqrt_alpha_bar(i / num_steps), 0.999)
             for i in range(num_steps)]
    return torch.tensor(betas, dtype=torch.float64)


class Diffusion:
    """Noise tables for a chain of steps; ``timesteps[i]`` is the model-time index of chain step i
    (the identity for the training chain, a subset after :meth:`respaced`)."""

    def __init__(self, betas: torch.Tensor, timesteps: torch.Tensor | None = None):
        self.betas = betas
        self.num_steps = len(betas)
        self.timesteps = timesteps if timesteps is not None else torch.arange(self.num_steps)
        self.alphas_cumprod = torch.cumprod(1 - betas, 0)
        prev = torch.cat([torch.ones(1, dtype=torch.float64), self.alphas_cumprod[:-1]])
        self.sqrt_ac = self.alphas_cumprod.sqrt()
        self.sqrt_1m_ac = (1 - self.alphas_cumprod).sqrt()
        self.posterior_var = betas * (1 - prev) / (1 - self.alphas_cumprod)
        # the first posterior variance is 0; clip its log as improved-diffusion does (a chain of one
        # step has no second variance to clip to: its β, never used, as the last step adds no noise)
        first = self.posterior_var[1:2] if self.num_steps > 1 else betas[:1]
        self.posterior_log_var = torch.log(torch.cat([first, self.posterior_var[1:]]))
        self.coef_x0 = betas * prev.sqrt() / (1 - self.alphas_cumprod)
        self.coef_xt = (1 - prev) * (1 - betas).sqrt() / (1 - self.alphas_cumprod)

    @classmethod
    def sqrt(cls, num_steps: int) -> "Diffusion":
        return cls(sqrt_schedule_betas(num_steps))

    def respaced(self, steps: int) -> "Diffusion":
        """A chain of ``steps`` evenly strided steps with the same ᾱ at the kept steps."""
        if not 1 <= steps <= self.num_steps:
            raise ValueError(f"steps must be in 1..{self.num_steps}")
        return self.subset(sorted({round(i * (self.num_steps - 1) / max(steps - 1, 1)) for i in range(steps)}))

    def subset(self, keep: list[int]) -> "Diffusion":
        """A chain of the steps ``keep`` of this one (ascending, from 0) with the same ᾱ at each."""
        last, betas = 1.0, []
        for i in keep:
            betas.append(1 - self.alphas_cumprod[i].item() / last)
            last = self.alphas_cumprod[i].item()
        return Diffusion(torch.tensor(betas, dtype=torch.float64), self.timesteps[keep])

    @staticmethod
    def _at(table: torch.Tensor, idx: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """table[idx] shaped (B, 1, 1) in ``like``'s dtype/device."""
        return table.to(like.device)[idx.to(like.device)].to(like.dtype).view(-1, *([1] * (like.dim() - 1)))

    def q_sample(self, x0: torch.Tensor, idx: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        """x_t = √ᾱ_t x0 + √(1−ᾱ_t) ε; ``idx`` (B,) chain indices, x0/noise (B, L, d)."""
        return self._at(self.sqrt_ac, idx, x0) * x0 + self._at(self.sqrt_1m_ac, idx, x0) * noise

    def posterior(self, x0: torch.Tensor, xt: torch.Tensor, idx: torch.Tensor):
        """Mean and std of q(x_{t−1} | x_t, x0), each broadcastable to (B, L, d)."""
        mean = self._at(self.coef_x0, idx, xt) * x0 + self._at(self.coef_xt, idx, xt) * xt
        std = torch.exp(0.5 * self._at(self.posterior_log_var, idx, xt))
        return mean, std

    def model_time(self, idx: torch.Tensor) -> torch.Tensor:
        """Model-time step indices (B,) for chain indices (B,)."""
        return self.timesteps.to(idx.device)[idx]
