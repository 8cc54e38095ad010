"""The span-chart classifier shared by the ``tree`` and ``span`` controls: the label of every span
of words (i, j), with label 0 ("null") for spans that are not constituents.

Charts are indexed by latent position: word k (0-based) sits at position k + 1, after START.
"""

from __future__ import annotations

import zlib
from typing import Iterable, Sequence

import torch
from torch import nn

from dlmctl.annotators import get_annotator
from dlmctl.classifiers.network import IGNORE
from dlmctl.classifiers.training import corpus_sentences
from dlmctl.progress import progress_bar
from dlmctl.trees import Span, Tree

NULL = "<null>"


class ChartHead(nn.Module):
    """States (B, L, H) → span logits (B, L, L, C). Cell (a, b) scores the span from position a to
    position b by an MLP of left(h_a) + right(h_b) plus, for each label c, a biaffine term
    start(h_a)ᵀ·U_c·end(h_b) that lets the two ends agree (without it the classifier learns far
    slower: benchmarks/results/syntax_classifier.md)."""

    def __init__(self, hidden: int, labels: int, width: int = 64):
        super().__init__()
        self.left = nn.Linear(hidden, width)
        self.right = nn.Linear(hidden, width)
        self.out = nn.Sequential(nn.Tanh(), nn.Linear(width, labels))
        self.start = nn.Linear(hidden, width)
        self.end = nn.Linear(hidden, width)
        self.pair = nn.Parameter(torch.zeros(labels, width, width))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        additive = self.out(self.left(h)[:, :, None] + self.right(h)[:, None, :])
        biaffine = torch.einsum("bip,cpq,bjq->bijc", self.start(h), self.pair, self.end(h))
        return additive + biaffine


def chart_labels(spans: Iterable[Span], num_words: int, labels: list[str], seq_len: int,
                 null_cells: bool = True) -> torch.Tensor:
    """(L, L) labels: cell (i+1, j+1) holds the label index of span (i, j); with ``null_cells`` the
    other cells within the sentence (i ≤ j < num_words) are null (0); IGNORE elsewhere. Of several
    labels on one span (a unary chain) the outermost counts. Words past the sequence are dropped."""
    chart = torch.full((seq_len, seq_len), IGNORE, dtype=torch.int16)
    n = min(num_words, seq_len - 2)
    size = n if null_cells else 0
    rows, cols = torch.triu_indices(size, size)
    chart[rows + 1, cols + 1] = 0
    seen = set()
    for i, j, label in spans:
        if j < n and (i, j) not in seen and label in labels:
            seen.add((i, j))
            chart[i + 1, j + 1] = labels.index(label)
    return chart


def parse_charts(model, data: str, annotator: str, show_progress: bool = True, *, labels: list[str] | None = None,
                 limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Parse (the first ``limit`` sentences of) the corpus ``data`` with ``annotator``: word ids
    (N, L), charts (N, L, L) of label indices (nulls within each sentence, IGNORE outside) and the
    label table (null first; ``labels`` if given, spans of other labels then count as null)."""
    texts, ids = corpus_sentences(model, data, limit=limit)
    parser = get_annotator(annotator)
    trees: list[Tree] = []
    with progress_bar(f"parsing with {annotator}", len(texts), enabled=show_progress) as bar:
        for start in range(0, len(texts), 512):
            trees.extend(parser.parse(texts[start:start + 512]))
            bar.advance(min(512, len(texts) - start))
    labels = labels or [NULL, *sorted({label for tree in trees for _, _, label in tree.spans()})]
    charts = torch.stack([chart_labels(tree.spans(), tree.num_words, labels, model.config.seq_len)
                          for tree in trees])
    return ids, charts, labels


def length_counts(model, ids: torch.Tensor) -> list[int]:
    """How many sentences of ``ids`` (N, L) have n words, for n = 0 .. L − 2 (START, END and PAD
    are not words): the corpus's length distribution, from which ``span`` draws sentence sizes."""
    words = (ids != model.vocab.pad).sum(1) - 2
    return torch.bincount(words.clamp(min=0), minlength=model.config.seq_len - 1).tolist()


def sentence_size(span: Span, counts: Sequence[int], row: int) -> int:
    """A sentence size n > j for the span (i, j, label), drawn with weights ``counts[n]`` (how many
    training sentences have n words; uniform if none is that long), seeded by the span and the row
    so that one command always gives the same sizes."""
    i, j, label = span
    weights = torch.tensor(counts[j + 1:], dtype=torch.float)
    if weights.sum() <= 0:
        weights = torch.ones(len(weights))
    generator = torch.Generator().manual_seed(zlib.crc32(f"{i},{j},{label},{row}".encode()))
    return j + 1 + int(torch.multinomial(weights, 1, generator=generator))
