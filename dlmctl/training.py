"""Training the Diffusion-LM (DESIGN §1): the three-term loss, AdamW with linear decay, EMA,
atomic periodic checkpoints, exact resume, and DistributedDataParallel under ``torchrun``.

Every global batch (its sentences, timesteps and noise) is a pure function of (seed, step), and each
rank takes an equal slice of it: one process and N processes therefore follow the same trajectory,
and ``--resume`` continues exactly where the last checkpoint left off.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from dlmctl.checkpoint import TRAIN_STATE, atomic_write, save_model
from dlmctl.diffusion import Diffusion
from dlmctl.errors import UsageError
from dlmctl.model import Denoiser, ModelConfig
from dlmctl.progress import progress_bar
from dlmctl.vocab import Vocabulary


@dataclass
class TrainConfig:
    steps: int = 10000
    batch_size: int = 64
    lr: float = 1e-4
    warmup: int = 0
    weight_decay: float = 0.0
    ema: float = 0.9999
    grad_clip: float = 1.0
    seed: int = 0
    save_every: int = 1000
    eval_every: int = 1000
    compile: bool = False
    freeze_embeddings: bool = False  # keep word embeddings fixed (classifiers trained on them stay valid)


@dataclass
class DistInfo:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group when launched by ``torchrun`` (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size())


def global_batch(num_items: int, batch_size: int, step: int, seed: int) -> torch.Tensor:
    """Indices (batch_size,) of the global batch at ``step``: epochs of seeded permutations."""
    per_epoch = max(num_items // batch_size, 1)
    epoch, pos = divmod(step, per_epoch)
    gen = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(num_items, generator=gen)
    if num_items < batch_size:  # tiny corpora: repeat the permutation
        perm = perm.repeat(math.ceil(batch_size / num_items))
    return perm[pos * batch_size:(pos + 1) * batch_size]


def batch_noise(batch_size: int, seq_len: int, dim: int, num_steps: int, step: int, seed: int):
    """Timesteps (B,), the two noises (B, L, d) and the self-conditioning rows (B,) bool (half of
    them) of the global batch at ``step``."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + step + 1)
    t = torch.randint(0, num_steps, (batch_size,), generator=gen)
    n0 = torch.randn(batch_size, seq_len, dim, generator=gen)
    n = torch.randn(batch_size, seq_len, dim, generator=gen)
    return t, n0, n, torch.rand(batch_size, generator=gen) < 0.5


def diffusion_loss(denoiser: nn.Module, emb: nn.Embedding, diffusion: Diffusion, ids: torch.Tensor,
                   t: torch.Tensor, noise0: torch.Tensor, noise: torch.Tensor,
                   self_cond: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Per-sentence loss terms (each (B,)): ‖f(x_t,t) − x0‖² (target EMB(w) at t=0),
    CE(rounding(x0), w) and ‖√ᾱ_T·x0‖²; ``loss`` is their sum. ids (B, L).

    ``self_cond`` (B,) bool marks the rows whose prediction reads a first, gradient-free estimate of
    x0 (self-conditioning); None for a denoiser without it."""
    mean = emb(ids)                                              # (B, L, d)
    x0 = mean + diffusion.sqrt_1m_ac[0].item() * noise0          # noisy x0 (σ0 of the first step)
    xt = diffusion.q_sample(x0, t, noise)
    x0_prev = None
    if self_cond is not None:
        with torch.no_grad():
            x0_prev = torch.where(self_cond[:, None, None], denoiser(xt, t), 0.0)
    pred = denoiser(xt, t, x0_prev)
    mse = torch.where(t == 0, ((pred - mean) ** 2).mean((1, 2)), ((pred - x0) ** 2).mean((1, 2)))
    logits = x0 @ emb.weight.T
    nll = nn.functional.cross_entropy(logits.transpose(1, 2), ids, reduction="none").mean(1)
    prior = ((diffusion.sqrt_ac[-1].item() * x0) ** 2).mean((1, 2))
    return {"loss": mse + nll + prior, "mse": mse, "nll": nll, "prior": prior}


@torch.no_grad()
def evaluate(denoiser: Denoiser, diffusion: Diffusion, ids: torch.Tensor, batch_size: int = 256,
             seed: int = 1234) -> dict[str, float]:
    """Held-out loss terms and rounding accuracy (argmax of the rounding head on x̂0 at t uniform)."""
    denoiser.eval()
    totals: dict[str, float] = {}
    correct = count = 0
    device = denoiser.embed.weight.device
    gen = torch.Generator().manual_seed(seed)
    for start in range(0, len(ids), batch_size):
        chunk = ids[start:start + batch_size].to(device)
        b, length, d = chunk.shape[0], chunk.shape[1], denoiser.cfg.embed_dim
        t = torch.randint(0, diffusion.num_steps, (b,), generator=gen).to(device)
        n0, n = (torch.randn(b, length, d, generator=gen).to(device) for _ in range(2))
        self_cond = torch.ones(b, dtype=torch.bool, device=device) if denoiser.cfg.self_condition else None
        terms = diffusion_loss(denoiser, denoiser.embed, diffusion, chunk, t, n0, n, self_cond)
        for k, v in terms.items():
            totals[k] = totals.get(k, 0.0) + v.sum().item()
        x0_hat = denoiser.estimate(diffusion.q_sample(denoiser.embed(chunk), t, n), t)
        correct += (denoiser.logits(x0_hat).argmax(-1) == chunk).sum().item()
        count += chunk.numel()
    denoiser.train()
    out = {k: v / len(ids) for k, v in totals.items()}
    out["rounding_acc"] = correct / max(count, 1)
    return out


class EMA:
    """Exponential moving average of parameters, with the usual warm-up of the decay."""

    def __init__(self, model: nn.Module, decay: float):
        self.decay = decay
        self.state = {k: v.detach().clone().float() for k, v in model.state_dict().items()}

    @torch.no_grad()
    def update(self, model: nn.Module, step: int) -> None:
        """Average the trainable parameters; frozen ones keep their exact values."""
        decay = min(self.decay, (1 + step) / (10 + step))
        for k, v in model.named_parameters():
            if v.requires_grad:
                self.state[k].mul_(decay).add_(v.detach().float(), alpha=1 - decay)


@torch.no_grad()
def warm_start(denoiser: Denoiser, state: dict[str, torch.Tensor]) -> None:
    """Copy a trained model's weights into ``denoiser``. The one shape allowed to differ is the input
    layer when self-conditioning is added: its new x̂0_prev inputs start at zero, so the warm-started
    network computes exactly what the trained one did."""
    own = denoiser.state_dict()
    for name, value in state.items():
        if name not in own:
            raise UsageError(f"--init-from: the trained model has a weight '{name}' this model lacks")
        target = own[name]
        if value.shape == target.shape:
            target.copy_(value)
        elif name == "input_up.0.weight" and value.shape[0] == target.shape[0] and value.shape[1] < target.shape[1]:
            target.zero_()
            target[:, :value.shape[1]] = value
        else:
            raise UsageError(f"--init-from: weight '{name}' has shape {tuple(value.shape)}, this model needs "
                             f"{tuple(target.shape)} (only --self-condition may differ)")


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    def factor(step: int) -> float:
        if cfg.warmup and step < cfg.warmup:
            return (step + 1) / cfg.warmup
        return max(0.0, 1 - step / cfg.steps)
    return factor


def train(train_ids: torch.Tensor, vocab: Vocabulary, out_dir: Path, model_cfg: ModelConfig,
          cfg: TrainConfig, device: torch.device, *, valid_ids: torch.Tensor | None = None,
          resume: bool = False, init_state: dict[str, torch.Tensor] | None = None,
          meta: dict[str, Any] | None = None, show_progress: bool = True,
          on_eval: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Train (or resume) a model in ``out_dir``; returns the final metrics.

    :param train_ids: (N, L) encoded sentences (:meth:`Vocabulary.encode_batch`).
    :param init_state: weights of a trained model to start from (:func:`warm_start`).
    """
    info = init_distributed(device)
    if cfg.batch_size % info.world:
        raise UsageError(f"--batch-size {cfg.batch_size} must be divisible by the {info.world} processes")
    torch.manual_seed(cfg.seed)
    denoiser = Denoiser(model_cfg)
    if init_state is not None:
        warm_start(denoiser, init_state)
    denoiser.to(device)
    diffusion = Diffusion.sqrt(model_cfg.diffusion_steps)
    optimizer = torch.optim.AdamW(denoiser.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda(cfg))
    ema = EMA(denoiser, cfg.ema)
    step = 0
    state_path = Path(out_dir) / TRAIN_STATE
    if resume:
        if not state_path.is_file():
            raise UsageError(f"cannot resume: {state_path} does not exist (start without --resume)")
        state = torch.load(state_path, map_location=device, weights_only=True)
        denoiser.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        ema.state = {k: v.to(device) for k, v in state["ema"].items()}
        step = int(state["step"])
    if cfg.freeze_embeddings:
        denoiser.embed.weight.requires_grad_(False)
        ema.state["embed.weight"] = denoiser.embed.weight.detach().clone().float()
    model: nn.Module = denoiser
    if info.world > 1:
        model = nn.parallel.DistributedDataParallel(denoiser, device_ids=[device.index] if device.type == "cuda" else None)
    forward = torch.compile(model) if cfg.compile else model
    use_bf16 = device.type == "cuda"
    local = cfg.batch_size // info.world
    lo, hi = info.rank * local, (info.rank + 1) * local
    meta = dict(meta or {})

    def checkpoint(metrics: dict | None = None) -> None:
        if not info.is_main:
            return
        record = {**meta, "training": {**asdict(cfg), "steps_done": step, "world_size": info.world,
                                       **({"valid": metrics} if metrics else {})}}
        state = {"step": step, "model": denoiser.state_dict(), "ema": ema.state,
                 "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
        atomic_write(state_path, lambda tmp: torch.save(state, tmp))
        save_model(Path(out_dir), ema.state, model_cfg, vocab, record)

    def run_eval() -> dict | None:
        if valid_ids is None or not info.is_main:
            return None
        ema_model = Denoiser(model_cfg).to(device)
        ema_model.load_state_dict(ema.state)
        metrics = evaluate(ema_model, diffusion, valid_ids)
        if on_eval:
            on_eval(step, metrics)
        return metrics

    denoiser.train()
    metrics: dict | None = None
    started, first_step = time.monotonic(), step
    try:
        with progress_bar("training", cfg.steps, enabled=show_progress and info.is_main) as bar:
            bar.advance(step)
            while step < cfg.steps:
                idx = global_batch(len(train_ids), cfg.batch_size, step, cfg.seed)
                t, n0, n, sc = batch_noise(cfg.batch_size, model_cfg.seq_len, model_cfg.embed_dim,
                                           model_cfg.diffusion_steps, step, cfg.seed)
                ids = train_ids[idx][lo:hi].to(device)
                self_cond = sc[lo:hi].to(device) if model_cfg.self_condition else None
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                    terms = diffusion_loss(forward, denoiser.embed, diffusion, ids, t[lo:hi].to(device),
                                           n0[lo:hi].to(device), n[lo:hi].to(device), self_cond)
                loss = terms["loss"].float().mean()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(denoiser.parameters(), cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                ema.update(denoiser, step)
                rate = (step - first_step) / max(time.monotonic() - started, 1e-9)
                bar.advance(1, loss=loss.item(), nll=terms["nll"].float().mean().item(), **{"steps/s": rate})
                if step % cfg.eval_every == 0 and step < cfg.steps:
                    metrics = run_eval()
                if step % cfg.save_every == 0 or step == cfg.steps:
                    if step == cfg.steps:
                        metrics = run_eval()
                    checkpoint(metrics)
    except KeyboardInterrupt:
        checkpoint(metrics)
        raise
    return {"steps": step, "valid": metrics, "seconds": time.monotonic() - started}
