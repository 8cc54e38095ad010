"""Model directories: ``config.json`` + ``vocab.json`` + ``model.safetensors`` (EMA weights used for
sampling), optional ``train_state.pt`` (for ``--resume``) and ``controls/`` (classifiers).
Every file is written atomically (temporary file + ``os.replace``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from dlmctl.errors import ModelError
from dlmctl.model import Denoiser, DiffusionLM, ModelConfig
from dlmctl.vocab import Vocabulary

FORMAT_VERSION = 1
CONFIG, VOCAB, WEIGHTS, TRAIN_STATE = "config.json", "vocab.json", "model.safetensors", "train_state.pt"
_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write(path: Path, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` and move the result over ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def save_tensors(path: Path, tensors: dict[str, torch.Tensor], metadata: dict[str, str] | None = None) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    atomic_write(path, lambda tmp: save_file(tensors, tmp, metadata=metadata))


def save_model(model_dir: Path, denoiser_state: dict[str, torch.Tensor], cfg: ModelConfig,
               vocab: Vocabulary, meta: dict[str, Any], dtype: torch.dtype = torch.float32) -> None:
    """Write the sampling files of a model directory (weights last, so a complete config/vocab
    always describes the weights beside it)."""
    model_dir = Path(model_dir)
    atomic_write_text(model_dir / VOCAB, json.dumps(vocab.words, ensure_ascii=False))
    config = {"format_version": FORMAT_VERSION, "model": cfg.to_dict(), **meta}
    atomic_write_text(model_dir / CONFIG, json.dumps(config, indent=2, ensure_ascii=False))
    save_tensors(model_dir / WEIGHTS, {k: v.to(dtype) for k, v in denoiser_state.items()})


def _how_to_make(model_dir: Path) -> str:
    return f"train one with `dlmctl train --data CORPUS.csv --out {model_dir}`"


def read_config(model_dir: Path) -> dict[str, Any]:
    path = Path(model_dir) / CONFIG
    if Path(model_dir).is_file():
        raise ModelError(f"{model_dir} is a file; expected a model directory (config.json, vocab.json, "
                         "model.safetensors)")
    if not Path(model_dir).is_dir():
        raise ModelError(f"model directory {model_dir} does not exist; {_how_to_make(model_dir)}")
    if not path.is_file():
        raise ModelError(f"{path} is missing: {model_dir} is not a dlmctl model; {_how_to_make(model_dir)}")
    try:
        config = json.loads(path.read_text())
        version = config["format_version"]
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is corrupt ({exc}); {_how_to_make(model_dir)}") from None
    if not isinstance(version, int) or not isinstance(config.get("model"), dict):
        raise ModelError(f"{path} is corrupt: expected a whole-number \"format_version\" and a \"model\" object; "
                         f"{_how_to_make(model_dir)}")
    if version > FORMAT_VERSION:
        raise ModelError(f"{path} has format version {version}; this dlmctl reads up to {FORMAT_VERSION}: upgrade dlmctl")
    return config


def load_model(model_dir: str | Path, device: str | torch.device = "cpu") -> DiffusionLM:
    """Load a model directory for sampling; every problem names the file and the fix."""
    model_dir = Path(model_dir)
    config = read_config(model_dir)
    vocab_path, weights_path = model_dir / VOCAB, model_dir / WEIGHTS
    for p in (vocab_path, weights_path):
        if not p.is_file():
            raise ModelError(f"{p} is missing; {_how_to_make(model_dir)}")
    try:
        vocab = Vocabulary.load(vocab_path)
    except (json.JSONDecodeError, ValueError, TypeError, AttributeError) as exc:
        raise ModelError(f"{vocab_path} is corrupt ({exc}); {_how_to_make(model_dir)}") from None
    try:
        cfg = ModelConfig.from_dict(config["model"])
    except TypeError as exc:
        raise ModelError(f"{model_dir / CONFIG} is corrupt ({exc}); {_how_to_make(model_dir)}") from None
    if cfg.problem():
        raise ModelError(f"{model_dir / CONFIG} is corrupt: {cfg.problem()}; {_how_to_make(model_dir)}")
    try:
        state = load_file(str(weights_path))
        denoiser = Denoiser(cfg)
        denoiser.load_state_dict({k: v.float() for k, v in state.items()})
    except (SafetensorError, RuntimeError, KeyError, TypeError, OSError) as exc:
        raise ModelError(f"{weights_path} is corrupt or does not match {model_dir / CONFIG} ({str(exc)[:200]}); "
                         f"{_how_to_make(model_dir)}") from None
    if len(vocab) != cfg.vocab_size:
        raise ModelError(f"{vocab_path} has {len(vocab)} words but the model expects {cfg.vocab_size}")
    meta = {k: v for k, v in config.items() if k != "model"}
    return DiffusionLM(denoiser, vocab, model_dir, meta).to(device)
