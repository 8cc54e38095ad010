"""``dlmctl evaluate``: oracle success of every control and lm-score of generated samples."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from dlmctl.cli import app
from dlmctl.cli.common import print_json, resolve_model_dir, show_plugin_warnings
from dlmctl.checkpoint import load_model
from dlmctl.data import load_texts
from dlmctl.device import resolve_device
from dlmctl.evaluation import add_lm_scores, read_samples, reference_lm_score, score_controls
from dlmctl.teacher import TEACHER_SUBDIR, load_teacher

Opt = typer.Option


def _percent(value: float) -> str:
    return f"{100 * value:.1f}%"


def _lm(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


@app.command("evaluate")
def evaluate_command(
    input_path: Annotated[Path, Opt("--input", "-i", help="JSONL written by `dlmctl generate --targets … --output`.")],
    model: Annotated[Optional[str], Opt(help="Model the samples came from (parses targets; default: the bundled model).")] = None,
    teacher: Annotated[Optional[Path], Opt(help="Teacher LM directory (default: the model's teacher/).")] = None,
    references: Annotated[Optional[str], Opt(help="Human references to lm-score beside the outputs (e.g. valid.csv).")] = None,
    text_column: Annotated[str, Opt(help="Column of --references holding the text.")] = "human_reference",
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Machine-readable output.")] = False,
) -> None:
    """Score samples with each control's oracle; lm-score them (and human references) with the teacher."""
    samples = read_samples(input_path)
    model_dir = resolve_model_dir(model)
    lm = load_model(model_dir, resolve_device(device))
    show_plugin_warnings()
    results = score_controls(samples, lm, source=str(input_path), show_progress=not as_json)
    teacher_dir = teacher or model_dir / TEACHER_SUBDIR
    overall = ref_score = None
    ref_source = ""
    if teacher is not None or teacher_dir.is_dir():
        judge = load_teacher(teacher_dir, lm.device)
        overall = add_lm_scores(results, samples, judge)
        ref_texts = load_texts(references, text_column) if references else []
        ref_score, ref_source = reference_lm_score(judge, ref_texts, Path(references or "").name)
    else:
        print(f"note: no teacher LM in {teacher_dir}: lm-score not computed (pass --teacher DIR; "
              "make one with `dlmctl train-teacher`)", file=sys.stderr)
    if as_json:
        print_json({"input": str(input_path), "model": str(model_dir), "samples": len(samples),
                    "teacher": str(teacher_dir) if overall is not None else None,
                    "controls": {name: vars(r) for name, r in results.items()},
                    "lm_score": overall, "references": {"source": ref_source, "lm_score": ref_score}})
        return
    table = Table("control", "targets", "samples", "success", "other", "lm-score",
                  title=f"{input_path} — {len(samples)} samples")
    for name, r in results.items():
        other = "  ".join(f"{metric} {_percent(v)}" for metric, v in r.metrics.items())
        table.add_row(name, str(r.targets), str(r.samples), _percent(r.success), other, _lm(r.lm_score))
    table.add_section()
    table.add_row("all samples", "", str(len(samples)), "", "", _lm(overall))
    if overall is not None:
        table.add_row(f"human references: {ref_source}", "", "", "", "", _lm(ref_score))
    Console().print(table)
