"""Syntax controls: a whole constituency tree (``tree``) or one labelled span (``span``).

Both steer with one span-chart classifier on noisy latents (:mod:`dlmctl_syntax.chart`), trained on
trees an annotator gives the training corpus; that annotator is also the oracle. ``tree`` scores
every cell of the target's chart (its constituents and null for every other span), as its target
fixes the number of words, holds END after the last word (``length_bias``), and keeps the chains
of one tree apart where their words are picked (:func:`dlmctl.biases.apart_from_siblings`, as pos
does); ``span`` scores
the cell (i, j) and null for every span crossing it and, as the sentence must reach past word j,
gives each sample a size drawn from the training corpus's sentence lengths above j (the model plans
a sentence of a fixed size far better than it stretches one it meant to end).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from dlmctl.annotators import DEFAULT_ANNOTATOR, get_annotator
from dlmctl.classifiers import ClassifierControl, TrainingData
from dlmctl.control import Guidance
from dlmctl.errors import TargetError
from dlmctl.hookspecs import hookimpl
from dlmctl.trees import TREE_HELP, Span, Tree, bracket_f1, span_in
from dlmctl.upos import UPOS_TAGS

_SPAN = re.compile(r"^\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*([^\s,]+)\s*$")
SIZE_PENALTY = -1e4   # span's drawn size is a finite bias: a `length` control (−inf) overrides it


@dataclass(frozen=True)
class TreeTarget:
    tree: Tree
    annotator: str = DEFAULT_ANNOTATOR


@dataclass(frozen=True)
class SpanTarget:
    span: Span
    annotator: str = DEFAULT_ANNOTATOR


class _ChartControl(ClassifierControl):
    classifier_name = "syntax"
    background_label = 0    # "null": most spans are not constituents

    def build_head(self, meta: dict[str, Any]):
        from dlmctl_syntax.chart import ChartHead

        return ChartHead(meta["encoder"]["hidden"], len(meta["labels"]))

    def training_data(self, model, data: str, annotator: str, saved: dict[str, Any] | None,
                      show_progress: bool) -> TrainingData:
        """The span chart of every corpus sentence's tree from ``annotator`` (the saved label table
        if training goes on from a classifier), and the corpus's sentence lengths for ``span``."""
        from dlmctl_syntax.chart import length_counts, parse_charts

        ids, charts, labels = parse_charts(model, data, annotator, show_progress,
                                           labels=saved["labels"] if saved else None)
        return TrainingData(ids, charts, {"control": "tree, span", "labels": labels,
                                          "lengths": length_counts(model, ids)})

    def _check_labels(self, labels: Sequence[str], meta: dict[str, Any]) -> None:
        known = meta["labels"][1:]
        for label in labels:
            if label not in known:
                raise TargetError(f"unknown constituent label '{label}'; the classifier knows: {' '.join(known)}")

    def _guidance(self, model, charts, bias, word_bias=None) -> Guidance:
        """Guidance towards the label charts (B, L, L), with a token ``bias`` (B, L, V) or None and
        a ``word_bias`` or None."""
        from dlmctl.classifiers.network import log_softmax_at

        net, _ = self.classifier(model)
        labels = charts.long().to(model.device)
        return Guidance(log_prob=lambda x, t: log_softmax_at(net(x, t), labels), token_bias=bias, word_bias=word_bias)


class TreeControl(_ChartControl):
    name = "tree"
    description = "follow a constituency parse (span-chart classifier on x_t)"
    target_help = TREE_HELP
    example_target = "(S (NP (DET The) (PROPN Eagle)) (VP (AUX is) (NP (DET a) (ADJ cheap) (NOUN pub))) (PUNCT .))"
    default_weight = 5e-3   # chosen on benchmarks/controls.py (docs/benchmarks.md)
    #: no teachers in the clamp: the forward one cost 3 to 5 points of F1, both together 2, and either
    #: read better at one seed, no better at another (docs/benchmarks.md, sessions 39 and 40)
    guidance_schedule = {"teacher_weight": 0.0}

    def __init__(self, length_bias: bool = True, push_apart: float = 1.0):
        """``push_apart``: nats a word loses at a position where all the other chains of its tree
        have it as their best word (0: the chains are sampled independently)."""
        super().__init__()
        self.length_bias = length_bias
        self.push_apart = push_apart

    def parse_target(self, text: str, model) -> TreeTarget:
        tree = Tree.from_bracketed(text)
        unknown = [tag for tag in tree.preterminals() if tag != "*" and tag not in UPOS_TAGS]
        if unknown:
            raise TargetError(f"unknown part-of-speech tag '{unknown[0]}' in the tree; words are tagged with "
                              f"UPOS tags ({' '.join(UPOS_TAGS)}); expected {self.target_help}")
        longest = model.config.seq_len - 2
        if tree.num_words > longest:
            raise TargetError(f"the tree has {tree.num_words} words; this model writes at most {longest}")
        _, meta = self.classifier(model)
        self._check_labels([label for _, _, label in tree.spans()], meta)
        return TreeTarget(tree, meta["annotator"])

    def guidance(self, model, targets: Sequence[TreeTarget | None]) -> Guidance:
        import torch

        from dlmctl.biases import keep_apart, length_bias
        from dlmctl_syntax.chart import chart_labels

        _, meta = self.classifier(model)
        seq_len = model.config.seq_len
        charts = torch.stack([chart_labels(t.tree.spans(), t.tree.num_words, meta["labels"], seq_len) if t
                              else chart_labels([], 0, meta["labels"], seq_len) for t in targets])
        lengths = [t.tree.num_words if t else None for t in targets]
        bias = length_bias(model.vocab, seq_len, lengths) if self.length_bias else None
        apart = keep_apart([t.tree.to_bracketed() if t else None for t in targets], self.push_apart, model.device)
        return self._guidance(model, charts, bias, apart)

    def sentence_length(self, target: TreeTarget) -> int | None:
        return target.tree.num_words if self.length_bias else None

    def score(self, text: str, target: TreeTarget) -> float:
        return bracket_f1(get_annotator(target.annotator).parse([text])[0], target.tree)


class SpanControl(_ChartControl):
    name = "span"
    description = "contain a labelled constituent over words i..j (span-chart classifier on x_t)"
    target_help = "i,j,LABEL with 0-based inclusive word indices, e.g. span='2,5,NP'"
    example_target = "2,5,NP"
    default_weight = 3e-3   # chosen on benchmarks/controls.py, ranked by its classifier (benchmarks/selection.py)
    rank_by_classifier = True
    prune_at = 1.0   # pruned, its candidates ended in filler ("… . sell Beside Beside"): docs/benchmarks.md
    default_candidates = 8  # read grammatical twice as often as from 4 (docs/benchmarks.md, 2026-12-03)

    def parse_target(self, text: str, model) -> SpanTarget:
        match = _SPAN.match(text)
        if not match:
            raise TargetError(f"'{text}' is not a span; expected {self.target_help}")
        i, j, label = int(match[1]), int(match[2]), match[3]
        last = model.config.seq_len - 3
        if not 0 <= i <= j:
            raise TargetError(f"span {i},{j} is empty or negative: need 0 ≤ i ≤ j; expected {self.target_help}")
        if j > last:
            raise TargetError(f"span {i},{j} goes beyond the sentence: this model writes at most "
                              f"{last + 1} words (indices 0..{last})")
        _, meta = self.classifier(model)
        self._check_labels([label], meta)
        return SpanTarget((i, j, label), meta["annotator"])

    def guidance(self, model, targets: Sequence[SpanTarget | None]) -> Guidance:
        import torch

        from dlmctl.biases import length_bias
        from dlmctl_syntax.chart import chart_labels, sentence_size

        _, meta = self.classifier(model)
        seq_len = model.config.seq_len
        counts = meta.get("lengths") or [1] * (seq_len - 1)   # uniform for classifiers that recorded none
        sizes = [sentence_size(t.span, counts, row) if t else None for row, t in enumerate(targets)]
        charts = torch.stack([chart_labels(self._cells(t.span, size), size, meta["labels"], seq_len, null_cells=False)
                              if t else chart_labels([], 0, meta["labels"], seq_len) for t, size in zip(targets, sizes)])
        bias = length_bias(model.vocab, seq_len, sizes)
        return self._guidance(model, charts, bias.clamp(min=SIZE_PENALTY))

    @staticmethod
    def _cells(span: Span, size: int) -> list[Span]:
        """The cells to score: the target span, and null for the spans of a ``size``-word sentence
        that cross it."""
        from dlmctl_syntax.chart import NULL

        return [span, *((a, b, NULL) for a, b in crossing_spans(span, size))]

    def score(self, text: str, target: SpanTarget) -> float:
        return float(span_in(get_annotator(target.annotator).parse([text])[0], target.span))


def crossing_spans(span: Span, size: int) -> list[tuple[int, int]]:
    """The spans (a, b) of a ``size``-word sentence that cross the span (i, j): a < i ≤ b < j or
    i < a ≤ j < b. A constituent over i..j leaves no room for a constituent over any of them."""
    i, j, _ = span
    return ([(a, b) for a in range(i) for b in range(i, j)]
            + [(a, b) for a in range(i + 1, j + 1) for b in range(j + 1, size)])


@hookimpl
def register_controls(register):
    register(TreeControl())
    register(SpanControl())
