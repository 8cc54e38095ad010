"""The teacher LM: a small causal Transformer trained on the same corpus, with the same tokenisation
and vocabulary handling as the diffusion model, that measures fluency (docs/evaluation.md):

    lm-score(texts) = exp(mean token NLL)   (over all words and the END of every text; OOV → UNK)

A teacher directory holds ``teacher.json`` (config and training record), ``vocab.json`` and
``teacher.safetensors``, all written atomically. A model directory may carry its teacher in
``<model_dir>/teacher/``, and a second one that reads sentences right to left (``reverse``) in
``<model_dir>/teacher-reverse/``: the sampler's clamp asks both (docs/method.md, "The teacher in the
clamp").
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from torch import nn

from dlmctl.configs import TeacherConfig, TeacherTrainConfig
from dlmctl.checkpoint import atomic_write_text, save_tensors
from dlmctl.errors import ModelError
from dlmctl.progress import progress_bar
from dlmctl.training import global_batch
from dlmctl.vocab import Vocabulary, tokenize

if TYPE_CHECKING:
    from dlmctl.model import DiffusionLM

CONFIG, VOCAB, WEIGHTS = "teacher.json", "vocab.json", "teacher.safetensors"
TEACHER_SUBDIR = "teacher"
REVERSE_TEACHER_SUBDIR = "teacher-reverse"


class TeacherLM(nn.Module):
    """Causal Transformer LM: ids (B, T) → next-word logits (B, T, V); output tied to the input
    embedding."""

    def __init__(self, cfg: TeacherConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.hidden)
        self.position = nn.Embedding(cfg.seq_len, cfg.hidden)
        self.dropout = nn.Dropout(cfg.dropout)
        layer = nn.TransformerEncoderLayer(cfg.hidden, cfg.heads, 4 * cfg.hidden, cfg.dropout,
                                           activation="gelu", batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.hidden)
        nn.init.normal_(self.embed.weight, std=0.02)
        nn.init.normal_(self.position.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        length = ids.shape[1]
        mask = nn.Transformer.generate_square_subsequent_mask(length, device=ids.device)
        h = self.embed(ids) + self.position(torch.arange(length, device=ids.device))[None]
        h = self.blocks(self.dropout(h), mask=mask, is_causal=True)
        return self.norm(h) @ self.embed.weight.T


def encode(vocab: Vocabulary, texts_words: Sequence[Sequence[str]], seq_len: int,
           reverse: bool = False) -> torch.Tensor:
    """(N, T) ids ``START w… END PAD…``, T = the longest (≤ seq_len); OOV words → UNK; with
    ``reverse``, each text's words last first."""
    rows = [[vocab.start, *(vocab.index.get(w, vocab.unk) for w in (words[::-1] if reverse else words)),
             vocab.end][:seq_len] for words in texts_words]
    width = max(len(r) for r in rows)
    return torch.tensor([r + [vocab.pad] * (width - len(r)) for r in rows], dtype=torch.long)


def token_nll(net: TeacherLM, ids: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed next-token NLL (B,) and number of scored tokens (B,) for ids (B, T)."""
    nll, keep = per_token_nll(net, ids, pad)
    return nll.sum(1), keep.sum(1)


def per_token_nll(net: TeacherLM, ids: torch.Tensor, pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Next-token NLL (B, T−1) of ids (B, T), 0 at padding, and the mask (B, T−1) of scored tokens."""
    logits = net(ids[:, :-1])
    target = ids[:, 1:]
    keep = (target != pad).float()
    return nn.functional.cross_entropy(logits.transpose(1, 2), target, reduction="none") * keep, keep


class Teacher:
    """A loaded teacher: network and vocabulary."""

    def __init__(self, net: TeacherLM, vocab: Vocabulary, meta: dict[str, Any] | None = None):
        self.net = net.eval()
        self.vocab = vocab
        self.meta = meta or {}

    def token_nlls(self, texts: Sequence[str], batch_size: int = 256) -> list[torch.Tensor]:
        """Per text, the NLL of each scored token (words, then END), shape (n_words + 1,)."""
        return self.word_nlls([tokenize(t) for t in texts], batch_size)

    @torch.no_grad()
    def word_nlls(self, words: Sequence[Sequence[str]], batch_size: int = 256) -> list[torch.Tensor]:
        """:meth:`token_nlls` of sentences given as words, in the teacher's reading order (a
        ``reverse`` teacher scores the last word first and END, the sentence's start, last)."""
        order = sorted(range(len(words)), key=lambda i: len(words[i]))
        out: list[torch.Tensor] = [torch.zeros(0)] * len(words)
        device = self.net.embed.weight.device
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            ids = encode(self.vocab, [words[i] for i in idx], self.net.cfg.seq_len, self.net.cfg.reverse).to(device)
            nll, keep = per_token_nll(self.net, ids, self.vocab.pad)
            for row, i in enumerate(idx):
                out[i] = nll[row, keep[row].bool()].cpu()
        return out

    def nll(self, texts: Sequence[str], batch_size: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
        """Per text: summed token NLL (N,) and scored tokens (N,) (words + END)."""
        rows = self.token_nlls(texts, batch_size)
        return (torch.stack([r.sum() for r in rows]) if rows else torch.zeros(0),
                torch.tensor([float(len(r)) for r in rows]))

    def lm_score(self, texts: Sequence[str]) -> float:
        """exp(mean token NLL) over all tokens of ``texts``; lower is more fluent."""
        if not texts:
            raise ValueError("lm_score needs at least one text")
        total, count = self.nll(texts)
        return math.exp(total.sum().item() / count.sum().item())


def save_teacher(out: Path, net: TeacherLM, vocab: Vocabulary, meta: dict[str, Any]) -> None:
    out = Path(out)
    atomic_write_text(out / VOCAB, json.dumps(vocab.words, ensure_ascii=False))
    atomic_write_text(out / CONFIG, json.dumps({"model": asdict(net.cfg), **meta}, indent=2))
    save_tensors(out / WEIGHTS, net.state_dict())


def load_teacher(directory: str | Path, device: str | torch.device = "cpu") -> Teacher:
    """Load a teacher directory; every problem names the file and how to make one."""
    directory = Path(directory)
    how = f"train one with `dlmctl train-teacher --data CORPUS.csv --out {directory}`"
    for name in (CONFIG, VOCAB, WEIGHTS):
        if not (directory / name).is_file():
            raise ModelError(f"{directory / name} is missing: {directory} is not a teacher LM; {how}")
    try:
        config = json.loads((directory / CONFIG).read_text())
        vocab = Vocabulary.load(directory / VOCAB)
        net = TeacherLM(TeacherConfig.from_dict(config["model"]))
        net.load_state_dict(load_file(str(directory / WEIGHTS)))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, RuntimeError, SafetensorError) as exc:
        raise ModelError(f"teacher in {directory} is corrupt ({str(exc)[:200]}); {how}") from None
    return Teacher(net.to(device), vocab, {k: v for k, v in config.items() if k != "model"})


@lru_cache(maxsize=4)
def _cached_teacher(directory: str, device: str) -> Teacher:
    return load_teacher(directory, device)


def model_teacher(model: "DiffusionLM", reverse: bool = False) -> Teacher | None:
    """The teacher a model directory carries in ``teacher/`` (with ``reverse``: the right-to-left
    one in ``teacher-reverse/``), loaded once per process, or None."""
    subdir = REVERSE_TEACHER_SUBDIR if reverse else TEACHER_SUBDIR
    if model.model_dir is None or not (Path(model.model_dir) / subdir / CONFIG).is_file():
        return None
    return _cached_teacher(str(Path(model.model_dir) / subdir), str(model.device))


def train_teacher(sentences: Sequence[Sequence[str]], vocab: Vocabulary, out: Path, cfg: TeacherConfig,
                  train_cfg: TeacherTrainConfig, device: torch.device, *, valid: Sequence[str] = (),
                  meta: dict[str, Any] | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Train a teacher on tokenised ``sentences`` and save it to ``out``; with ``valid`` texts, the
    weights with the lowest held-out lm-score (checked every ``eval_every`` steps) are kept."""
    torch.manual_seed(train_cfg.seed)
    net = TeacherLM(cfg).to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=train_cfg.lr, weight_decay=0.01)
    warm, total = train_cfg.warmup, train_cfg.steps
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm else max(0.0, (total - s) / max(total - warm, 1)))
    best: float | None = None
    history: list[dict[str, float]] = []
    started = time.monotonic()

    def evaluate_and_save(step: int) -> None:
        nonlocal best
        score = None
        if valid:
            score = Teacher(net, vocab).lm_score(valid)
            net.train()
            history.append({"step": step, "valid_lm_score": score})
            if best is not None and score >= best:
                return
            best = score
        record = {**(meta or {}), "training": {**asdict(train_cfg), "steps_done": step,
                                               "valid_lm_score": score, "history": history}}
        save_teacher(out, net, vocab, record)

    net.train()
    with progress_bar("training teacher", total, enabled=show_progress) as bar:
        for step in range(1, total + 1):
            idx = global_batch(len(sentences), train_cfg.batch_size, step - 1, train_cfg.seed)
            ids = encode(vocab, [sentences[i] for i in idx.tolist()], cfg.seq_len, cfg.reverse).to(device)
            s, c = token_nll(net, ids, vocab.pad)
            loss = s.sum() / c.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.advance(1, nll=loss.item())
            if step % train_cfg.eval_every == 0 or step == total:
                evaluate_and_save(step)
    return {"steps": total, "valid_lm_score": best, "seconds": time.monotonic() - started}
