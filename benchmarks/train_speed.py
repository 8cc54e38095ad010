"""Seconds per training step of denoiser shapes on this machine: what a CPU-hour buys at each size.

Each shape runs a few optimiser steps of the real loss (batch 64, the E2E vocabulary size, sequence
length 48, d = 16, self-conditioning, frozen embeddings, as the bundled model trains) after warm-up
steps that are not timed.

    OMP_NUM_THREADS=1 python benchmarks/train_speed.py [--shapes 128x4x4 192x6x6 256x6x4] [--threads 1]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from dlmctl.diffusion import Diffusion
from dlmctl.model import Denoiser, ModelConfig
from dlmctl.training import diffusion_loss


def seconds_per_step(hidden: int, layers: int, heads: int, steps: int, warmup: int = 2) -> tuple[float, int]:
    """Mean wall seconds of ``steps`` timed optimiser steps, and the parameter count."""
    cfg = ModelConfig(vocab_size=746, seq_len=48, embed_dim=16, hidden=hidden, layers=layers, heads=heads,
                      self_condition=True)
    net = Denoiser(cfg)
    net.embed.weight.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in net.parameters() if p.requires_grad], lr=1e-4)
    diffusion = Diffusion.sqrt(cfg.diffusion_steps)
    ids = torch.randint(0, cfg.vocab_size, (64, cfg.seq_len))
    times = []
    for step in range(warmup + steps):
        started = time.perf_counter()
        t = torch.randint(0, cfg.diffusion_steps, (64,))
        noise0, noise = torch.randn(64, cfg.seq_len, 16), torch.randn(64, cfg.seq_len, 16)
        loss = diffusion_loss(net, net.embed, diffusion, ids, t, noise0, noise, torch.rand(64) < 0.5)["loss"].mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step >= warmup:
            times.append(time.perf_counter() - started)
    return sum(times) / len(times), sum(p.numel() for p in net.parameters())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shapes", nargs="+", default=["128x4x4", "192x6x6", "256x6x4", "256x8x8", "384x6x6"],
                        help="HIDDENxLAYERSxHEADS")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    for shape in args.shapes:
        hidden, layers, heads = map(int, shape.split("x"))
        seconds, parameters = seconds_per_step(hidden, layers, heads, args.steps)
        print(json.dumps({"shape": shape, "parameters": parameters, "seconds_per_step": round(seconds, 3),
                          "steps_per_cpu_hour": round(3600 / seconds)}), flush=True)


if __name__ == "__main__":
    main()
