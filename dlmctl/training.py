"""Training the Diffusion-LM (docs/method.md): the three-term loss with optional self-conditioning,
warm starts, held-out evaluation, on the shared loop of :mod:`dlmctl.loop` (AdamW, EMA, DDP under
``torchrun``, atomic checkpoints, exact resume).

Every global batch (its sentences, timesteps and noise) is a pure function of (seed, step), and each
rank takes an equal slice of it: one process and N processes therefore follow the same trajectory,
and ``--resume`` continues exactly where the last checkpoint left off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.distributed as dist
from torch import nn

from dlmctl.checkpoint import TRAIN_STATE, save_model
from dlmctl.configs import from_known_fields
from dlmctl.diffusion import Diffusion
from dlmctl.errors import UsageError
from dlmctl.loop import LoopConfig, run_loop
from dlmctl.model import Denoiser, ModelConfig
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


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


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
                   self_cond: torch.Tensor | None = None, words: bool = False) -> dict[str, torch.Tensor]:
    """Per-sentence loss terms (each (B,)): ‖f(x_t,t) − x0‖² (target EMB(w) at t=0),
    CE(rounding(x0), w) and ‖√ᾱ_T·x0‖², and with ``words`` (a denoiser that predicts words) the
    cross-entropy ``words`` of its word scores against w; ``loss`` is their sum. ids (B, L).

    ``self_cond`` (B,) bool marks the rows whose prediction reads a first, gradient-free estimate of
    x0 (self-conditioning); None for a denoiser without it."""
    mean = emb(ids)                                              # (B, L, d)
    x0 = mean + diffusion.sqrt_1m_ac[0].item() * noise0          # noisy x0 (σ0 of the first step)
    xt = diffusion.q_sample(x0, t, noise)
    x0_prev = None
    if self_cond is not None:
        with torch.no_grad():
            x0_prev = torch.where(self_cond[:, None, None], denoiser(xt, t), 0.0)
    pred, scores = denoiser(xt, t, x0_prev, with_scores=True) if words else (denoiser(xt, t, x0_prev), None)
    mse = torch.where(t == 0, ((pred - mean) ** 2).mean((1, 2)), ((pred - x0) ** 2).mean((1, 2)))
    logits = x0 @ emb.weight.T
    nll = nn.functional.cross_entropy(logits.transpose(1, 2), ids, reduction="none").mean(1)
    prior = ((diffusion.sqrt_ac[-1].item() * x0) ** 2).mean((1, 2))
    terms = {"mse": mse, "nll": nll, "prior": prior}
    if words:
        terms["words"] = nn.functional.cross_entropy(scores.transpose(1, 2), ids, reduction="none").mean(1)
    return {"loss": sum(terms.values()), **terms}


@torch.no_grad()
def evaluate(denoiser: Denoiser, diffusion: Diffusion, ids: torch.Tensor, batch_size: int = 256,
             seed: int = 1234) -> dict[str, float]:
    """Held-out loss terms and rounding accuracy at t uniform (argmax of the rounding head on x̂0,
    or of the word scores of a denoiser that predicts words).
    Runs in eval mode and leaves ``denoiser`` in the mode it came in."""
    was_training = denoiser.training
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
        terms = diffusion_loss(denoiser, denoiser.embed, diffusion, chunk, t, n0, n, self_cond,
                               denoiser.cfg.predict == "words")
        for k, v in terms.items():
            totals[k] = totals.get(k, 0.0) + v.sum().item()
        x0_hat, scores = denoiser.estimate_words(diffusion.q_sample(denoiser.embed(chunk), t, n), t)
        guess = scores if denoiser.cfg.predict == "words" else denoiser.logits(x0_hat)
        correct += (guess.argmax(-1) == chunk).sum().item()
        count += chunk.numel()
    denoiser.train(was_training)
    out = {k: v / len(ids) for k, v in totals.items()}
    out["rounding_acc"] = correct / max(count, 1)
    return out


@torch.no_grad()
def warm_start(denoiser: Denoiser, state: dict[str, torch.Tensor]) -> None:
    """Copy a trained model's weights into ``denoiser``. Two shapes may differ: the input layer when
    self-conditioning is added (its new x̂0_prev inputs start at zero, so the network computes exactly
    what the trained one did), and the last layer when a model that predicted x̂0 is to predict words
    (it starts as the trained x̂0's nearest-word scores, :func:`words_from_embedding_layer`). A
    ``denoiser`` with more transformer layers than the trained one gets them on top, each starting
    as the identity (its residual branches' output layers at zero), so it too computes exactly what
    the trained network did."""
    own = denoiser.state_dict()
    for name, target in own.items():
        if name not in state and name.startswith("encoder.layers.") and name.endswith(RESIDUAL_OUTPUTS):
            target.zero_()
    for name, value in state.items():
        if name not in own:
            raise UsageError(f"--init-from: the trained model has a weight '{name}' this model lacks")
        target = own[name]
        if value.shape == target.shape:
            target.copy_(value)
        elif name == "input_up.0.weight" and value.shape[0] == target.shape[0] and value.shape[1] < target.shape[1]:
            target.zero_()
            target[:, :value.shape[1]] = value
        elif name in WORD_LAYER and denoiser.cfg.predict == "words" and value.shape[0] == denoiser.cfg.embed_dim:
            target.copy_(words_from_embedding_layer(name, value, state["embed.weight"]))
        else:
            raise UsageError(f"--init-from: weight '{name}' has shape {tuple(value.shape)}, this model needs "
                             f"{tuple(target.shape)} (only --self-condition and --predict words may differ)")


#: the layers that end a transformer layer's two residual branches (attention, feed-forward): at zero,
#: a pre-norm layer passes its input through unchanged
RESIDUAL_OUTPUTS = ("self_attn.out_proj.weight", "self_attn.out_proj.bias", "linear2.weight", "linear2.bias")
#: the last layer's weight and bias, (d, H) and (d,) when predicting x̂0, (V, H) and (V,) for words
WORD_LAYER = ("output_down.3.weight", "output_down.3.bias")
#: scale of the nearest-word scores a word layer starts from (1: a softmax as sharp as the clamp)
WORD_SCORE_SCALE = 0.25


def words_from_embedding_layer(name: str, value: torch.Tensor, emb: torch.Tensor) -> torch.Tensor:
    """The word layer's weight (V, H) or bias (V,) whose scores are WORD_SCORE_SCALE × the
    nearest-word scores 2·e·x̂0 − ‖e‖² of the x̂0 that the trained layer ``value`` ((d, H) or (d,))
    computes, for embeddings ``emb`` (V, d)."""
    emb = emb.to(value.dtype)
    if name.endswith("weight"):
        return WORD_SCORE_SCALE * 2 * emb @ value
    return WORD_SCORE_SCALE * (2 * emb @ value - (emb ** 2).sum(-1))


def train(train_ids: torch.Tensor, vocab: Vocabulary, out_dir: Path, model_cfg: ModelConfig,
          cfg: TrainConfig, device: torch.device, *, valid_ids: torch.Tensor | None = None,
          resume: bool = False, init_state: dict[str, torch.Tensor] | None = None,
          meta: dict[str, Any] | None = None, show_progress: bool = True,
          on_eval: Callable[[int, dict], None] | None = None) -> dict[str, Any]:
    """Train (or resume) a model in ``out_dir``; returns the final metrics.

    :param train_ids: (N, L) encoded sentences (:meth:`Vocabulary.encode_batch`).
    :param init_state: weights of a trained model to start from (:func:`warm_start`).
    """
    torch.manual_seed(cfg.seed)
    denoiser = Denoiser(model_cfg)
    if init_state is not None:
        warm_start(denoiser, init_state)
    denoiser.to(device)
    if cfg.freeze_embeddings:
        denoiser.embed.weight.requires_grad_(False)
    diffusion = Diffusion.sqrt(model_cfg.diffusion_steps)

    def batch_loss(net: nn.Module, step: int, rows: slice) -> tuple[torch.Tensor, dict[str, float]]:
        idx = global_batch(len(train_ids), cfg.batch_size, step, cfg.seed)[rows]
        t, n0, n, sc = (x[rows].to(device) for x in batch_noise(
            cfg.batch_size, model_cfg.seq_len, model_cfg.embed_dim, model_cfg.diffusion_steps, step, cfg.seed))
        terms = diffusion_loss(net, denoiser.embed, diffusion, train_ids[idx].to(device), t, n0, n,
                               sc if model_cfg.self_condition else None, model_cfg.predict == "words")
        figures = {k: terms[k].float().mean().item() for k in ("nll", "words") if k in terms}
        return terms["loss"].float().mean(), figures

    def save(step: int, weights: dict[str, torch.Tensor], metrics: dict | None) -> None:
        record = {**(meta or {}), "training": {**asdict(cfg), "steps_done": step, "world_size": world_size(),
                                               **({"valid": metrics} if metrics else {})}}
        save_model(Path(out_dir), weights, model_cfg, vocab, record)

    def held_out(step: int, weights: dict[str, torch.Tensor]) -> dict:
        ema_model = Denoiser(model_cfg).to(device)
        ema_model.load_state_dict(weights)
        metrics = evaluate(ema_model, diffusion, valid_ids)
        if on_eval:
            on_eval(step, metrics)
        return metrics

    loop = from_known_fields(LoopConfig, asdict(cfg))
    result = run_loop(denoiser, batch_loss, loop, device, state_path=Path(out_dir) / TRAIN_STATE, resume=resume,
                      save=save, evaluate=held_out if valid_ids is not None else None, show_progress=show_progress)
    return {"steps": result.steps, "valid": result.metrics, "seconds": result.seconds}
