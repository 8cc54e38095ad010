"""PPLM for semantic content (Dathathri et al. 2020) on the teacher LM: an attribute model reads the
mean of the teacher's final states, and before each word a few gradient steps on a perturbation of
the prefix's input states (the teacher has no key/value cache to perturb; perturbing its inputs moves
every layer's view of the past the same way) raise the attribute's log-probability, a KL term keeps
the next-word distribution near the unperturbed one, and the two distributions are fused
geometrically (``gm_scale``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import torch
from safetensors.torch import load_file
from torch import nn

from dlmctl.checkpoint import atomic_write_text, save_tensors
from dlmctl.progress import progress_bar
from dlmctl.teacher import Teacher, encode
from dlmctl.vocab import tokenize
from dlmctl_semantic.meaning import FIELDS, NONE

from .states import causal_states, input_states

CONFIG, WEIGHTS = "attribute.json", "attribute.safetensors"


@dataclass
class PplmSettings:
    iterations: int = 3
    step_size: float = 0.3
    kl_scale: float = 0.01
    gm_scale: float = 0.9


class AttributeModel(nn.Module):
    """Mean final teacher state (B, H) → per field, logits over its values (``none`` first)."""

    def __init__(self, hidden: int, sizes: Sequence[int]):
        super().__init__()
        self.heads = nn.ModuleList(nn.Linear(hidden, size) for size in sizes)

    def forward(self, features: torch.Tensor) -> list[torch.Tensor]:
        return [head(features) for head in self.heads]


def sentence_features(teacher: Teacher, texts: Sequence[str], batch_size: int = 256) -> torch.Tensor:
    """(N, H) mean final state over START, the words and END of each text."""
    net, vocab = teacher.net, teacher.vocab
    out = []
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            ids = encode(vocab, [tokenize(t) for t in texts[start:start + batch_size]], net.cfg.seq_len)
            keep = (ids != vocab.pad).float()[..., None]
            out.append((causal_states(net, input_states(net, ids)) * keep).sum(1) / keep.sum(1))
    return torch.cat(out)


class Pplm:
    """A trained attribute model over a teacher, and the perturbed next-word scores."""

    def __init__(self, teacher: Teacher, attribute: AttributeModel, values: dict[str, list[str]],
                 settings: PplmSettings):
        self.teacher, self.attribute, self.values, self.settings = teacher, attribute.eval(), values, settings

    def labels(self, targets: Sequence[tuple[tuple[str, str], ...]]) -> torch.Tensor:
        """(B, fields) value index per target field, -100 where the target says nothing."""
        labels = torch.full((len(targets), len(FIELDS)), -100, dtype=torch.long)
        for row, target in enumerate(targets):
            for field, value in target:
                labels[row, FIELDS.index(field)] = self.values[field].index(value) if value in self.values[field] else -100
        return labels

    def next_scores(self, ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(R, V) fused log-probabilities of the next word after prefixes ids (R, t), pulled towards
        the field values ``labels`` (R, fields)."""
        net, s = self.teacher.net, self.settings
        embed = net.embed.weight
        with torch.no_grad():
            base = input_states(net, ids)
            plain = torch.log_softmax(causal_states(net, base)[:, -1] @ embed.T, -1)
        next_position = net.position.weight[ids.shape[1]]
        delta = torch.zeros_like(base, requires_grad=True)
        for _ in range(s.iterations):
            with torch.enable_grad():
                states = causal_states(net, base + delta)
                log_probs = torch.log_softmax(states[:, -1] @ embed.T, -1)
                expected = log_probs.exp() @ embed + next_position           # the next word, in expectation
                features = causal_states(net, torch.cat([base + delta, expected[:, None]], 1)).mean(1)
                loss = sum(nn.functional.cross_entropy(logits, labels[:, f], ignore_index=-100, reduction="sum")
                           for f, logits in enumerate(self.attribute(features)))
                kl = (log_probs.exp() * (log_probs - plain)).sum()
                grad, = torch.autograd.grad(loss + s.kl_scale * kl, delta)
            delta = (delta - s.step_size * grad / (grad.norm(dim=-1, keepdim=True) + 1e-10)).detach().requires_grad_()
        with torch.no_grad():
            perturbed = torch.log_softmax(causal_states(net, base + delta)[:, -1] @ embed.T, -1)
        return s.gm_scale * perturbed + (1 - s.gm_scale) * plain


def train_attribute(teacher: Teacher, sentences: list[dict[str, Any]], out: Path, *, epochs: int = 300,
                    seed: int = 0, meta: dict[str, Any] | None = None, show_progress: bool = True) -> dict[str, Any]:
    """Fit the attribute model on the corpus's meaning representations; saved to ``out``."""
    torch.manual_seed(seed)
    values = {f: [NONE, *sorted({s["mr"][f] for s in sentences if f in s["mr"]})] for f in FIELDS}
    features = sentence_features(teacher, [s["text"] for s in sentences])
    labels = torch.tensor([[values[f].index(s["mr"].get(f, NONE)) for f in FIELDS] for s in sentences])
    model = AttributeModel(features.shape[1], [len(values[f]) for f in FIELDS])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    with progress_bar("training the PPLM attribute model", epochs, enabled=show_progress) as bar:
        for _ in range(epochs):
            loss = sum(nn.functional.cross_entropy(logits, labels[:, f]) for f, logits in enumerate(model(features)))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            bar.advance(1, loss=loss.item())
    with torch.no_grad():
        accuracy = torch.stack([(logits.argmax(-1) == labels[:, f]).float().mean()
                                for f, logits in enumerate(model(features))]).mean().item()
    out.mkdir(parents=True, exist_ok=True)
    save_tensors(out / WEIGHTS, model.state_dict())
    record = {**(meta or {}), "values": values, "epochs": epochs, "train_accuracy": round(accuracy, 4)}
    atomic_write_text(out / CONFIG, json.dumps(record, indent=2, ensure_ascii=False))
    return record


def load_pplm(directory: Path, teacher: Teacher, settings: PplmSettings) -> Pplm:
    record = json.loads((directory / CONFIG).read_text())
    values = record["values"]
    model = AttributeModel(teacher.net.cfg.hidden, [len(values[f]) for f in FIELDS])
    model.load_state_dict(load_file(str(directory / WEIGHTS)))
    return Pplm(teacher, model, values, settings)
