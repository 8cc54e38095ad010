"""Training a noisy-latent classifier: inputs ``x_t = q_sample(EMB(w) + σ0·ε, t)`` for t uniform
over the model times of the 200-step sampling chain, plus clean inputs ``EMB(w)`` at t = 0, with
labels from an annotator or the corpus; held-out accuracy by noise level."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from dlmctl.classifiers.network import IGNORE, LatentClassifier
from dlmctl.data import load_texts
from dlmctl.loop import LoopConfig, run_loop
from dlmctl.model import DiffusionLM
from dlmctl.vocab import detokenize, tokenize

DEFAULT_LR = 2e-3
SAMPLING_STEPS = 200      # the chain the classifiers are trained for (the paper's control setting)
CLEAN = -1                # noise-level key of clean inputs in the metrics


def noise_levels(model: DiffusionLM, steps: int = SAMPLING_STEPS) -> torch.Tensor:
    """Model-time indices (steps,) of the sampling chain the classifier must read."""
    return model.diffusion.respaced(min(steps, model.config.diffusion_steps)).timesteps


def noisy_latents(model: DiffusionLM, ids: torch.Tensor, t: torch.Tensor,
                  generator: torch.Generator) -> torch.Tensor:
    """x_t (B, L, d) of words ``ids`` (B, L) at model times ``t`` (B,); t = CLEAN gives EMB(w)."""
    diffusion = model.diffusion
    emb = model.embeddings.detach()[ids]
    shape = emb.shape
    x0 = emb + diffusion.sqrt_1m_ac[0].item() * torch.randn(shape, generator=generator).to(emb.device)
    clean = t == CLEAN
    xt = diffusion.q_sample(x0, t.clamp(min=0), torch.randn(shape, generator=generator).to(emb.device))
    return torch.where(clean[:, None, None], emb, xt)


def sample_times(levels: torch.Tensor, n: int, clean_fraction: float, generator: torch.Generator) -> torch.Tensor:
    """(n,) times: uniform over ``levels``, a ``clean_fraction`` of them CLEAN."""
    t = levels[torch.randint(0, len(levels), (n,), generator=generator)]
    return torch.where(torch.rand(n, generator=generator) < clean_fraction, torch.full_like(t, CLEAN), t)


def model_times(t: torch.Tensor) -> torch.Tensor:
    """The time fed to the network: CLEAN reads as step 0."""
    return t.clamp(min=0)


@dataclass
class TrainOptions:
    steps: int = 3000
    batch_size: int = 64
    lr: float | None = None   # None: DEFAULT_LR
    clean_fraction: float = 0.1
    valid_fraction: float = 0.05
    seed: int = 0   # also picks the held-out sentences: keep it when warm-starting
    #: a label that most items carry (chart "null", field "none"): accuracy is also reported
    #: without those items, as ``accuracy_labelled``
    background: int | None = None


def loss_and_correct(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int, int]:
    """Mean cross-entropy over labelled items, number correct, number labelled.
    logits (B, …, C), labels (B, …) with IGNORE for unlabelled items."""
    flat_logits, flat = logits.reshape(-1, logits.shape[-1]), labels.reshape(-1)
    loss = nn.functional.cross_entropy(flat_logits, flat, ignore_index=IGNORE)
    mask = flat != IGNORE
    correct = int((flat_logits.argmax(-1)[mask] == flat[mask]).sum())
    return loss, correct, int(mask.sum())


@torch.no_grad()
def accuracy_by_level(model: DiffusionLM, net: LatentClassifier, ids: torch.Tensor, labels: torch.Tensor,
                      levels: list[int], batch_size: int = 256, seed: int = 1) -> dict[int, float]:
    """Held-out accuracy at each model time in ``levels`` (CLEAN for clean inputs)."""
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for level in levels:
        correct = count = 0
        for start in range(0, len(ids), batch_size):
            chunk = ids[start:start + batch_size]
            t = torch.full((len(chunk),), level, dtype=torch.long)
            x = noisy_latents(model, chunk, t, gen)
            _, c, n = loss_and_correct(net(x, model_times(t)), labels[start:start + batch_size].long())
            correct, count = correct + c, count + n
        out[level] = correct / max(count, 1)
    net.train()
    return out


def report_levels(model: DiffusionLM, count: int = 5) -> list[int]:
    """CLEAN and ``count`` model times spread over the sampling chain, for held-out reports."""
    levels = noise_levels(model)
    picks = [levels[round(i * (len(levels) - 1) / (count - 1))].item() for i in range(count)]
    return [CLEAN, *dict.fromkeys(picks)]


def level_name(level: int) -> str:
    return "clean" if level == CLEAN else f"t={level}"


def train_classifier(model: DiffusionLM, net: LatentClassifier, ids: torch.Tensor, labels: torch.Tensor,
                     options: TrainOptions, show_progress: bool = True,
                     label: str = "training classifier") -> dict[str, Any]:
    """Train ``net`` on noisy latents of ``ids`` (N, L) with ``labels`` (N, …) on the shared loop of
    :mod:`dlmctl.loop` (so also under ``torchrun``); the model is frozen.
    Returns ``{"steps", "seconds", "train_sentences", "valid_sentences", "accuracy": {level: acc}}``
    (and ``"accuracy_labelled"`` when ``options.background`` is set)."""
    order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(options.seed))
    n_valid = max(1, int(len(ids) * options.valid_fraction))
    valid, train = order[:n_valid], order[n_valid:]
    levels = noise_levels(model)

    def batch_loss(forward: nn.Module, step: int, rows: slice) -> tuple[torch.Tensor, dict[str, float]]:
        gen = torch.Generator().manual_seed(options.seed * 1_000_003 + step + 1)
        batch = train[torch.randint(0, len(train), (options.batch_size,), generator=gen)]
        t = sample_times(levels, len(batch), options.clean_fraction, gen)
        x = noisy_latents(model, ids[batch], t, gen)[rows]
        loss, correct, count = loss_and_correct(forward(x, model_times(t[rows])), labels[batch][rows].long())
        return loss, {"acc": correct / max(count, 1)}

    started = time.monotonic()
    loop = LoopConfig(steps=options.steps, batch_size=options.batch_size, lr=options.lr or DEFAULT_LR, warmup=100,
                      weight_decay=0.01, save_every=options.steps)
    run_loop(net, batch_loss, loop, model.device, label=label, show_progress=show_progress)
    report = {"accuracy": labels[valid]}
    if options.background is not None:
        report["accuracy_labelled"] = labels[valid].masked_fill(labels[valid] == options.background, IGNORE)
    accuracy = {key: {level_name(k): round(v, 4) for k, v in
                      accuracy_by_level(model, net, ids[valid], held_out, report_levels(model)).items()}
                for key, held_out in report.items()}
    net.eval()
    return {"steps": options.steps, "seconds": round(time.monotonic() - started, 1),
            "train_sentences": len(train), "valid_sentences": n_valid, **accuracy}


def continued(metrics: dict[str, Any], start_meta: dict[str, Any] | None) -> dict[str, Any]:
    """``metrics`` of a training run, with ``earlier_steps`` (the steps the saved classifier it went
    on from had had) when it was warm-started from one (``start_meta``, that classifier's json)."""
    if start_meta is None:
        return metrics
    earlier = start_meta.get("metrics", {})
    return {**metrics, "earlier_steps": earlier.get("steps", 0) + earlier.get("earlier_steps", 0)}


def corpus_sentences(model: DiffusionLM, data: str, text_column: str = "human_reference",
                     limit: int | None = None) -> tuple[list[str], torch.Tensor]:
    """Texts of a corpus as space-separated words (what annotators read) and their ids (N, L)."""
    words = [tokenize(text) for text in load_texts(data, text_column)[:limit]]
    return [detokenize(w) for w in words], model.vocab.encode_batch(words, model.config.seq_len)
