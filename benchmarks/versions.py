"""The working tree against an earlier release, in one run: the same targets through ``dlmctl generate``
at each version's default settings, timed, and scored by the working tree's evaluation (oracle
success, fluent share, same-target overlap, distinct-2), plus the outputs for a blind reading.

The earlier version runs from a temporary git worktree with its own ``PYTHONPATH`` (dlmctl and every
bundled plugin), in the same environment, on the same machine, one after the other per control, so
the time ratio compares like with like. Targets come from held-out sentences (``controls.py``);
``unguided`` draws as many unconditioned samples; ``length`` asks for each target sentence's length.

    OMP_NUM_THREADS=1 python benchmarks/versions.py --ref a0f8c40 --valid ../shared/data/e2e/valid.csv \\
        --targets 10 --samples 3 --out benchmarks/results/versions

Writes OUT/<version>/<control>.jsonl (the outputs, ready for a reading sheet), OUT/versions.json and
OUT/versions.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import torch

from dlmctl import defaults
from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.cli.common import resolve_model_dir
from dlmctl.diversity import distinct_n, same_target_overlap
from dlmctl.evaluation import by_target, judge, read_samples, score_controls
from dlmctl.teacher import load_teacher
from dlmctl.vocab import tokenize

sys.path.insert(0, str(Path(__file__).parent))
from controls import cpu_name, make_targets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CONTROLS = "unguided,length,pos,tree,span,semantic,semantic+pos"


def requests_for(control: str, targets: list[dict]) -> list[dict[str, str]]:
    """One request per target for a control spec (``a+b`` composes)."""
    if control == "unguided":
        return [{} for _ in targets]
    if control == "length":
        return [{"length": str(len(tokenize(t["sentence"])))} for t in targets]
    return [{name: t[name] for name in control.split("+")} for t in targets]


def pythonpath(tree: Path) -> str:
    """dlmctl and every bundled plugin of a source tree, first on the import path."""
    return os.pathsep.join([str(tree), *(str(p) for p in sorted((tree / "plugins").iterdir()) if p.is_dir())])


def run_generate(tree: Path | None, targets_file: Path, samples: int, output: Path, threads: int,
                 model: str | None) -> float:
    """``python -m dlmctl generate`` from ``tree`` (None: the working tree); wall seconds."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    if tree is not None:
        env["PYTHONPATH"] = pythonpath(tree)
    command = [sys.executable, "-m", "dlmctl", "generate", "--targets", str(targets_file),
               "--samples-per-target", str(samples), "--output", str(output), "--seed", "0"]
    if model:
        command += ["--model", model]
    started = time.monotonic()
    subprocess.run(command, env=env, check=True, stderr=subprocess.DEVNULL, cwd=tree or ROOT)
    return time.monotonic() - started


def score(path: Path, model, teacher) -> dict:
    """Success per control, fluent %, same-target overlap and distinct-2 of one output file."""
    samples = read_samples(path)
    texts = [s.text for s in samples]
    results = score_controls(samples, model, show_progress=False)
    judged = judge(teacher, texts)
    overlap = same_target_overlap(by_target(samples).values())
    return {"success": {name: round(100 * r.success, 1) for name, r in results.items()},
            "fluent": round(100 * judged.fluent, 1), "lm_score": round(judged.lm_score, 2),
            "overlap": None if overlap is None else round(overlap, 3), "distinct_2": round(distinct_n(texts), 3)}


def comparison_parser(description: str, *, controls: str, targets: int, samples: int,
                      out: str) -> argparse.ArgumentParser:
    """The command line of a comparison of the working tree with an earlier ref."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--ref", default="a0f8c40", help="earlier git ref to compare with")
    parser.add_argument("--valid", required=True, help="held-out E2E CSV (targets come from it)")
    parser.add_argument("--model", help="model for both versions (default: each version's bundled model)")
    parser.add_argument("--controls", default=controls)
    parser.add_argument("--targets", type=int, default=targets)
    parser.add_argument("--samples", type=int, default=samples, help="samples per target")
    parser.add_argument("--seed", type=int, default=0, help="picks the targets")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=out)
    return parser


def run_header(args: argparse.Namespace) -> dict:
    """What every comparison records about its run: command, date, machine, the two versions."""
    return {"command": "python " + shlex.join(sys.argv),
            "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": f"{cpu_name()}, {os.cpu_count()} cores, {args.threads} thread(s), torch {torch.__version__}",
            "ref": args.ref, "head": subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                                    capture_output=True, text=True).stdout.strip(),
            "settings": {"targets": args.targets, "samples": args.samples, "seed": args.seed}}


@contextmanager
def ref_worktree(ref: str, scratch: Path) -> Iterator[Path]:
    """A temporary git worktree of ``ref`` under ``scratch``, removed afterwards."""
    tree = scratch / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(tree), ref], cwd=ROOT, check=True, capture_output=True)
    try:
        yield tree
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(tree)], cwd=ROOT, capture_output=True)


def main() -> None:
    args = comparison_parser(__doc__.split("\n\n")[0], controls=CONTROLS, targets=10, samples=3,
                             out="benchmarks/results/versions").parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    model = load_model(resolve_model_dir(args.model))
    teacher = load_teacher(model.model_dir / "teacher")
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, "spacy", args.seed)
    rows: dict[str, dict] = {}
    record = {**run_header(args), "humans": vars(judge(teacher, [t["sentence"] for t in targets])), "results": rows}
    with tempfile.TemporaryDirectory(prefix="dlmctl-ref-") as scratch, ref_worktree(args.ref, Path(scratch)) as ref_tree:
        for control in args.controls.split(","):
            targets_file = out / "targets" / f"{control.replace('+', '_')}.jsonl"
            atomic_write_text(targets_file, "".join(json.dumps({"controls": r}) + "\n"
                                                    for r in requests_for(control, targets)))
            row = {}
            for version, tree in ((args.ref, ref_tree), ("working tree", None)):
                path = out / version.replace(" ", "_") / f"{control.replace('+', '_')}.jsonl"
                path.parent.mkdir(parents=True, exist_ok=True)
                seconds = run_generate(tree, targets_file.resolve(), args.samples, path.resolve(), args.threads,
                                       args.model)
                row[version] = {"seconds": round(seconds, 1),
                                "sentences_per_s": round(args.targets * args.samples / seconds, 3),
                                **score(path, model, teacher)}
            row["speed_ratio"] = round(row[args.ref]["seconds"] / row["working tree"]["seconds"], 2)
            rows[control] = row
            print(control, json.dumps(row), flush=True)
            atomic_write_text(out / "versions.json", json.dumps(record, indent=2) + "\n")   # a row at a time
            atomic_write_text(out / "versions.md", markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    ref, s = record["ref"], record["settings"]
    lines = [f"# {ref} against the working tree ({record['date']})", "", f"`{record['command']}`", "",
             f"Machine: {record['machine']}. Working tree at {record['head']} (plus uncommitted changes, if any). "
             f"{s['targets']} held-out targets × {s['samples']} samples per control, each version at its default "
             "`dlmctl generate` settings, scored by the working tree. Fluent: the teacher's worst-token NLL ≤ "
             f"{defaults.FLUENCY_THRESHOLD:g} nats (a proxy; the reading is in the closing notes). Human target sentences: fluent "
             f"{100 * record['humans']['fluent']:.1f} %.", "",
             "| control | version | success % | fluent % | overlap | distinct-2 | sentences/s | speed-up |",
             "|---|---|---|---|---|---|---|---|"]
    for control, row in record["results"].items():
        for version in (ref, "working tree"):
            r = row[version]
            success = " / ".join(f"{v}" for v in r["success"].values()) or "–"
            lines.append(f"| {control} | {version} | {success} | {r['fluent']} | {r['overlap']} | "
                         f"{r['distinct_2']} | {r['sentences_per_s']} | "
                         f"{row['speed_ratio'] if version != ref else ''} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
