"""Scoring generated samples (DESIGN §3): every control's oracle success, averaged per target then over
targets, its extra measures (``Control.metrics``), and the teacher's lm-score of the texts."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from statistics import fmean
from typing import Any, Sequence

from dlmctl.errors import TargetError, UsageError
from dlmctl.model import DiffusionLM
from dlmctl.plugins import PluginHost, get_host
from dlmctl.progress import progress_bar
from dlmctl.teacher import Teacher

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
    lm_score: float | None = None


def read_samples(path: Path) -> list[Sample]:
    """Parse a JSONL file of samples; a malformed line is a ``UsageError`` naming it."""
    if not path.is_file():
        raise UsageError(f"--input file not found: {path} (make one with `dlmctl generate --targets "
                         "TARGETS.jsonl --output OUT.jsonl`)")
    samples = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
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
                success[name][sample.target].append(float(control.score(sample.text, parsed[key])))
                for metric, value in control.metrics(sample.text, parsed[key]).items():
                    extra[name][metric][sample.target].append(float(value))
            bar.advance(1)
    return {name: ControlResult(targets=len(groups), samples=sum(len(v) for v in groups.values()),
                                success=_mean_of_means(groups),
                                metrics={m: _mean_of_means(g) for m, g in extra[name].items()})
            for name, groups in sorted(success.items())}


def add_lm_scores(results: dict[str, ControlResult], samples: Sequence[Sample], teacher: Teacher) -> float:
    """Fill each control's lm-score (texts of the samples using it); returns that of all texts."""
    texts = [s.text for s in samples]
    total, count = teacher.nll(texts)

    def score(rows: list[int]) -> float:
        return float((total[rows].sum() / count[rows].sum()).exp())

    for name, result in results.items():
        result.lm_score = score([i for i, s in enumerate(samples) if name in s.controls])
    return score(list(range(len(samples))))


def reference_lm_score(teacher: Teacher, references: Sequence[str] = (),
                       source: str = "") -> tuple[float | None, str]:
    """lm-score of human references and where they come from: ``references`` (named ``source``)
    when given, else the held-out score recorded when the teacher was trained (None if there is none)."""
    if references:
        return teacher.lm_score(references), source
    recorded = teacher.meta.get("training", {}).get("valid_lm_score")
    if recorded is None:
        return None, "none recorded (pass --references VALID.csv)"
    valid = teacher.meta.get("data", {}).get("valid", "held-out split")
    return float(recorded), f"{valid} (recorded with the teacher)"
