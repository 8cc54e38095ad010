"""Semantic-content control: the sentence mentions a value of an E2E field (``food=Italian``).

Classifier: for each of the 8 E2E fields, the value the sentence expresses ("none" when
absent), read from noisy latents x_t; labels are the training corpus' meaning representations.
Several pairs compose inside one target: ``food=Italian; area=riverside``. Beside the classifier's
gradient, the words of each value (:func:`~dlmctl_semantic.meaning.value_words`) are held where the
model finds them most plausible at every step (:func:`dlmctl.biases.hold_phrases`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

from dlmctl.classifiers import ClassifierControl, TrainingData
from dlmctl.control import Guidance
from dlmctl.errors import TargetError, UsageError
from dlmctl.hookspecs import hookimpl
from dlmctl.vocab import tokenize
from dlmctl_semantic.meaning import FIELDS, NONE, field_key, mentions, read_corpus, value_words

if TYPE_CHECKING:
    from dlmctl.biases import Phrase

SemanticTarget = tuple[tuple[str, str], ...]   # ((field, value), …)


class SemanticControl(ClassifierControl):
    name = "semantic"
    classifier_name = "semantic"
    description = "mention E2E field values, e.g. food=Italian (classifier on x_t; the words held)"
    target_help = ("field=value with an E2E field (" + ", ".join(FIELDS) + "), e.g. semantic='food=Italian'; "
                   "several pairs separated by ';'")
    example_target = "food=Italian"
    default_weight = 1e-3   # chosen on benchmarks/controls.py (docs/benchmarks.md)
    # its step along the gradient (one accumulator per sentence): more fluent at the same success
    # (docs/benchmarks.md)
    guidance_schedule = {"guide_norm": "sentence"}
    background_label = 0    # "none": most fields are absent from a sentence
    uses_annotator = False  # labels are the corpus's meaning representations

    def __init__(self, hold_values: bool = True):
        """``hold_values``: besides the classifier's gradient, hold each value's words
        (:func:`~dlmctl_semantic.meaning.value_words`) where the model finds them most plausible at
        every step (:func:`dlmctl.biases.hold_phrases`; docs/benchmarks.md, session 37)."""
        super().__init__()
        self.hold_values = hold_values

    def build_head(self, meta: dict[str, Any]):
        from dlmctl_semantic.head import FieldHead

        return FieldHead(meta["encoder"]["hidden"], [len(meta["values"][f]) for f in FIELDS])

    def parse_target(self, text: str, model) -> SemanticTarget:
        _, meta = self.classifier(model)
        by_key = {field_key(f): f for f in FIELDS}
        pairs = []
        for part in filter(None, (p.strip() for p in text.split(";"))):
            name, sep, value = part.partition("=")
            if not sep or not value.strip():
                raise TargetError(f"'{part}' is not field=value; expected {self.target_help}")
            field = by_key.get(field_key(name))
            if field is None:
                raise TargetError(f"unknown field '{name.strip()}'; known fields: {', '.join(FIELDS)}")
            known = meta["values"][field][1:]   # "none" is a label, not a target
            match = next((v for v in known if v.lower() == value.strip().lower()), None)
            if match is None:
                raise TargetError(f"unknown value '{value.strip()}' for {field}; known values: {', '.join(known)}")
            pairs.append((field, match))
        if not pairs:
            raise TargetError(f"empty target; expected {self.target_help}")
        if len({f for f, _ in pairs}) < len(pairs):
            raise TargetError(f"a field is given twice in '{text}'; expected {self.target_help}")
        return tuple(pairs)

    def guidance(self, model, targets: Sequence[SemanticTarget | None]) -> Guidance:
        import torch

        from dlmctl.classifiers.network import IGNORE, log_softmax_at

        net, meta = self.classifier(model)
        labels = torch.full((len(targets), len(FIELDS)), IGNORE, dtype=torch.long)
        for row, target in enumerate(targets):
            for field, value in target or ():
                labels[row, FIELDS.index(field)] = meta["values"][field].index(value)
        labels = labels.to(model.device)
        guidance = Guidance(log_prob=lambda x, t: log_softmax_at(net(x, t), labels))
        if self.hold_values:
            from dlmctl.biases import case_variants, hold

            variants = case_variants(model.vocab)
            phrases = [[value_phrase(f, v, variants) for f, v in target or ()] for target in targets]
            guidance.word_bias = hold([[p for p in row if p] for row in phrases], model.device)
        return guidance

    def score(self, text: str, target: SemanticTarget) -> float:
        return sum(mentions(text, f, v) for f, v in target) / len(target)

    def training_data(self, model, data: str, annotator: str, saved: dict[str, Any] | None,
                      show_progress: bool) -> TrainingData:
        """The value of every field in each sentence's meaning representation ("none" if absent);
        the value tables are the saved classifier's, if training goes on from one."""
        import torch

        rows = read_corpus(data)
        values = saved["values"] if saved else {f: [NONE, *sorted({mr[f] for _, mr in rows if f in mr})]
                                                for f in FIELDS}
        unknown = sorted({f"{f}={mr[f]}" for _, mr in rows for f in FIELDS if f in mr and mr[f] not in values[f]})
        if unknown:
            raise UsageError(f"the saved classifier knows no {', '.join(unknown[:3])}: train without --warm-start")
        ids = model.vocab.encode_batch([tokenize(text) for text, _ in rows], model.config.seq_len)
        labels = torch.tensor([[values[f].index(mr.get(f, NONE)) for f in FIELDS] for _, mr in rows])
        return TrainingData(ids, labels, {"values": values, "annotator": "meaning_representation"})


def value_phrase(field: str, value: str, variants: dict[str, tuple[int, ...]]) -> Phrase | None:
    """``field=value``'s words as a phrase of vocabulary ids (each word's case variants, from
    :func:`dlmctl.biases.case_variants`), or None where it has none or the vocabulary lacks one."""
    words = value_words(field, value)
    if not words or any(w not in variants for w in words):
        return None
    return tuple(variants[w] for w in words)


@hookimpl
def register_controls(register):
    register(SemanticControl())


@hookimpl
def register_critics(register):
    from dlmctl_semantic.critic import ContradictionCritic

    register(ContradictionCritic())
