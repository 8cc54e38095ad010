"""Exact repeats among the samples of one target, with and without redrawing them.

For each control, the same held-out targets × samples go through ``dlmctl.generation.generate`` at
the defaults twice: with ``redraws=0`` (a row whose pool held nothing else keeps its copy) and at the
default (such rows are drawn again with more noise). Variant ``infill`` fills templates made of the
same sentences, the middle third blanked one word per blank, with ``dlmctl_infill.fill.infill`` as
``dlmctl infill`` does (the consensus of 4 samples per filling). Per control it reports the exact
repeats (rows whose text equals an earlier sample of the same target), success, the teacher's
fluent share of the redrawn rows and of all rows, the same-target overlap and the time. Quality of
the redrawn rows is read blind with ``--sheet DIR`` (``read_sheet.py make``).

    python benchmarks/repeats.py --model plugins/dlmctl-e2e/dlmctl_e2e/model --valid valid.csv \\
        --targets 10 --samples 5 --variants pos,tree,semantic --out benchmarks/results/repeats
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from controls import cpu_name, diversity, make_targets, teacher_view  # noqa: E402

from dlmctl.checkpoint import atomic_write_text, load_model  # noqa: E402
from dlmctl.errors import TargetError  # noqa: E402
from dlmctl.generation import REDRAWS, exact_repeats, generate  # noqa: E402
from dlmctl.plugins import PluginHost  # noqa: E402
from dlmctl.teacher import model_teacher  # noqa: E402
from dlmctl.vocab import tokenize  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--valid", required=True, help="held-out E2E CSV (targets come from it)")
    parser.add_argument("--targets", type=int, default=10)
    parser.add_argument("--samples", type=int, default=5, help="samples per target")
    parser.add_argument("--variants", default="pos,tree,semantic")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sheet", help="write each control's redrawn rows, before and after, as JSONL here")
    parser.add_argument("--out", default="benchmarks/results/repeats")
    args = parser.parse_args()
    torch.set_num_threads(1)
    model = load_model(args.model)
    teacher = model_teacher(model)
    host = PluginHost()
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, "spacy", args.seed,
                           {w.lower() for w in model.vocab.words})
    results = {}
    for name in args.variants.split(","):
        control = host.control(name)
        if name == "infill":
            targets_of = [{name: infill_template(t["sentence"])} for t in targets]
            targets_of = [t for t in targets_of if fits(control, t[name], model)]
        else:
            targets_of = [{name: t[name]} for t in targets]
        requests = [t for t in targets_of for _ in range(args.samples)]
        runs = {}
        for label, redraws in (("kept copies", 0), ("redrawn", REDRAWS)):
            started = time.monotonic()
            texts = sample(model, name, targets_of, requests, args.samples, args.seed, redraws)
            runs[label] = (texts, time.monotonic() - started)
        before, after = runs["kept copies"][0], runs["redrawn"][0]
        changed = [i for i, (a, b) in enumerate(zip(before, after)) if a != b]
        parsed = {t[name]: control.parse_target(t[name], model) for t in targets_of}
        results[name] = {
            label: {"exact_repeats": len(exact_repeats(requests, texts)),
                    "success": round(100 * sum(control.score(text, parsed[r[name]]) for text, r in zip(texts, requests))
                                     / len(texts), 1),
                    **teacher_view(teacher, texts), **diversity(texts, args.samples), "seconds": round(seconds, 1)}
            for label, (texts, seconds) in runs.items()}
        results[name]["rows_changed"] = len(changed)
        results[name]["changed_fluent"] = {"before": teacher_view(teacher, [before[i] for i in changed])["fluent"],
                                           "after": teacher_view(teacher, [after[i] for i in changed])["fluent"]}
        if args.sheet and changed:
            for label, texts in (("before", before), ("after", after)):
                lines = "".join(json.dumps({"controls": requests[i], "text": texts[i]}) + "\n" for i in changed)
                atomic_write_text(Path(args.sheet) / f"{name}_{label}.jsonl", lines)
        print(name, json.dumps(results[name]), flush=True)
    record = {"command": "python " + shlex.join(sys.argv),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{cpu_name()}, 1 thread, torch {torch.__version__}", "results": results}
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(record))
    print(markdown(record))


def sample(model, name: str, targets: list[dict], requests: list[dict], samples: int, seed: int,
           redraws: int) -> list[str]:
    """The texts of ``samples`` samples per target, in the order of ``requests``."""
    if name == "infill":
        from dlmctl_infill.fill import DEFAULT_MBR, infill

        filled = infill(model, [t[name] for t in targets], samples, mbr=DEFAULT_MBR, seed=seed,
                        show_progress=False, redraws=redraws)
        return [f.text for fillings in filled for f in fillings]
    return [g.text for g in generate(model, requests, seed=seed, candidates=None, show_progress=False,
                                     redraws=redraws)]


def infill_template(sentence: str) -> str:
    """``sentence`` with the words of its middle third blanked, one ``___`` per word."""
    words = tokenize(sentence)
    keep = len(words) // 3
    return " ".join(words[:keep] + ["___"] * (len(words) - 2 * keep) + words[len(words) - keep:])


def fits(control, template: str, model) -> bool:
    """Whether the model can fill ``template`` (its known words are in the vocabulary)."""
    try:
        control.parse_target(template, model)
    except TargetError:
        return False
    return True


def markdown(record: dict) -> str:
    lines = [f"# Exact repeats among the samples of one target ({record['date']})", "",
             f"`{record['command']}`", "", f"Machine: {record['machine']}.", "",
             "| control | rows | exact repeats | success % | fluent % | overlap | seconds | rows changed | "
             "their fluent % before → after |", "|---|---|---|---|---|---|---|---|---|"]
    for name, r in record["results"].items():
        for label in ("kept copies", "redrawn"):
            x = r[label]
            extra = (f" {r['rows_changed']} | {r['changed_fluent']['before']} → {r['changed_fluent']['after']} |"
                     if label == "redrawn" else " | |")
            lines.append(f"| {name} | {label} | {x['exact_repeats']} | {x['success']} | {x['fluent']} | "
                         f"{x['overlap']} | {x['seconds']} |{extra}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
