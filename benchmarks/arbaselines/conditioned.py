"""The teacher LM reading condition tokens before the sentence: one network, two uses.

``ConditionedLM`` puts C condition embeddings (their own table and positions) before the teacher's
``START w1 … END`` and runs the teacher's causal Transformer over both, so each word position sees
the whole condition and the words so far. It starts as a copy of the teacher and is trained as

- **FT** (fine-tuned AR): next-word cross-entropy, the condition a prefix (``kind="ft"``);
- **FUDGE's future discriminator**: at every prefix of a sentence, the probability that the finished
  sentence meets the condition (``kind="fudge"``), trained on each sentence with its own target
  (positive) and another sentence's target, labelled by the oracle's rule (mostly negative).

A trained network lives in a directory: ``conditioned.json`` (kind, sizes, condition vocabulary,
training record) and ``conditioned.safetensors``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file
from torch import nn

from dlmctl.checkpoint import atomic_write_text, save_tensors
from dlmctl.configs import TeacherConfig
from dlmctl.progress import progress_bar
from dlmctl.teacher import Teacher, TeacherLM, encode
from dlmctl.vocab import tokenize

from .conditions import ConditionVocab, condition_tokens, meets, request_tokens

CONFIG, WEIGHTS = "conditioned.json", "conditioned.safetensors"
#: pairs of controls the FT model also learns as one condition (the paper's compositions)
COMPOSITIONS = (("pos", "semantic"), ("semantic", "tree"))


class ConditionedLM(nn.Module):
    """Condition ids (B, C) (0 = padding) and word ids (B, T) → next-word logits (B, T, V) and a
    discriminator logit per word position (B, T)."""

    def __init__(self, cfg: TeacherConfig, conditions: int, max_conditions: int):
        super().__init__()
        self.lm = TeacherLM(cfg)
        self.condition = nn.Embedding(conditions, cfg.hidden, padding_idx=0)
        self.condition_position = nn.Embedding(max_conditions, cfg.hidden)
        self.judge = nn.Linear(cfg.hidden, 1)
        nn.init.normal_(self.condition.weight, std=0.02)
        nn.init.normal_(self.condition_position.weight, std=0.02)

    def inputs(self, cond: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The input states (B, C + T, H) of condition and words, the causal mask (C + T, C + T)
        (True: not seen) and the condition padding (B, C + T) (True: never attended)."""
        lm, c, t = self.lm, cond.shape[1], words.shape[1]
        device = words.device
        x = torch.cat([self.condition(cond) + self.condition_position(torch.arange(c, device=device)),
                       lm.embed(words) + lm.position(torch.arange(t, device=device))], 1)
        causal = torch.ones(c + t, c + t, dtype=torch.bool, device=device).triu(1)
        padding = torch.cat([cond == 0, torch.zeros_like(words, dtype=torch.bool)], 1)
        return x, causal, padding

    def hidden(self, cond: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """(B, T, H) states of the word positions."""
        x, causal, padding = self.inputs(cond, words)
        h = self.lm.blocks(self.lm.dropout(x), mask=causal, src_key_padding_mask=padding)
        return self.lm.norm(h[:, cond.shape[1]:])

    def forward(self, cond: torch.Tensor, words: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.hidden(cond, words)
        return h @ self.lm.embed.weight.T, self.judge(h)[..., 0]

    def judge_continuations(self, cond: torch.Tensor, words: torch.Tensor, candidates: torch.Tensor) -> torch.Tensor:
        """(B, k) discriminator logits of each prefix ``words`` (B, t) continued by each of its
        ``candidates`` (B, k) words: the same as ``forward(cond, cat(words, c))[1][:, -1]`` for every
        candidate c, but the shared condition and prefix are run once, and each candidate attends to
        their keys and values layer by layer (FUDGE scores every candidate of every step)."""
        lm = self.lm
        x, causal, hidden_keys = self.inputs(cond, words)                                     # (B, L, H)
        y = lm.embed(candidates) + lm.position.weight[words.shape[1]]                          # (B, k, H)
        for layer in lm.blocks.layers:
            attention = layer.self_attn
            heads = attention.num_heads
            q, k, v = nn.functional.linear(layer.norm1(x), attention.in_proj_weight,
                                           attention.in_proj_bias).chunk(3, -1)
            qy, ky, vy = nn.functional.linear(layer.norm1(y), attention.in_proj_weight,
                                              attention.in_proj_bias).chunk(3, -1)
            split = lambda z: z.unflatten(-1, (heads, -1)).transpose(1, 2)      # noqa: E731  (B, h, n, d)
            q, k, v, qy, ky, vy = map(split, (q, k, v, qy, ky, vy))
            scale = q.shape[-1] ** -0.5
            blocked = causal[None, None] | hidden_keys[:, None, None, :]
            mixed = torch.softmax((q @ k.transpose(-1, -2) * scale).masked_fill(blocked, float("-inf")), -1) @ v
            to_prefix = (qy @ k.transpose(-1, -2) * scale).masked_fill(hidden_keys[:, None, None, :], float("-inf"))
            to_self = (qy * ky).sum(-1, keepdim=True) * scale                                  # (B, h, k, 1)
            weights = torch.softmax(torch.cat([to_prefix, to_self], -1), -1)
            mixed_y = weights[..., :-1] @ v + weights[..., -1:] * vy
            merge = lambda z: z.transpose(1, 2).flatten(-2)                     # noqa: E731  (B, n, H)
            x = x + attention.out_proj(merge(mixed))
            y = y + attention.out_proj(merge(mixed_y))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
            y = y + layer.linear2(layer.activation(layer.linear1(layer.norm2(y))))
        return self.judge(lm.norm(y))[..., 0]


def pad_conditions(rows: Sequence[Sequence[int]]) -> torch.Tensor:
    """(B, C) ids, rows padded with 0 to the longest."""
    width = max(len(r) for r in rows)
    return torch.tensor([list(r) + [0] * (width - len(r)) for r in rows], dtype=torch.long)


class Conditioned:
    """A trained network, its condition vocabulary and its training record."""

    def __init__(self, net: ConditionedLM, conditions: ConditionVocab, meta: dict[str, Any]):
        self.net = net.eval()
        self.conditions = conditions
        self.meta = meta

    def encode_request(self, parsed: dict[str, Any]) -> list[int]:
        """Condition ids of a request ``{control: parsed target}``; ValueError if too long."""
        ids = self.conditions.encode(request_tokens(parsed))
        if len(ids) > self.net.condition_position.num_embeddings:
            raise ValueError(f"the condition has {len(ids)} tokens; this network reads at most "
                             f"{self.net.condition_position.num_embeddings}")
        return ids


def _examples(kind: str, sentences: list[dict[str, Any]], targets: list[dict[str, Any]],
              rng: random.Random) -> list[tuple[list[str], list[str], float]]:
    """(condition tokens, words, label) training rows: FT one per sentence (one control, or a
    composition a quarter of the time); FUDGE one positive and one labelled other-target row per
    sentence and control."""
    rows = []
    by_control: dict[str, list[Any]] = {}
    for parsed in targets:
        for name, target in parsed.items():
            by_control.setdefault(name, []).append(target)
    for sentence, parsed in zip(sentences, targets):
        words = tokenize(sentence["text"])
        if not parsed:
            continue
        if kind == "ft":
            pairs = [pair for pair in COMPOSITIONS if all(n in parsed for n in pair)]
            names = rng.choice(pairs) if pairs and rng.random() < 0.25 else (rng.choice(sorted(parsed)),)
            rows.append((request_tokens({n: parsed[n] for n in names}), words, 1.0))
            continue
        for name, target in parsed.items():
            rows.append((condition_tokens(name, target), words, 1.0))
            other = rng.choice(by_control[name])
            rows.append((condition_tokens(name, other), words, float(meets(name, other, sentence))))
    return rows


def train_conditioned(kind: str, teacher: Teacher, sentences: list[dict[str, Any]], targets: list[dict[str, Any]],
                      out: Path, *, steps: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 0,
                      start_from: Conditioned | None = None, meta: dict[str, Any] | None = None,
                      show_progress: bool = True) -> Conditioned:
    """Train a ``kind`` ("ft" or "fudge") network on the annotated ``sentences`` and their parsed
    ``targets`` (:func:`.corpus.parsed_targets`), starting from the teacher or from a trained network
    (``start_from``, its condition vocabulary kept: FUDGE starts from the FT model, which has
    already learnt to read the conditions); saved to ``out``."""
    rng = random.Random(seed)
    torch.manual_seed(seed)
    rows = _examples(kind, sentences, targets, rng)
    if start_from is None:
        conditions = ConditionVocab(sorted({t for tokens, _, _ in rows for t in tokens}))
        longest = max(len(tokens) for tokens, _, _ in rows)
        net = ConditionedLM(teacher.net.cfg, len(conditions), 2 * longest)
        net.lm.load_state_dict(teacher.net.state_dict())
    else:
        conditions = start_from.conditions
        net = ConditionedLM(teacher.net.cfg, len(conditions), start_from.net.condition_position.num_embeddings)
        net.load_state_dict(start_from.net.state_dict())
    vocab, seq_len = teacher.vocab, teacher.net.cfg.seq_len
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=0.01)
    warmup = max(1, steps // 20)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warmup if s < warmup else max(0.0, (steps - s) / max(steps - warmup, 1)))
    started = time.monotonic()
    net.train()
    with progress_bar(f"training {kind}", steps, enabled=show_progress) as bar:
        for step in range(steps):
            batch = [rows[rng.randrange(len(rows))] for _ in range(batch_size)]
            cond = pad_conditions([conditions.encode(tokens) for tokens, _, _ in batch])
            words = encode(vocab, [w for _, w, _ in batch], seq_len)
            logits, judged = net(cond, words)
            if kind == "ft":
                loss = nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), words[:, 1:],
                                                   ignore_index=vocab.pad)
            else:
                keep = (words != vocab.pad).float()
                labels = torch.tensor([label for _, _, label in batch])[:, None].expand_as(judged)
                loss = (nn.functional.binary_cross_entropy_with_logits(judged, labels, reduction="none")
                        * keep).sum() / keep.sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            sched.step()
            bar.advance(1, loss=loss.item())
    record = {**(meta or {}), "kind": kind, "training": {"steps": steps, "batch_size": batch_size, "lr": lr,
                                                          "seed": seed, "examples": len(rows),
                                                          "last_loss": loss.item(),
                                                          "seconds": round(time.monotonic() - started, 1)}}
    save_conditioned(out, net, conditions, record)
    return Conditioned(net, conditions, record)


def save_conditioned(out: Path, net: ConditionedLM, conditions: ConditionVocab, meta: dict[str, Any]) -> None:
    config = {"model": asdict(net.lm.cfg), "max_conditions": net.condition_position.num_embeddings,
              "conditions": conditions.tokens, **meta}
    out.mkdir(parents=True, exist_ok=True)
    save_tensors(out / WEIGHTS, net.state_dict())
    atomic_write_text(out / CONFIG, json.dumps(config, indent=2, ensure_ascii=False))


def load_conditioned(directory: Path) -> Conditioned:
    config = json.loads((directory / CONFIG).read_text())
    conditions = ConditionVocab(config["conditions"])
    net = ConditionedLM(TeacherConfig.from_dict(config["model"]), len(conditions), config["max_conditions"])
    net.load_state_dict(load_file(str(directory / WEIGHTS)))
    meta = {k: v for k, v in config.items() if k not in ("model", "conditions", "max_conditions")}
    return Conditioned(net, conditions, meta)
