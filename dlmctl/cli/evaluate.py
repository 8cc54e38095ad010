"""``dlmctl evaluate``: oracle success of every control, sample overlap, the teacher's lm-score and
fluent share of generated samples, and the share the critics find a flaw in."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dlmctl import defaults
from dlmctl.cli import app
from dlmctl.cli.common import print_json, resolve_model_dir, show_plugin_warnings
from dlmctl.data import load_texts
from dlmctl.diversity import distinct_n, same_target_overlap
from dlmctl.errors import UsageError

Opt = typer.Option


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _number(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "–" if value is None else _percent(value)


@app.command("evaluate")
def evaluate_command(
    input_path: Annotated[Path, Opt("--input", "-i", help="JSONL written by `dlmctl generate --targets … --output`.")],
    model: Annotated[Optional[str], Opt(help="Model the samples came from (parses targets; default: the bundled model).")] = None,
    teacher: Annotated[Optional[Path], Opt(help="Teacher LM directory (default: the model's teacher/).")] = None,
    references: Annotated[Optional[str], Opt(help="Human references to judge beside the outputs (e.g. valid.csv).")] = None,
    text_column: Annotated[str, Opt(help="Column of --references holding the text.")] = "human_reference",
    fluency_threshold: Annotated[float, Opt(help="A sentence is fluent when the teacher's NLL of its least likely "
                                            "token is at most this (nats; a repeated word or phrase counts as "
                                            f"{defaults.REPEAT_NLL:g}).")] = defaults.FLUENCY_THRESHOLD,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Machine-readable output.")] = False,
) -> None:
    """Score samples: each control's oracle, overlap, the teacher's lm-score and fluent share, and the
    share the critics (`dlmctl plugins`) find a flaw in, such as a self-contradiction.

    Human references are judged beside them (--references, or the teacher's recorded score)."""
    if not fluency_threshold > 0:
        raise UsageError(f"--fluency-threshold must be a positive number of nats, got {fluency_threshold}")
    from dlmctl.checkpoint import load_model
    from dlmctl.device import resolve_device
    from dlmctl.evaluation import (add_flaw_shares, add_teacher_scores, by_target, flawed_share, read_samples,
                                   reference_scores, score_controls)
    from dlmctl.teacher import TEACHER_SUBDIR, load_teacher

    samples = read_samples(input_path)
    if teacher is not None and not (teacher / "teacher.json").is_file():
        raise UsageError(f"--teacher {teacher} is not a teacher LM (no teacher.json); make one with `dlmctl train-teacher`")
    ref_texts = load_texts(references, text_column) if references else []
    model_dir = resolve_model_dir(model)
    lm = load_model(model_dir, resolve_device(device))
    show_plugin_warnings()
    results = score_controls(samples, lm, source=str(input_path), show_progress=not as_json)
    texts = [s.text for s in samples]
    overlap, distinct = same_target_overlap(by_target(samples).values()), distinct_n(texts)
    flawed, ref_flawed = add_flaw_shares(results, samples, lm), flawed_share(lm, ref_texts)
    teacher_dir = teacher or model_dir / TEACHER_SUBDIR
    overall = reference = None
    ref_source = ""
    if teacher is not None or teacher_dir.is_dir():
        judge = load_teacher(teacher_dir, lm.device)
        overall = add_teacher_scores(results, samples, judge, fluency_threshold)
        reference, ref_source = reference_scores(judge, ref_texts, Path(references or "").name, fluency_threshold)
    else:
        print(f"note: no teacher LM in {teacher_dir}: lm-score and fluency not computed (pass --teacher DIR; "
              "make one with `dlmctl train-teacher`)", file=sys.stderr)
    if as_json:
        print_json({"input": str(input_path), "model": str(model_dir), "samples": len(samples),
                    "teacher": str(teacher_dir) if overall is not None else None,
                    "fluency_threshold": fluency_threshold,
                    "controls": {name: vars(r) for name, r in results.items()},
                    "overlap": overlap, "distinct_2": distinct,
                    "lm_score": overall and overall.lm_score, "fluent": overall and overall.fluent,
                    "flawed": flawed,
                    "references": {"source": ref_source, "lm_score": reference and reference.lm_score,
                                   "fluent": reference and reference.fluent, "flawed": ref_flawed}})
        return
    table = Table("control", "targets", "samples", "success", "other", "overlap", "lm-score", "fluent", "flawed",
                  title=f"{input_path} — {len(samples)} samples")
    for name, r in results.items():
        other = "  ".join(f"{metric} {_percent(v)}" for metric, v in r.metrics.items())
        table.add_row(name, str(r.targets), str(r.samples), _percent(r.success), other, _number(r.overlap),
                      _number(r.lm_score), _share(r.fluent), _share(r.flawed))
    table.add_section()
    table.add_row("all samples", "", str(len(samples)), "", f"distinct-2 {distinct:.2f}", _number(overlap),
                  _number(overall and overall.lm_score), _share(overall and overall.fluent), _share(flawed))
    if overall is not None or ref_texts:
        table.add_row(f"human references: {ref_source or Path(references or '').name}", "", "", "", "", "",
                      _number(reference and reference.lm_score), _share(reference and reference.fluent),
                      _share(ref_flawed))
    Console().print(table)
