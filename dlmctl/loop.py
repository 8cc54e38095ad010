"""The one optimisation loop behind ``dlmctl train`` and ``dlmctl train-control``: AdamW with linear
warm-up and decay, gradient clipping, an optional EMA of the weights, DistributedDataParallel under
``torchrun`` (gloo on CPU, nccl on CUDA), bf16 autocast on CUDA, a progress bar, atomic periodic
checkpoints and exact resume.

Callers describe one step as ``batch_loss(net, step, rows)``: the mean loss of global batch ``step``
restricted to the ``rows`` slice this process owns, where the global batch is a pure function of
(seed, step). One process and N processes therefore follow the same trajectory, and a resumed run
continues exactly where its last checkpoint left off.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.distributed as dist
from torch import nn

from dlmctl.checkpoint import atomic_write
from dlmctl.errors import ModelError, UsageError
from dlmctl.progress import progress_bar

#: (net, step, rows) → (mean loss over the rows, extra figures for the progress bar)
BatchLoss = Callable[[nn.Module, int, slice], tuple[torch.Tensor, dict[str, float]]]
Weights = dict[str, torch.Tensor]


@dataclass
class LoopConfig:
    steps: int
    batch_size: int               # global batch, split evenly over the processes
    lr: float
    warmup: int = 0
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ema: float | None = None      # EMA decay of the weights handed to ``save``; None: the raw weights
    save_every: int = 1000
    eval_every: int = 0           # 0: evaluate only at the end
    compile: bool = False


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
        if device.type == "cuda":
            torch.cuda.set_device(device)      # NCCL collectives run on the current device
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size())


def is_main_process() -> bool:
    """False on every ``torchrun`` rank but 0 (files are written by rank 0 only)."""
    return not dist.is_initialized() or dist.get_rank() == 0


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


def lr_factor(cfg: LoopConfig) -> Callable[[int], float]:
    """Linear warm-up over ``cfg.warmup`` steps, then linear decay to 0 at ``cfg.steps``."""
    def factor(step: int) -> float:
        if cfg.warmup and step < cfg.warmup:
            return (step + 1) / cfg.warmup
        return max(0.0, 1 - step / cfg.steps)
    return factor


@dataclass
class LoopResult:
    steps: int
    metrics: dict | None
    seconds: float
    world_size: int


def restore(state_path: Path | None, device: torch.device, net: nn.Module, optimizer: torch.optim.Optimizer,
            scheduler: torch.optim.lr_scheduler.LRScheduler, ema: "EMA | None") -> int:
    """Load a saved training state into the network, optimiser, scheduler and EMA; the step it had reached."""
    if state_path is None or not state_path.is_file():
        raise UsageError(f"cannot resume: {state_path} does not exist (start without --resume)")
    try:
        state = torch.load(state_path, map_location=device, weights_only=True)
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
    except (RuntimeError, KeyError, ValueError, OSError, EOFError) as exc:
        raise ModelError(f"{state_path} does not match this run's model ({str(exc)[:160]}); start again "
                         "without --resume (and with --overwrite)") from None
    if ema is not None:
        ema.state = {k: v.to(device) for k, v in state["ema"].items()}
    return int(state["step"])


def wrap(net: nn.Module, info: DistInfo, device: torch.device, compile: bool) -> nn.Module:
    """What the loop calls forward on: ``net``, under DDP when there are several processes, compiled
    when asked."""
    forward: nn.Module = net
    if info.world > 1:
        forward = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    return torch.compile(forward) if compile else forward


def run_loop(net: nn.Module, batch_loss: BatchLoss, cfg: LoopConfig, device: torch.device, *,
             state_path: Path | None = None, resume: bool = False,
             save: Callable[[int, Weights, dict | None], None] | None = None,
             evaluate: Callable[[int, Weights], dict] | None = None,
             label: str = "training", show_progress: bool = True) -> LoopResult:
    """Optimise ``net`` (already on ``device``; parameters with ``requires_grad=False`` stay fixed).

    Every ``cfg.save_every`` steps, at the end and on Ctrl-C, rank 0 writes the full training state to
    ``state_path`` (when given) and calls ``save(step, weights, metrics)`` with the EMA (or raw)
    weights; ``evaluate(step, weights)`` runs on rank 0 every ``cfg.eval_every`` steps and at the end.
    """
    info = init_distributed(device)
    if cfg.batch_size % info.world:
        raise UsageError(f"--batch-size {cfg.batch_size} must be divisible by the {info.world} processes")
    optimizer = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor(cfg))
    ema = EMA(net, cfg.ema) if cfg.ema is not None else None
    step = restore(state_path, device, net, optimizer, scheduler, ema) if resume else 0
    if ema is not None:  # frozen parameters: the EMA holds their exact current values
        for k, p in net.named_parameters():
            if not p.requires_grad:
                ema.state[k] = p.detach().clone().float()
    forward = wrap(net, info, device, cfg.compile)
    local = cfg.batch_size // info.world
    rows = slice(info.rank * local, (info.rank + 1) * local)
    trainable = [p for p in net.parameters() if p.requires_grad]

    def weights() -> Weights:
        return ema.state if ema is not None else {k: v.detach().float() for k, v in net.state_dict().items()}

    def checkpoint(metrics: dict | None) -> None:
        if not info.is_main:
            return
        if state_path is not None:
            state = {"step": step, "model": net.state_dict(), "ema": ema.state if ema is not None else None,
                     "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict()}
            atomic_write(state_path, lambda tmp: torch.save(state, tmp))
        if save is not None:
            save(step, weights(), metrics)

    def run_eval() -> dict | None:
        if evaluate is None or not info.is_main:
            return None
        metrics = evaluate(step, weights())
        net.train()
        return metrics

    net.train()
    metrics: dict | None = None
    started, first_step = time.monotonic(), step
    try:
        with progress_bar(label, cfg.steps, enabled=show_progress and info.is_main) as bar:
            bar.advance(step)
            while step < cfg.steps:
                with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
                    loss, figures = batch_loss(forward, step, rows)
                optimizer.zero_grad(set_to_none=True)
                loss.float().backward()
                if cfg.grad_clip:
                    nn.utils.clip_grad_norm_(trainable, cfg.grad_clip)
                optimizer.step()
                scheduler.step()
                step += 1
                if ema is not None:
                    ema.update(net, step)
                rate = (step - first_step) / max(time.monotonic() - started, 1e-9)
                bar.advance(1, loss=loss.item(), **figures, **{"steps/s": rate})
                if cfg.eval_every and step % cfg.eval_every == 0 and step < cfg.steps:
                    metrics = run_eval()
                if step % cfg.save_every == 0 or step == cfg.steps:
                    if step == cfg.steps:
                        metrics = run_eval()
                    checkpoint(metrics)
    except KeyboardInterrupt:
        checkpoint(metrics)
        raise
    return LoopResult(step, metrics, time.monotonic() - started, info.world)
