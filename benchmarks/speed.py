"""How fast ``dlmctl`` answers, against an earlier release and against autoregressive sampling, in one run.

For each control (unguided, length, pos, tree, span, semantic, semantic+pos, infill, keywords) the same
held-out targets go through ``dlmctl generate`` at each version's default settings, the earlier
version from a temporary git worktree with its own ``PYTHONPATH`` (``versions.py``), one after the
other; the table gives wall time, sentences/s and the speed-up. The autoregressive reference is the
model's teacher LM sampling as many sentences, token by token, in a process of its own (start-up
included, as for ``dlmctl generate``): "÷ AR" is how many times longer diffusion takes. Start-up:
the median wall time of ``dlmctl --help``, ``dlmctl plugins`` and ``dlmctl annotate`` on one line.

    OMP_NUM_THREADS=1 python benchmarks/speed.py --ref a0f8c40 --valid ../shared/data/e2e/valid.csv \\
        --targets 4 --samples 2 --repeats 3 --out benchmarks/results/speed

Writes OUT/speed.json and OUT/speed.md (a row at a time). Times from one run compare with each other
only: the machine's speed changes between runs, and within one (``--repeats``: the median of
several runs, the versions taking turns).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.cli.common import resolve_model_dir
from dlmctl.vocab import tokenize

sys.path.insert(0, str(Path(__file__).parent))
from controls import make_targets  # noqa: E402
from versions import (comparison_parser, pythonpath, ref_worktree, requests_for, run_generate,  # noqa: E402
                      run_header)

ROOT = Path(__file__).resolve().parent.parent
CONTROLS = "unguided,length,pos,tree,span,semantic,semantic+pos,infill,keywords"
STARTUP = {"--help": ["--help"], "plugins": ["plugins"], "annotate": ["annotate", "The pub is cheap ."]}


def infill_requests(targets: list[dict]) -> list[dict[str, str]]:
    """A template per target sentence: its first two and last two words kept, the middle one blank
    of any size."""
    templates = []
    for target in targets:
        words = tokenize(target["sentence"])
        templates.append({"infill": " ".join([*words[:2], "[*]", *words[-2:]])})
    return templates


def startup_seconds(tree: Path | None, args: list[str], repeats: int = 3) -> float:
    """Median wall time of ``python -m dlmctl ARGS`` from ``tree`` (None: the working tree)."""
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = pythonpath(tree)
    times = []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "dlmctl", *args], env=env, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, cwd=tree or ROOT)
        times.append(time.monotonic() - started)
    return statistics.median(times)


def ar_seconds(model_dir: Path, sentences: int, threads: int) -> float:
    """Wall time of a process that loads the teacher LM and samples ``sentences`` sentences."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    started = time.monotonic()
    subprocess.run([sys.executable, __file__, "ar-sample", str(model_dir / "teacher"), str(sentences)],
                   env=env, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.monotonic() - started


def ar_sample(teacher_dir: str, sentences: int, seed: int = 0) -> list[str]:
    """``sentences`` samples of the teacher LM at temperature 1, all rows one token at a time (the
    whole prefix re-read each step), stopping when every row has ended."""
    import torch

    from dlmctl.teacher import load_teacher
    from dlmctl.vocab import detokenize

    teacher = load_teacher(teacher_dir)
    net, vocab = teacher.net.eval(), teacher.vocab
    generator = torch.Generator().manual_seed(seed)
    ids = torch.full((sentences, 1), vocab.start, dtype=torch.long)
    ended = torch.zeros(sentences, dtype=torch.bool)
    with torch.inference_mode():
        while ids.shape[1] < net.cfg.seq_len and not ended.all():
            logits = net(ids)[:, -1]
            logits[:, [vocab.start, vocab.pad, vocab.unk]] = float("-inf")
            step = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)[:, 0]
            step = torch.where(ended, torch.full_like(step, vocab.pad), step)
            ended |= step == vocab.end
            ids = torch.cat([ids, step[:, None]], 1)
    return [detokenize(vocab.decode(row)) for row in ids.tolist()]


def main() -> None:
    parser = comparison_parser(__doc__.split("\n\n")[0], controls=CONTROLS, targets=4, samples=2,
                               out="benchmarks/results/speed")
    parser.add_argument("--repeats", type=int, default=1,
                        help="runs of each version per control, the two versions taking turns; the median counts")
    args = parser.parse_args()
    if args.repeats < 1:
        parser.error(f"--repeats must be 1 or more, got {args.repeats}")
    out = Path(args.out)
    model_dir = resolve_model_dir(args.model)
    model = load_model(model_dir)
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, "spacy", args.seed,
                           vocabulary={w.lower() for w in model.vocab.words})
    sentences = args.targets * args.samples
    rows: dict[str, dict] = {}
    record = {**run_header(args), "ar_seconds": round(ar_seconds(model_dir, sentences, args.threads), 1),
              "startup": {}, "results": rows}
    record["settings"]["repeats"] = args.repeats
    with tempfile.TemporaryDirectory(prefix="dlmctl-ref-") as scratch, ref_worktree(args.ref, Path(scratch)) as ref_tree:
        versions = ((args.ref, ref_tree), ("working tree", None))
        record["startup"] = {name: {version: round(startup_seconds(tree, command), 2) for version, tree in versions}
                             for name, command in STARTUP.items()}
        for control in args.controls.split(","):
            requests = infill_requests(targets) if control == "infill" else requests_for(control, targets)
            targets_file = Path(scratch) / f"{control.replace('+', '_')}.jsonl"
            targets_file.write_text("".join(json.dumps({"controls": r}) + "\n" for r in requests))
            runs: dict[str, list[float]] = {version: [] for version, _ in versions}
            for _ in range(args.repeats):
                for version, tree in versions:
                    output = Path(scratch) / f"{version.replace(' ', '_')}-{control.replace('+', '_')}.out.jsonl"
                    runs[version].append(run_generate(tree, targets_file, args.samples, output, args.threads,
                                                      args.model))
            row = {}
            for version, times in runs.items():
                seconds = statistics.median(times)
                row[version] = {"seconds": round(seconds, 1), "sentences_per_s": round(sentences / seconds, 3),
                                "runs": [round(t, 1) for t in times]}
            row["speed_up"] = round(row[args.ref]["seconds"] / row["working tree"]["seconds"], 2)
            row["times_ar"] = round(row["working tree"]["seconds"] / record["ar_seconds"], 1)
            rows[control] = row
            print(control, json.dumps(row), flush=True)
            atomic_write_text(out / "speed.json", json.dumps(record, indent=2) + "\n")
            atomic_write_text(out / "speed.md", markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    ref, s = record["ref"], record["settings"]
    n = s["targets"] * s["samples"]
    lines = [f"# Speed: {ref} against the working tree ({record['date']})", "", f"`{record['command']}`", "",
             f"Machine: {record['machine']}. Working tree at {record['head']} (plus uncommitted changes, if any). "
             f"{s['targets']} held-out targets × {s['samples']} samples = {n} sentences per control through "
             "`dlmctl generate --targets`, each version at its defaults, wall time of the whole command "
             f"(start-up and model loading included; the median of {s.get('repeats', 1)} run(s) each, the "
             f"versions taking turns). AR reference: the teacher LM sampling {n} sentences "
             f"in a process of its own, {record['ar_seconds']} s.", "",
             "| control | s (ref) | s (now) | sentences/s (ref) | sentences/s (now) | speed-up | now ÷ AR |",
             "|---|---|---|---|---|---|---|"]
    for control, row in record["results"].items():
        old, new = row[ref], row["working tree"]
        lines.append(f"| {control} | {old['seconds']} | {new['seconds']} | {old['sentences_per_s']} | "
                     f"{new['sentences_per_s']} | {row['speed_up']}× | {row['times_ar']}× |")
    lines += ["", "Start-up, median of 3 (s):", "", f"| command | {ref} | working tree |", "|---|---|---|"]
    for name, times in record["startup"].items():
        lines.append(f"| dlmctl {name} | {times[ref]} | {times['working tree']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["ar-sample"]:
        ar_sample(sys.argv[2], int(sys.argv[3]))
    else:
        main()
