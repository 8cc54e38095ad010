"""The paper's comparison in one command: Diffusion-LM's controls beside the autoregressive baselines
(FUDGE, PPLM, FT-sample, FT-search, the plain AR LM) and unguided diffusion, on the same held-out
targets, scored by the same oracles and teacher (``dlmctl evaluate``'s scoring).

    python benchmarks/paper_table.py --valid valid.csv --data train.csv            # ~1-2 h on 2 cores
    python benchmarks/paper_table.py --valid valid.csv --data train.csv --quick    # minutes

Targets: ``--targets`` held-out sentences (``benchmarks/controls.py``'s draw) give each variant's
targets: semantic, pos, tree, span, length (the sentence's word count), semantic+pos, semantic+tree.
Every system runs as its user command (``dlmctl generate --targets …`` at default settings,
``python benchmarks/baselines.py SYSTEM --targets …``), recorded with its wall time (model loading
included); the baselines' auxiliary models are trained on ``--data`` on first use and cached in
``--run-dir``. Unguided diffusion is one run of ``dlmctl generate`` without controls, scored against
every variant's targets. A rerun of the same command reuses the outputs already written (each with
its command, inputs and time in ``NAME.run.json``): an interrupted table resumes. Results: ``--out`` (``table.md``, ``results.json``, every output file) and,
with ``--docs``, the table in docs/benchmarks.md between its markers.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from dlmctl.api import model_path
from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.evaluation import add_teacher_scores, read_samples, reference_scores, score_controls
from dlmctl.teacher import TEACHER_SUBDIR, load_teacher
from dlmctl_semantic.meaning import read_corpus

from controls import cpu_name, make_targets

HERE = Path(__file__).resolve().parent
VARIANTS = ("semantic", "pos", "tree", "span", "length", "semantic+pos", "semantic+tree")
SYSTEMS = ("diffusion", "diffusion-unguided", "fudge", "pplm", "ft-sample", "ft-search", "ar")
SUPPORTS = {"pplm": {"semantic"}}                     # systems that steer by some controls only
#: the paper's success % (Li et al. 2022, E2E), and its composition semantic / syntax (tree) figures
PAPER = {
    "Diffusion-LM": {"semantic": "81.2", "pos": "90.0", "tree": "86.0", "span": "93.8", "length": "99.9",
                     "semantic+tree": "69.8 / 74.8"},
    "FUDGE": {"semantic": "69.9", "pos": "27.0", "tree": "17.9", "span": "54.2", "length": "46.9",
              "semantic+tree": "64.5 / 24.1"},
    "FT-search": {"semantic": "89.9", "pos": "93.0", "tree": "76.4", "span": "54.4", "length": "100"},
    "PPLM": {"semantic": "9.9"},
}
BEGIN, END = "<!-- paper-table:begin -->", "<!-- paper-table:end -->"


def variant_targets(targets: list[dict], variant: str) -> list[dict[str, str]]:
    """The batch-target lines of one variant."""
    lines = []
    for target in targets:
        full = {**target, "length": str(len(target["sentence"].split()))}
        lines.append({name: full[name] for name in variant.split("+")})
    return lines


def write_jsonl(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def run_timed(command: list[str], output: Path, inputs: Path) -> float:
    """Run a command writing ``output`` from ``inputs`` (its stderr to OUTPUT.log), fail loudly if it
    fails; wall seconds. A run already done — ``output`` there, with a record of the same command on
    the same inputs — is not repeated: an interrupted table resumes where it stopped."""
    record_path = output.with_suffix(".run.json")
    key = {"command": shlex.join(command), "inputs_sha256": hashlib.sha256(inputs.read_bytes()).hexdigest()}
    if output.is_file() and record_path.is_file():
        record = json.loads(record_path.read_text())
        if {k: record.get(k) for k in key} == key:
            return record["seconds"]
    started = time.monotonic()
    with open(output.with_suffix(".log"), "w") as err:
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=err)
    if done.returncode:
        raise SystemExit(f"{shlex.join(command)} failed (exit {done.returncode}); see {output.with_suffix('.log')}")
    seconds = time.monotonic() - started
    atomic_write_text(record_path, json.dumps({**key, "seconds": round(seconds, 1),
                                               "finished": datetime.now(timezone.utc).isoformat(timespec="seconds")}))
    return seconds


def system_command(system: str, targets: Path, output: Path, args) -> list[str]:
    common = ["--targets", str(targets), "--samples-per-target", str(args.samples), "--output", str(output),
              "--seed", str(args.seed)]
    model = ["--model", args.model] if args.model else []
    if system in ("diffusion", "diffusion-unguided"):
        return [sys.executable, "-m", "dlmctl", "generate", *common, *model]
    return [sys.executable, str(HERE / "baselines.py"), system, *common, *model, "--data", str(args.data),
            "--run-dir", str(args.run_dir), "--train-steps", str(args.train_steps)]


def relabel(unguided: Path, lines: list[dict[str, str]], output: Path) -> None:
    """Unguided samples answering each target line of a variant (target k keeps its samples)."""
    rows = [json.loads(line) for line in unguided.read_text().splitlines() if line.strip()]
    write_jsonl(output, [{**r, "controls": lines[r["target"]]} for r in rows])


def score(output: Path, model, teacher) -> dict:
    """Per control: success (%), lm-score, fluent share (%), same-target overlap."""
    samples = read_samples(output)
    results = score_controls(samples, model, show_progress=False)
    add_teacher_scores(results, samples, teacher)
    return {name: {"success": round(100 * r.success, 1), "lm_score": round(r.lm_score, 2),
                   "fluent": round(100 * r.fluent, 1),
                   "overlap": None if r.overlap is None else round(r.overlap, 3)}
            for name, r in results.items()}


def cell(variant: str, scores: dict) -> str:
    return " / ".join(f"{scores[name]['success']:.1f}" for name in variant.split("+"))


def markdown(record: dict) -> str:
    rows = record["rows"]
    variants = record["variants"]
    head = "| system | " + " | ".join(variants) + " |\n|---|" + "---|" * len(variants) + "\n"
    summary = head
    for system in record["systems"]:
        cells = [cell(v, rows[system][v]["scores"]) if v in rows.get(system, {}) else "–" for v in variants]
        summary += f"| {system} | " + " | ".join(cells) + " |\n"
    for name, figures in PAPER.items():
        summary += f"| *paper: {name}* | " + " | ".join(figures.get(v, "–") for v in variants) + " |\n"
    detail = ("| variant | system | success % | lm-score | fluent % | same-target overlap | sentences/s |\n"
              "|---|---|---|---|---|---|---|\n")
    for v in variants:
        for system in record["systems"]:
            if v not in rows.get(system, {}):
                continue
            row = rows[system][v]
            names = v.split("+")
            first = row["scores"][names[0]]
            detail += (f"| {v} | {system} | {cell(v, row['scores'])} | {first['lm_score']:.2f} | {first['fluent']:.1f} "
                       f"| {first['overlap'] if first['overlap'] is not None else '–'} | {row['sentences_per_s']:.2f} |\n")
    human = record["human"]
    return (f"Success % per control (composition: semantic / syntax), {record['targets']} held-out targets × "
            f"{record['samples']} samples, every system on the same targets and oracles; paper rows from "
            "Li et al. 2022 (E2E, 50 samples per target).\n\n" + summary +
            f"\nEach row in full (lm-score and fluent share under the teacher; human references: lm-score "
            f"{human['lm_score']}, fluent {human['fluent']} %; sentences/s from wall time of the command, "
            "model loading included):\n\n" + detail +
            f"\nMachine: {record['machine']}; {record['date']}; `{record['command']}`.\n")


def update_docs(docs: Path, text: str) -> None:
    """Put ``text`` between the paper-table markers of ``docs`` (appended with them if absent)."""
    body = docs.read_text()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in body and END in body:
        body = body[:body.index(BEGIN)] + block + body[body.index(END) + len(END):]
    else:
        body = body.rstrip() + "\n\n## The paper's comparison (`benchmarks/paper_table.py`)\n\n" + block + "\n"
    atomic_write_text(docs, body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--valid", required=True, help="held-out E2E CSV (targets and human references)")
    parser.add_argument("--data", required=True, type=Path, help="training E2E CSV (the baselines' auxiliary models)")
    parser.add_argument("--model", help="diffusion model (default: the bundled one)")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--samples", type=int, default=2)
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--train-steps", type=int, default=2000)
    parser.add_argument("--quick", action="store_true",
                        help="4 targets, auxiliary models trained 300 steps in RUN_DIR/quick: a smoke run in minutes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--run-dir", type=Path, default=Path("runs/baselines"))
    parser.add_argument("--out", type=Path, default=HERE / "results" / "paper_table")
    parser.add_argument("--docs", type=Path, help="also write the table into this markdown file (docs/benchmarks.md)")
    args = parser.parse_args()
    if args.quick:
        args.targets, args.train_steps, args.run_dir = 4, 300, args.run_dir / "quick"
        args.out = args.out.with_name(args.out.name + "-quick")
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    model_dir = Path(args.model) if args.model else model_path()
    model = load_model(model_dir)
    teacher = load_teacher(model_dir / TEACHER_SUBDIR)
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, "spacy", args.seed)
    variants = args.variants.split(",")
    systems = args.systems.split(",")
    out = args.out
    (out / "targets").mkdir(parents=True, exist_ok=True)
    rows: dict[str, dict[str, dict]] = {}
    commands = []
    unguided = None
    for variant in variants:
        write_jsonl(out / "targets" / f"{variant}.jsonl", [{"controls": line} for line in variant_targets(targets, variant)])
    for system in systems:                      # one system at a time: its auxiliary model is trained once
        folder = out / system
        folder.mkdir(exist_ok=True)
        for variant in variants:
            if system in SUPPORTS and not set(variant.split("+")) <= SUPPORTS[system]:
                continue
            target_file, output = out / "targets" / f"{variant}.jsonl", folder / f"{variant}.jsonl"
            if system == "diffusion-unguided":
                if unguided is None:
                    plain = out / "targets" / "unguided.jsonl"
                    write_jsonl(plain, [{"controls": {}}] * len(targets))
                    command = system_command(system, plain, folder / "unguided.jsonl", args)
                    unguided = (run_timed(command, folder / "unguided.jsonl", plain), command)
                seconds, command = unguided
                relabel(folder / "unguided.jsonl", variant_targets(targets, variant), output)
            else:
                command = system_command(system, target_file, output, args)
                seconds = run_timed(command, output, target_file)
            commands.append({"system": system, "variant": variant, "command": shlex.join(command),
                             "seconds": round(seconds, 1)})
            rows.setdefault(system, {})[variant] = {
                "scores": score(output, model, teacher),
                "sentences_per_s": round(len(targets) * args.samples / seconds, 3), "seconds": round(seconds, 1)}
            print(f"{system:18} {variant:14} {cell(variant, rows[system][variant]['scores']):>12}  "
                  f"{seconds:7.1f} s", flush=True)
    references = [text for text, _ in read_corpus(args.valid)]
    human, _ = reference_scores(teacher, references, args.valid)
    record = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} × {cpu_name()}, {platform.system()}, one torch thread per process",
        "command": shlex.join(["python", "benchmarks/paper_table.py", *sys.argv[1:]]),
        "model": str(model_dir), "targets": len(targets), "samples": args.samples, "variants": variants,
        "systems": [s for s in systems if s in rows],
        "human": {"lm_score": round(human.lm_score, 2), "fluent": round(100 * human.fluent, 1)},
        "rows": rows, "commands": commands,
    }
    atomic_write_text(out / "results.json", json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    table = markdown(record)
    atomic_write_text(out / "table.md", table)
    if args.docs:
        update_docs(args.docs, table)
    print(table)


if __name__ == "__main__":
    main()
