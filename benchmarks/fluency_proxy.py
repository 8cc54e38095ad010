"""How well the automatic per-sentence fluency score agrees with a blind reading.

Reads reading sheets (``id<TAB>text`` lines, generated outputs shuffled with human sentences), their
keys (``id → source``) and their readers' labels (``labels.tsv``, or one ``labels_*.tsv`` per reader:
``id<TAB>G|U``; each reader's mark counts as one labelled line), scores every line with the teacher
(:func:`dlmctl.fluency.sentence_scores`: NLL of the least likely token) and reports the ranking
agreement (AUC: the chance that a line read as ungrammatical scores worse than one read as
grammatical), the agreement of the fluent/not-fluent call with the reading at each threshold, and
per source the share read grammatical beside the share the teacher calls fluent, by band of the
worst-token NLL the share of generated lines read grammatical, and that of generated lines with a
repeat (:func:`dlmctl.fluency.repeats`: a word said twice in a row, a trigram said twice) beside
those without (the score counts a repeated word as :data:`dlmctl.fluency.REPEAT_NLL` at least), and
of the lines the installed critics find a flaw in (:func:`dlmctl.critique.sentence_flaws`, judging
as for ``--model``), generated (and among them those the teacher calls fluent, and the rest) and
human, beside those they do not.

    python benchmarks/fluency_proxy.py benchmarks/results/reading/calibration \\
        [--teacher plugins/dlmctl-e2e/dlmctl_e2e/model/teacher] [--model plugins/dlmctl-e2e/dlmctl_e2e/model] \\
        [--out benchmarks/results/fluency_proxy]

Several folders pool their lines (``benchmarks/results/reading/*/``: every reading so far; folders
without labels are skipped and named on stderr).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.critique import sentence_flaws
from dlmctl.fluency import DEFAULT_THRESHOLD, repeats, sentence_scores
from dlmctl.teacher import load_teacher
from dlmctl.vocab import tokenize

THRESHOLDS = tuple(sorted({5.0, 6.0, 6.5, 7.0, 7.5, 8.0, 9.0, DEFAULT_THRESHOLD}))
#: edges (nats) of the worst-token NLL bands whose generated lines' read share is reported
BANDS = (0.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 10.0, float("inf"))


def repeat_kind(text: str) -> str:
    """"twice in a row" where a word of ``text`` repeats the one before it, else "trigram twice" where
    a trigram repeats (:func:`dlmctl.fluency.repeats`), else "none"."""
    words = tokenize(text)
    if any(a == b for a, b in zip(words, words[1:])):
        return "twice in a row"
    return "trigram twice" if any(repeats(words)) else "none"


def read_reading(folder: Path) -> tuple[list[str], list[str], list[bool]]:
    """Texts, sources and grammatical-or-not of every labelled line of a reading folder, once per
    reader."""
    sheet = dict(line.rstrip("\n").split("\t", 1) for line in (folder / "sheet.txt").open(encoding="utf-8")
                 if "\t" in line)
    key = json.loads((folder / "key.json").read_text())
    texts, sources, good = [], [], []
    for labels in sorted(folder.glob("labels*.tsv")):
        for line in labels.open(encoding="utf-8"):
            parts = line.strip().split("\t")
            if len(parts) == 2 and parts[0] in sheet:
                texts.append(sheet[parts[0]])
                sources.append(key[parts[0]])
                good.append(parts[1].upper() == "G")
    return texts, sources, good


def read_readings(folders: list[Path]) -> tuple[list[str], list[str], list[bool]]:
    """:func:`read_reading` of every folder with a sheet, a key and labels, pooled."""
    texts, sources, good = [], [], []
    for folder in folders:
        if not ((folder / "sheet.txt").is_file() and (folder / "key.json").is_file() and any(folder.glob("labels*.tsv"))):
            print(f"skipped {folder}: no sheet.txt, key.json and labels*.tsv", file=sys.stderr)
            continue
        for pooled, more in zip((texts, sources, good), read_reading(folder)):
            pooled.extend(more)
    return texts, sources, good


def auc(scores: torch.Tensor, bad: torch.Tensor) -> float:
    """P(score of a bad line > score of a good line), ties counting half."""
    worse, better = scores[bad], scores[~bad]
    wins = (worse[:, None] > better[None, :]).float() + 0.5 * (worse[:, None] == better[None, :]).float()
    return wins.mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reading", type=Path, nargs="+",
                        help="folders with sheet.txt, key.json and labels.tsv (or labels_*.tsv)")
    parser.add_argument("--teacher", default="plugins/dlmctl-e2e/dlmctl_e2e/model/teacher")
    parser.add_argument("--model", default="plugins/dlmctl-e2e/dlmctl_e2e/model",
                        help="the model whose sentences the critics judge the lines as")
    parser.add_argument("--out", default="benchmarks/results/fluency_proxy")
    args = parser.parse_args()
    texts, sources, good = read_readings(args.reading)
    scores = sentence_scores(load_teacher(args.teacher), [tokenize(text) for text in texts])
    bad = ~torch.tensor(good)
    generated = torch.tensor([s != "human" for s in sources])
    record = {
        "command": "python " + shlex.join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "lines": len(texts), "read_grammatical": round(100 * (~bad).float().mean().item(), 1),
        "auc": round(auc(scores, bad), 3), "auc_generated_only": round(auc(scores[generated], bad[generated]), 3),
        "agreement": {str(t): round(100 * ((scores <= t) == ~bad).float().mean().item(), 1) for t in THRESHOLDS},
        "sources": {}, "bands": {}, "repeats": {}, "critics": {},
    }
    flawed = torch.tensor([bool(found) for found in sentence_flaws(load_model(args.model), texts)])
    called = scores <= DEFAULT_THRESHOLD
    for name, rows in (("generated, a flaw", generated & flawed), ("generated, none", generated & ~flawed),
                       ("generated fluent, a flaw", generated & called & flawed),
                       ("generated fluent, none", generated & called & ~flawed),
                       ("generated not fluent, a flaw", generated & ~called & flawed),
                       ("generated not fluent, none", generated & ~called & ~flawed),
                       ("human, a flaw", ~generated & flawed), ("human, none", ~generated & ~flawed)):
        record["critics"][name] = {"lines": int(rows.sum()), "read_grammatical":
                                   round(100 * (~bad[rows]).float().mean().item(), 1) if rows.any() else None}
    kinds = [repeat_kind(text) for text in texts]
    for kind in ("none", "twice in a row", "trigram twice"):
        rows = generated & torch.tensor([k == kind for k in kinds])
        record["repeats"][kind] = {"lines": int(rows.sum()), "read_grammatical":
                                   round(100 * (~bad[rows]).float().mean().item(), 1) if rows.any() else None}
    for low, high in zip(BANDS, BANDS[1:]):
        rows = generated & (scores >= low) & (scores < high)
        record["bands"][f"{low:g}–{high:g}"] = {"lines": int(rows.sum()), "read_grammatical":
                                                 round(100 * (~bad[rows]).float().mean().item(), 1) if rows.any() else None}
    for source in sorted(set(sources)):
        rows = torch.tensor([s == source for s in sources])
        record["sources"][source] = {"lines": int(rows.sum()),
                                     "read_grammatical": round(100 * (~bad[rows]).float().mean().item(), 1),
                                     "fluent": round(100 * (scores[rows] <= DEFAULT_THRESHOLD).float().mean().item(), 1)}
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    lines = [f"# Per-sentence fluency vs a blind reading ({record['date']})", "",
             f"`{record['command']}`", "",
             f"{record['lines']} lines, {record['read_grammatical']} % read as grammatical. Ranking agreement "
             f"(AUC) of the teacher's worst-token NLL with the reading: {record['auc']} over all lines, "
             f"{record['auc_generated_only']} over generated lines.", "",
             "| threshold (nats) | " + " | ".join(record["agreement"]) + " |",
             "|---|" + "---|" * len(record["agreement"]),
             "| agreement % | " + " | ".join(str(v) for v in record["agreement"].values()) + " |", "",
             f"| source | lines | read grammatical % | fluent % (≤ {DEFAULT_THRESHOLD:g} nats) |", "|---|---|---|---|"]
    for source, r in record["sources"].items():
        lines.append(f"| {source} | {r['lines']} | {r['read_grammatical']} | {r['fluent']} |")
    lines += ["", "| worst-token NLL (nats) | generated lines | read grammatical % |", "|---|---|---|"]
    lines += [f"| {band} | {r['lines']} | {r['read_grammatical']} |" for band, r in record["bands"].items()]
    lines += ["", "| repeat | generated lines | read grammatical % |", "|---|---|---|"]
    lines += [f"| {kind} | {r['lines']} | {r['read_grammatical']} |" for kind, r in record["repeats"].items()]
    lines += ["", "| critics (`dlmctl plugins`) | lines | read grammatical % |", "|---|---|---|"]
    lines += [f"| {kind} | {r['lines']} | {r['read_grammatical']} |" for kind, r in record["critics"].items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
