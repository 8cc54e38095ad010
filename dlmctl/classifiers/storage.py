"""Where classifiers live: beside the model in ``<model_dir>/controls/<name>.safetensors`` (fp16
weights) and ``<name>.json`` (architecture, head settings, label tables, annotator backend, metrics,
and a fingerprint of the embeddings it reads)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable

from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from dlmctl.checkpoint import atomic_write_text, save_tensors
from dlmctl.classifiers.network import EncoderConfig, LatentClassifier, param_count
from dlmctl.errors import ModelError
from dlmctl.loop import is_main_process
from dlmctl.model import DiffusionLM

CONTROLS_DIR = "controls"


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
