"""Classifiers on noisy latents, shared by the classifier-guided controls (docs/method.md).

A :class:`LatentClassifier` is a small Transformer encoder that reads latents x_t (B, L, d) in the
model's *frozen* embedding space and the step t, followed by a task head that each control supplies
(per-position tags, a span chart, field values). It is trained on
``x_t = q_sample(EMB(w) + σ0·ε, t)`` for t uniform over the model times of the 200-step sampling
chain, plus clean inputs ``EMB(w)`` at t = 0, with labels from an annotator. Every head returns
logits (B, …, C) whose leading shape matches the labels (B, …); label ``IGNORE`` marks items that
carry no loss.

Classifiers live beside the model in ``<model_dir>/controls/<name>.safetensors`` (fp16 weights)
and ``<name>.json`` (architecture, head settings, label tables, annotator backend, metrics).
"""

from __future__ import annotations

import json
import time
import weakref
from abc import abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from dlmctl.checkpoint import atomic_write_text, save_tensors
from dlmctl.configs import from_known_fields
from dlmctl.control import Control
from dlmctl.data import load_texts
from dlmctl.errors import ModelError, UsageError
from dlmctl.loop import LoopConfig, is_main_process, run_loop
from dlmctl.model import DiffusionLM, timestep_embedding
from dlmctl.vocab import detokenize, tokenize

IGNORE = -100
CONTROLS_DIR = "controls"
DEFAULT_LR = 2e-3
SAMPLING_STEPS = 200      # the chain the classifiers are trained for (the paper's control setting)
CLEAN = -1                # noise-level key of clean inputs in the metrics


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


# -- noisy training inputs --------------------------------------------------------------------

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


# -- training ---------------------------------------------------------------------------------

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


# -- files ------------------------------------------------------------------------------------

def classifier_paths(model_dir: Path, name: str) -> tuple[Path, Path]:
    base = Path(model_dir) / CONTROLS_DIR
    return base / f"{name}.safetensors", base / f"{name}.json"


def save_classifier(model: DiffusionLM, model_dir: Path, name: str, net: LatentClassifier,
                    meta: dict[str, Any]) -> Path:
    """Write ``controls/<name>.safetensors`` (fp16) then ``<name>.json`` (its description, with
    the fingerprint of the embeddings it reads); only rank 0 writes under ``torchrun``."""
    weights, info = classifier_paths(model_dir, name)
    if not is_main_process():
        return weights
    save_tensors(weights, {k: v.half() for k, v in net.state_dict().items()})
    record = {"format_version": 1, "encoder": asdict(net.encoder.cfg),
              "model_embeddings": embedding_digest(model), "parameters": param_count(net), **meta}
    atomic_write_text(info, json.dumps(record, indent=2, ensure_ascii=False))
    return weights


def load_classifier(model: DiffusionLM, name: str, control: str,
                    build_head: Callable[[dict[str, Any]], nn.Module]) -> tuple[LatentClassifier, dict[str, Any]]:
    """Load ``controls/<name>.*`` of ``model`` (fp32, eval mode, gradients off) and its metadata;
    ``build_head(meta)`` makes the head the weights belong to."""
    model_dir = model.model_dir
    fix = f"run `dlmctl train-control {control} --model {model_dir}`"
    if model_dir is None:
        raise ModelError(f"no classifier for control '{control}': the model has no directory; {fix}")
    weights, info = classifier_paths(model_dir, name)
    if not weights.is_file() or not info.is_file():
        raise ModelError(f"no classifier for control '{control}' in {model_dir}: {fix}")
    try:
        meta = json.loads(info.read_text())
        net = LatentClassifier(EncoderConfig.from_dict(meta["encoder"]), build_head(meta))
        net.load_state_dict({k: v.float() for k, v in load_file(str(weights)).items()})
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError, OSError) as exc:
        raise ModelError(f"classifier {weights} is corrupt or does not match {info} "
                         f"({str(exc)[:200]}); {fix}") from None
    if meta["encoder"].get("embed_dim") != model.config.embed_dim or not same_embeddings(
            meta.get("model_embeddings", ""), embedding_digest(model)):
        raise ModelError(f"classifier {weights} was trained for other embeddings than {model_dir}'s; {fix}")
    net.to(model.device).eval().requires_grad_(False)
    return net, meta


def embedding_digest(model: DiffusionLM) -> str:
    """A short fingerprint of the frozen embeddings a classifier was trained on."""
    emb = model.embeddings.detach().double().cpu()
    return f"{emb.sum().item():.6e}:{(emb ** 2).sum().item():.6e}:{emb.shape[0]}x{emb.shape[1]}"


def same_embeddings(digest: str, other: str, tolerance: float = 1e-4) -> bool:
    """Whether two :func:`embedding_digest` fingerprints describe the same embeddings, up to the
    float rounding an EMA of frozen weights adds (~1e-6); any training step changes far more."""
    try:
        (s1, q1, shape1), (s2, q2, shape2) = digest.split(":"), other.split(":")
        s1, q1, s2, q2 = map(float, (s1, q1, s2, q2))
    except ValueError:
        return False
    return shape1 == shape2 and abs(q1 - q2) <= tolerance * q2 and abs(s1 - s2) <= tolerance * q2


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



class ClassifierControl(Control):
    """A control guided by a noisy-latent classifier stored as ``controls/<classifier_name>.*``.
    Subclasses implement :meth:`build_head` (the head for saved metadata) and ``train``."""

    needs_classifier = True
    #: file name of the classifier under ``controls/`` (controls may share one)
    classifier_name: ClassVar[str]

    def __init__(self) -> None:
        self._loaded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @abstractmethod
    def build_head(self, meta: dict[str, Any]) -> nn.Module:
        """The head whose weights ``controls/<classifier_name>.safetensors`` holds, from its json."""

    def classifier(self, model: DiffusionLM) -> tuple[LatentClassifier, dict[str, Any]]:
        """The model's classifier for this control and its metadata (loaded once per model)."""
        if model not in self._loaded:
            self._loaded[model] = load_classifier(model, self.classifier_name, self.name, self.build_head)
        return self._loaded[model]

    def warm_start(self, model: DiffusionLM, annotator: str | None = None) -> tuple[LatentClassifier, dict[str, Any]]:
        """A trainable copy of the model's saved classifier for this control and its metadata, to
        continue training from (``dlmctl train-control --warm-start``); its labels must come from
        the same ``annotator``."""
        net, meta = load_classifier(model, self.classifier_name, self.name, self.build_head)
        if annotator is not None and meta.get("annotator") != annotator:
            raise UsageError(f"the saved '{self.name}' classifier learnt {meta.get('annotator')}'s labels, not "
                             f"{annotator}'s: train without --warm-start, or pick that annotator")
        return net.train().requires_grad_(True), meta

    def forget(self, model: DiffusionLM) -> None:
        """Drop the cached classifier of ``model`` (after retraining it)."""
        self._loaded.pop(model, None)
