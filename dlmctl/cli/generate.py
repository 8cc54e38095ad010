"""``dlmctl generate``: sample sentences, with any combination of controls."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dlmctl import defaults
from dlmctl.cli import app
from dlmctl.cli.common import (check_output, open_model, parse_assignment, parse_weights, print_json,
                               show_plugin_warnings)
from dlmctl.errors import UsageError

Opt = typer.Option


def _read_targets(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        raise UsageError(f"--targets file not found: {path}")
    targets = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            controls = record["controls"]
            if not isinstance(controls, dict):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UsageError(f"{path}:{number}: expected a JSON object like "
                             '{"controls": {"length": "12"}}') from None
        targets.append({str(k): str(v) for k, v in controls.items()})
    if not targets:
        raise UsageError(f"{path} has no targets")
    return targets


@app.command("generate")
def generate_command(
    model: Annotated[Optional[str], Opt(help="Model directory or installed model name (default: the bundled model).")] = None,
    n: Annotated[int, Opt("-n", "--num", help="Samples (per target with --targets: see --samples-per-target).")] = 5,
    control: Annotated[Optional[list[str]], Opt("--control", "-c", help="NAME=TARGET; repeat to compose.")] = None,
    weight: Annotated[Optional[list[str]], Opt("--weight", help="NAME=λ: fluency weight of a control.")] = None,
    steps: Annotated[int, Opt(help="Sampling steps (respaced from the model's diffusion steps).")] = defaults.STEPS,
    guide_steps: Annotated[int, Opt(help="Gradient steps per denoising step for classifier controls.")] = defaults.GUIDE_STEPS,
    temperature: Annotated[float, Opt(help="Noise scale per sampling step: lower is more fluent and less "
                                      "varied, 1 is the exact sampler.")] = defaults.TEMPERATURE,
    candidates: Annotated[Optional[int], Opt(help="Samples drawn per sentence, to choose from: the samples of one "
                                             "target share them, each keeping one ranked high by the model's loss, "
                                             "the controls' classifiers and the teacher's fluency that does not "
                                             f"repeat another. Default {defaults.CANDIDATES}, or more where a control "
                                             "asks for more (span: 8). 1 is fastest.")] = None,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    batch_size: Annotated[int, Opt(help="Sentences sampled together.")] = 64,
    targets: Annotated[Optional[Path], Opt(help="JSONL file of {\"controls\": {...}} lines (batch mode).")] = None,
    samples_per_target: Annotated[int, Opt(help="Samples for each line of --targets.")] = 1,
    output: Annotated[Optional[Path], Opt(help="Write JSONL results here (atomically) instead of stdout.")] = None,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="One JSON object per line on stdout.")] = False,
) -> None:
    """Generate sentences; with --control, steer them (several --control flags compose)."""
    if n < 1 or samples_per_target < 1 or batch_size < 1:
        raise UsageError("-n, --samples-per-target and --batch-size must be at least 1")
    if targets is not None and control:
        raise UsageError("use either --targets FILE or --control flags, not both")
    if output is not None:
        check_output(output, "--output")
    if targets is not None:
        requests = _read_targets(targets)
        per_target = samples_per_target
    else:
        requests = [dict(parse_assignment(c, "--control") for c in control or [])]
        per_target = n
    weights = parse_weights(weight or [])
    from dlmctl.api import Model
    from dlmctl.checkpoint import atomic_write_text

    lm = open_model(model, device)
    show_plugin_warnings()
    samples = Model(lm).generate_batch(requests, samples_per_target=per_target, seed=seed, steps=steps,
                                       guide_steps=guide_steps, temperature=temperature, candidates=candidates,
                                       weights=weights, batch_size=batch_size,
                                       show_progress=not as_json or output is not None)
    records = [{"target": s.target_index, "sample": s.sample_index, "controls": s.controls, "text": s.text}
               for s in samples]
    if output is not None:
        atomic_write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        print(f"wrote {len(records)} samples to {output}", file=sys.stderr)
    elif as_json:
        for record in records:
            print_json(record)
    else:
        for sample in samples:
            print(sample.text)
