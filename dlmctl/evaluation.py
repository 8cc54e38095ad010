"""Scoring generated samples: every control's oracle success, averaged per target then over targets,
its extra measures (``Control.metrics``), how alike the samples of one target are, the teacher's
judgement of the texts: the corpus lm-score and the share of fluent sentences (:mod:`dlmctl.fluency`),
and the share the installed critics find a flaw in (:mod:`dlmctl.critique`)."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any, Sequence

import torch

from dlmctl.critique import sentence_flaws
from dlmctl.diversity import same_target_overlap
from dlmctl.errors import TargetError, UsageError
from dlmctl.fluency import DEFAULT_THRESHOLD, floor_repeats, fluent
from dlmctl.model import DiffusionLM
from dlmctl.plugins import PluginHost, get_host
from dlmctl.progress import progress_bar
from dlmctl.teacher import Teacher
from dlmctl.vocab import tokenize

SAMPLE_FORM = '{"target": 0, "sample": 0, "controls": {"length": "12"}, "text": "..."}'


@dataclass
class Sample:
    """One line of ``dlmctl generate --output``: which target, its controls and the text."""

    target: Any
    controls: dict[str, str]
    text: str
    line: int


@dataclass
class ControlResult:
    """Oracle results of one control over the samples that used it."""

    targets: int
    samples: int
    success: float
    metrics: dict[str, float] = field(default_factory=dict)
    overlap: float | None = None      # same-target overlap (:mod:`dlmctl.diversity`); None: one sample per target
    lm_score: float | None = None
    fluent: float | None = None       # share of samples the teacher finds fluent
    flawed: float | None = None       # share of samples a critic finds a flaw in


def read_samples(path: Path) -> list[Sample]:
    """Parse a JSONL file of samples; a malformed line is a ``UsageError`` naming it."""
    if not path.is_file():
        raise UsageError(f"--input file not found: {path} (make one with `dlmctl generate --targets "
                         "TARGETS.jsonl --output OUT.jsonl`)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start}); expected JSON lines like {SAMPLE_FORM}") from None
    samples = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            controls, text = record.get("controls", {}), record["text"]
            if not isinstance(controls, dict) or not isinstance(text, str):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise UsageError(f"{path}:{number}: expected a JSON object like {SAMPLE_FORM}") from None
        controls = {str(k): str(v) for k, v in controls.items()}
        target = record.get("target", json.dumps(controls, sort_keys=True))
        samples.append(Sample(target, controls, text, number))
    if not samples:
        raise UsageError(f"{path} has no samples")
    return samples


def _mean_of_means(groups: dict[Any, list[float]]) -> float:
    return fmean(fmean(values) for values in groups.values())


def score_controls(samples: Sequence[Sample], model: DiffusionLM, host: PluginHost | None = None,
                   source: str = "input", show_progress: bool = True) -> dict[str, ControlResult]:
    """Every control's success (mean over targets of the mean over samples) and extra metrics."""
    host = host or get_host()
    parsed: dict[tuple[str, str], Any] = {}
    success: dict[str, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    extra: dict[str, dict[str, dict[Any, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    with progress_bar("scoring", len(samples), enabled=show_progress) as bar:
        for sample in samples:
            for name, target_text in sample.controls.items():
                control = host.control(name)
                key = (name, target_text)
                if key not in parsed:
                    try:
                        parsed[key] = control.parse_target(target_text, model)
                    except TargetError as exc:
                        raise TargetError(f"{source}:{sample.line}: control '{name}': {exc}") from None
                target = _hashable(sample.target)
                success[name][target].append(float(control.score(sample.text, parsed[key])))
                for metric, value in control.metrics(sample.text, parsed[key]).items():
                    extra[name][metric][target].append(float(value))
            bar.advance(1)
    texts = by_target(samples)
    return {name: ControlResult(targets=len(groups), samples=sum(len(v) for v in groups.values()),
                                success=_mean_of_means(groups),
                                metrics={m: _mean_of_means(g) for m, g in extra[name].items()},
                                overlap=same_target_overlap(texts[t] for t in groups))
            for name, groups in sorted(success.items())}


def by_target(samples: Sequence[Sample]) -> dict[Any, list[str]]:
    """The texts of each target, in input order."""
    groups: dict[Any, list[str]] = defaultdict(list)
    for sample in samples:
        groups[_hashable(sample.target)].append(sample.text)
    return groups


def _hashable(target: Any) -> Any:
    return json.dumps(target, sort_keys=True) if isinstance(target, (dict, list)) else target


@dataclass
class Judgement:
    """The teacher's view of a set of texts: lm-score and share of fluent sentences."""

    lm_score: float
    fluent: float | None      # None where only a recorded lm-score is known


def judge(teacher: Teacher, texts: Sequence[str], threshold: float = DEFAULT_THRESHOLD) -> Judgement:
    """lm-score (exp of the mean token NLL) and the fluent share (worst-token NLL ≤ ``threshold``, a
    repeated word counting as :data:`~dlmctl.fluency.REPEAT_NLL` at least)."""
    sentences = [tokenize(text) for text in texts]
    return _judgement(teacher.word_nlls(sentences), sentences, threshold)


def _judgement(rows: Sequence[torch.Tensor], sentences: Sequence[Sequence[str]], threshold: float) -> Judgement:
    """:func:`judge` from the per-token NLLs of each sentence and its words."""
    total = sum(float(r.sum()) for r in rows) / sum(len(r) for r in rows)
    worst = torch.stack([floor_repeats(r, words).max() for r, words in zip(rows, sentences)])
    return Judgement(math.exp(total), fluent(worst, threshold).float().mean().item())


def add_teacher_scores(results: dict[str, ControlResult], samples: Sequence[Sample], teacher: Teacher,
                       threshold: float = DEFAULT_THRESHOLD) -> Judgement:
    """Fill each control's lm-score and fluent share (samples using it); returns those of all samples."""
    sentences = [tokenize(s.text) for s in samples]
    rows = teacher.word_nlls(sentences)
    for name, result in results.items():
        own = [i for i, s in enumerate(samples) if name in s.controls]
        own_judgement = _judgement([rows[i] for i in own], [sentences[i] for i in own], threshold)
        result.lm_score, result.fluent = own_judgement.lm_score, own_judgement.fluent
    return _judgement(rows, sentences, threshold)


def flawed_share(model: DiffusionLM, texts: Sequence[str]) -> float | None:
    """The share of ``texts`` some installed critic finds a flaw in (None for no texts)."""
    return _share([bool(found) for found in sentence_flaws(model, texts)])


def add_flaw_shares(results: dict[str, ControlResult], samples: Sequence[Sample], model: DiffusionLM) -> float | None:
    """Fill each control's flawed share (samples using it, :func:`flawed_share`); returns that of all samples."""
    flawed = [bool(found) for found in sentence_flaws(model, [s.text for s in samples])]
    for name, result in results.items():
        result.flawed = _share([f for f, s in zip(flawed, samples) if name in s.controls])
    return _share(flawed)


def _share(flags: Sequence[bool]) -> float | None:
    return fmean(flags) if flags else None


def reference_scores(teacher: Teacher, references: Sequence[str] = (), source: str = "",
                     threshold: float = DEFAULT_THRESHOLD) -> tuple[Judgement | None, str]:
    """The teacher's judgement of human references and where they come from: ``references`` (named
    ``source``) when given, else the held-out lm-score recorded when the teacher was trained (its
    fluent share unknown), else None."""
    if references:
        return judge(teacher, references, threshold), source
    recorded = teacher.meta.get("training", {}).get("valid_lm_score")
    if recorded is None:
        return None, "none recorded (pass --references VALID.csv)"
    valid = teacher.meta.get("data", {}).get("valid", "held-out split")
    return Judgement(float(recorded), None), f"{valid} (recorded with the teacher)"
