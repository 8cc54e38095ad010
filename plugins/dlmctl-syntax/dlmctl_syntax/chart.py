"""The span-chart classifier shared by the ``tree`` and ``span`` controls: the label of every span
of words (i, j), with label 0 ("null") for spans that are not constituents.

Charts are indexed by latent position: word k (0-based) sits at position k + 1, after START.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import torch
from torch import nn

from dlmctl.annotators import get_annotator
from dlmctl.classifier import (IGNORE, LatentClassifier, TrainOptions, corpus_sentences, encoder_config,
                               save_classifier, train_classifier)
from dlmctl.progress import progress_bar
from dlmctl.trees import Span, Tree

NULL = "<null>"
CLASSIFIER = "syntax"


class ChartHead(nn.Module):
    """States (B, L, H) → span logits (B, L, L, C): cell (a, b) scores the span from position a
    to position b from a left projection of h_a plus a right projection of h_b."""

    def __init__(self, hidden: int, labels: int, width: int = 64):
        super().__init__()
        self.left = nn.Linear(hidden, width)
        self.right = nn.Linear(hidden, width)
        self.out = nn.Sequential(nn.Tanh(), nn.Linear(width, labels))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.left(h)[:, :, None] + self.right(h)[:, None, :])


def chart_labels(spans: Iterable[Span], num_words: int, labels: list[str], seq_len: int,
                 null_cells: str = "sentence") -> torch.Tensor:
    """(L, L) labels: cell (i+1, j+1) holds the label index of span (i, j); other cells are null
    (0) within the sentence (``null_cells="sentence"``: i ≤ j < num_words), within the whole
    sequence (``"all"``: spans reaching into END/PAD are no constituents either, which training
    uses) or nowhere (``"none"``); IGNORE elsewhere. Of several labels on one span (a unary
    chain) the outermost counts. Words past the sequence are dropped."""
    chart = torch.full((seq_len, seq_len), IGNORE, dtype=torch.int16)
    n = min(num_words, seq_len - 2)
    size = {"sentence": n, "all": seq_len - 1, "none": 0}[null_cells]
    rows, cols = torch.triu_indices(size, size)
    chart[rows + 1, cols + 1] = 0
    seen = set()
    for i, j, label in spans:
        if j < n and (i, j) not in seen and label in labels:
            seen.add((i, j))
            chart[i + 1, j + 1] = labels.index(label)
    return chart


def build_head(meta: dict[str, Any]) -> nn.Module:
    return ChartHead(meta["encoder"]["hidden"], len(meta["labels"]))


def train_chart(model, model_dir: Path, *, data: str, annotator: str, steps: int, batch_size: int,
                hidden: int | None, layers: int | None, seed: int, show_progress: bool) -> dict:
    """Parse the corpus with ``annotator``, train the chart classifier, save ``controls/syntax.*``."""
    texts, ids = corpus_sentences(model, data)
    parser = get_annotator(annotator)
    trees: list[Tree] = []
    with progress_bar(f"parsing with {annotator}", len(texts), enabled=show_progress) as bar:
        for start in range(0, len(texts), 512):
            trees.extend(parser.parse(texts[start:start + 512]))
            bar.advance(min(512, len(texts) - start))
    labels = [NULL, *sorted({label for tree in trees for _, _, label in tree.spans()})]
    seq_len = model.config.seq_len
    charts = torch.stack([chart_labels(tree.spans(), tree.num_words, labels, seq_len, "all") for tree in trees])
    cfg = encoder_config(model, hidden=hidden, layers=layers)
    net = LatentClassifier(cfg, ChartHead(cfg.hidden, len(labels))).to(model.device)
    metrics = train_classifier(model, net, ids.to(model.device), charts.to(model.device),
                               TrainOptions(steps=steps, batch_size=batch_size, seed=seed, background=0),
                               show_progress, label="training syntax chart classifier")
    save_classifier(model, model_dir, CLASSIFIER, net,
                    {"control": "tree, span", "labels": labels, "annotator": annotator,
                     "data": Path(data).name, "metrics": metrics})
    return metrics
