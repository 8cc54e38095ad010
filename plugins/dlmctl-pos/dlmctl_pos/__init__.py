"""Part-of-speech control: the sentence follows a UPOS tag sequence (``PROPN AUX DET ADJ NOUN``).

Classifier: a per-position tagger on noisy latents x_t over START, END, PAD and the 17
UPOS tags; labels come from an annotator run over the training corpus, and the same annotator is
the oracle. A target fixes the sentence length, so the guidance also holds END after the last word
through the shared length bias (:func:`dlmctl.biases.length_bias`), and keeps the chains of one
target apart at every clamping step (:func:`dlmctl.biases.apart_from_siblings`): drawn independently
they fall into one mode of the model, and a pool of near-copies gives the choice among candidates
nothing to choose from.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from dlmctl.annotators import DEFAULT_ANNOTATOR, UPOS_TAGS, get_annotator
from dlmctl.classifiers import ClassifierControl, TrainingData
from dlmctl.control import Guidance
from dlmctl.errors import TargetError
from dlmctl.hookspecs import hookimpl

SPECIAL_TAGS = ("<s>", "</s>", "<pad>")
TAGS = SPECIAL_TAGS + UPOS_TAGS
START, END, PAD = range(3)


@dataclass(frozen=True)
class PosTarget:
    tags: tuple[str, ...]
    annotator: str = DEFAULT_ANNOTATOR


def tag_row(tags: Sequence[str], seq_len: int) -> list[int]:
    """Per-position labels ``<s> t1 … tn </s> <pad> …`` (seq_len,), cut like the word ids."""
    ids = [TAGS.index(t) for t in tags][: seq_len - 2]
    ids = [START, *ids, END]
    return ids + [PAD] * (seq_len - len(ids))


class PosControl(ClassifierControl):
    name = "pos"
    classifier_name = "pos"
    description = "follow a UPOS tag sequence (per-position tagger on x_t)"
    target_help = "UPOS tags separated by spaces, e.g. pos='PROPN AUX DET ADJ NOUN PUNCT'"
    example_target = "PROPN AUX DET ADJ NOUN NOUN ADP DET NOUN PUNCT"
    default_weight = 3e-3   # chosen on benchmarks/controls.py (docs/benchmarks.md)
    #: a fresh gradient every 2nd step: as on target, more fluent, faster; guided to the end, so that
    #: the teacher's word choices in the second half keep the tags (docs/benchmarks.md, session 39)
    guidance_schedule = {"guide_every": 2, "guided_share": 1.0}

    def __init__(self, length_bias: bool = True, push_apart: float = 1.0):
        """``push_apart``: nats a word loses at a position where all the other chains of its target
        have it as their best word (0: the chains are sampled independently)."""
        super().__init__()
        self.length_bias = length_bias
        self.push_apart = push_apart

    def build_head(self, meta: dict[str, Any]):
        from torch import nn

        return nn.Linear(meta["encoder"]["hidden"], len(meta["tags"]))

    def parse_target(self, text: str, model) -> PosTarget:
        tags = tuple(text.split())
        if not tags:
            raise TargetError(f"empty tag sequence; expected {self.target_help}")
        unknown = [t for t in tags if t not in UPOS_TAGS]
        if unknown:
            raise TargetError(f"unknown tag '{unknown[0]}'; expected {self.target_help} "
                              f"with tags from: {' '.join(UPOS_TAGS)}")
        longest = model.config.seq_len - 2
        if len(tags) > longest:
            raise TargetError(f"{len(tags)} tags do not fit: this model writes at most {longest} words")
        _, meta = self.classifier(model)
        return PosTarget(tags, meta["annotator"])

    def guidance(self, model, targets: Sequence[PosTarget | None]) -> Guidance:
        import torch

        from dlmctl.biases import keep_apart, length_bias
        from dlmctl.classifiers.network import IGNORE, log_softmax_at

        net, _ = self.classifier(model)
        seq_len = model.config.seq_len
        labels = torch.tensor([tag_row(t.tags, seq_len) if t else [IGNORE] * seq_len for t in targets],
                              device=model.device)
        bias = None
        if self.length_bias:
            bias = length_bias(model.vocab, seq_len, [len(t.tags) if t else None for t in targets])
        apart = keep_apart([t.tags if t else None for t in targets], self.push_apart, model.device)
        return Guidance(log_prob=lambda x, t: log_softmax_at(net(x, t), labels), token_bias=bias, word_bias=apart)

    def sentence_length(self, target: PosTarget) -> int | None:
        return len(target.tags) if self.length_bias else None

    def score(self, text: str, target: PosTarget) -> float:
        tags = [tag for _, tag in get_annotator(target.annotator).tag([text])[0]]
        tags = (tags + [""] * len(target.tags))[: len(target.tags)]
        return sum(a == b for a, b in zip(tags, target.tags)) / len(target.tags)

    def training_data(self, model, data: str, annotator: str, saved: dict[str, Any] | None,
                      show_progress: bool) -> TrainingData:
        """Per-position tags of every corpus sentence, from ``annotator``."""
        import torch

        from dlmctl.classifiers.training import corpus_sentences
        from dlmctl.progress import progress_bar

        texts, ids = corpus_sentences(model, data)
        tagger = get_annotator(annotator)
        rows = []
        with progress_bar(f"tagging with {annotator}", len(texts), enabled=show_progress) as bar:
            for start in range(0, len(texts), 512):
                for tagged in tagger.tag(texts[start:start + 512]):
                    rows.append(tag_row([tag for _, tag in tagged], model.config.seq_len))
                bar.advance(min(512, len(texts) - start))
        return TrainingData(ids, torch.tensor(rows), {"tags": list(TAGS)})


@hookimpl
def register_controls(register):
    register(PosControl())
