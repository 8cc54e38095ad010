"""Pytest fixtures for dlmctl and its plugins: ``pytest_plugins = ["dlmctl.testing"]`` in a
conftest.py gives ``e2e_dir``, ``small_corpus``, ``tiny_model_dir`` and ``tiny_model``.

The corpus is the E2E sample shipped in the checkout's ``tests/data/e2e/`` (600 training and 100
held-out rows, CC BY-SA 4.0), or ``$DLMCTL_E2E_DIR``; tests that need it are skipped with the reason
when neither is there (e.g. an installed dlmctl without its repository)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
import torch

from dlmctl.corpus import prepare
from dlmctl.model import ModelConfig
from dlmctl.training import TrainConfig, train

E2E_SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "e2e"
E2E_DIR = Path(os.environ.get("DLMCTL_E2E_DIR", E2E_SAMPLE))
TINY_MODEL = dict(seq_len=32, embed_dim=16, hidden=64, layers=2, heads=4, dropout=0.0)


@pytest.fixture(scope="session")
def e2e_dir() -> Path:
    if not (E2E_DIR / "train.csv").is_file():
        pytest.skip(f"E2E corpus not found at {E2E_DIR} (set DLMCTL_E2E_DIR)")
    return E2E_DIR


@pytest.fixture(scope="session")
def small_corpus(e2e_dir, tmp_path_factory) -> Path:
    """The first 600 training sentences as a CSV of their own."""
    import csv

    out = tmp_path_factory.mktemp("corpus") / "small.csv"
    with open(e2e_dir / "train.csv", newline="") as src, open(out, "w", newline="") as dst:
        reader, writer = csv.DictReader(src), None
        for i, row in enumerate(reader):
            if i == 600:
                break
            writer = writer or csv.DictWriter(dst, fieldnames=reader.fieldnames)
            if i == 0:
                writer.writeheader()
            writer.writerow(row)
    return out


TINY_TRAINING = dict(steps=400, batch_size=32, lr=3e-3, warmup=50, ema=0.99, save_every=400)


def _tiny_model_key(corpus: Path) -> str:
    """Changes whenever the corpus, the settings or the model/training code change."""
    import dlmctl.model
    import dlmctl.training

    digest = hashlib.sha256(corpus.read_bytes())
    for module in (dlmctl.model, dlmctl.training):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(repr((TINY_MODEL, TINY_TRAINING)).encode())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def tiny_model_dir(small_corpus, tmp_path_factory, request) -> Path:
    """A ~100k-parameter model trained for 400 steps on 600 E2E sentences (≈30 s on 2 cores),
    cached in pytest's cache directory between runs."""
    cache = getattr(request.config, "cache", None)
    key = _tiny_model_key(small_corpus)
    out = cache.mkdir(f"dlmctl-tiny-model-{key}") if cache else tmp_path_factory.mktemp("tiny-model")
    if (out / "model.safetensors").is_file():
        return out
    torch.set_num_threads(2)
    ids, vocab = prepare(str(small_corpus), "human_reference", TINY_MODEL["seq_len"], 2)
    cfg = ModelConfig(vocab_size=len(vocab), diffusion_steps=200, **TINY_MODEL)
    train(ids, vocab, out, cfg, TrainConfig(**TINY_TRAINING), torch.device("cpu"), show_progress=False)
    return out


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir):
    from dlmctl.checkpoint import load_model

    return load_model(tiny_model_dir)


def generate_texts(*args, **kwargs) -> list[str]:
    """The texts of :func:`dlmctl.generation.generate` (same arguments)."""
    from dlmctl.generation import generate

    return [g.text for g in generate(*args, **kwargs)]
