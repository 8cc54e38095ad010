"""How well the span-chart classifier behind the ``tree`` and ``span`` controls reads a parse from
noisy latents: head and size variants trained for the same number of steps on ``train.csv``
(spaCy parses), scored on held-out ``valid.csv`` sentences.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/syntax_classifier.py \\
        --model plugins/dlmctl-e2e/dlmctl_e2e/model --train ../shared/data/e2e/train.csv \\
        --valid ../shared/data/e2e/valid.csv --steps 600

Variants ``HEAD:HIDDENxLAYERS`` with HEAD ``additive`` (an MLP of left(h_a) + right(h_b) only) or
``biaffine`` (the shipped :class:`ChartHead`). Reported per noise level: recall of the gold
constituents (their label is the classifier's argmax) and labelled span precision/recall/F1 of
the argmax chart within each sentence. Results: ``benchmarks/results/syntax_classifier.{json,md}``.
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
from torch import nn

from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.classifiers.network import LatentClassifier, encoder_config, param_count
from dlmctl.classifiers.training import (CLEAN, TrainOptions, level_name, model_times, noisy_latents,
                                         train_classifier)
from dlmctl_syntax.chart import ChartHead, parse_charts

LEVELS = [CLEAN, 251, 502, 753, 1005]


class AdditiveHead(nn.Module):
    """The ablation (the head shipped before): :class:`ChartHead` without its biaffine term."""

    def __init__(self, hidden: int, labels: int, width: int = 64):
        super().__init__()
        self.left = nn.Linear(hidden, width)
        self.right = nn.Linear(hidden, width)
        self.out = nn.Sequential(nn.Tanh(), nn.Linear(width, labels))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.out(self.left(h)[:, :, None] + self.right(h)[:, None, :])


@torch.no_grad()
def chart_scores(model, net: LatentClassifier, ids: torch.Tensor, gold: torch.Tensor, level: int,
                 seed: int = 1) -> dict[str, float]:
    """Constituent recall and labelled span P/R/F1 of the argmax chart at model time ``level``;
    ids (N, L), gold (N, L, L) with nulls inside each sentence and IGNORE outside."""
    t = torch.full((len(ids),), level, dtype=torch.long)
    x = noisy_latents(model, ids, t, torch.Generator().manual_seed(seed))
    pred = torch.cat([net(x[i:i + 128], model_times(t[i:i + 128])).argmax(-1) for i in range(0, len(ids), 128)])
    inside, gold = gold >= 0, gold.long()
    hit = ((pred == gold) & (gold > 0)).sum().item()
    predicted, constituents = ((pred > 0) & inside).sum().item(), (gold > 0).sum().item()
    precision, recall = hit / max(predicted, 1), hit / max(constituents, 1)
    return {"recall": round(recall, 3), "precision": round(precision, 3),
            "f1": round(2 * hit / max(predicted + constituents, 1), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="model whose embeddings the classifiers read")
    parser.add_argument("--train", required=True)
    parser.add_argument("--valid", required=True)
    parser.add_argument("--variants", default="additive:64x2,biaffine:64x2,biaffine:128x3")
    parser.add_argument("--steps", type=int, default=600)
    parser.add_argument("--valid-sentences", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/syntax_classifier")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    model = load_model(args.model)
    ids, charts, labels = parse_charts(model, args.train, "spacy")
    valid_ids, valid_charts, _ = parse_charts(model, args.valid, "spacy", labels=labels, limit=args.valid_sentences)
    rows = []
    for spec in args.variants.split(","):
        head_name, size = spec.split(":")
        hidden, layers = map(int, size.split("x"))
        cfg = encoder_config(model, hidden=hidden, layers=layers)
        head = {"additive": AdditiveHead, "biaffine": ChartHead}[head_name](hidden, len(labels))
        net = LatentClassifier(cfg, head)
        clock = time.monotonic()
        train_classifier(model, net, ids, charts, TrainOptions(steps=args.steps, background=0), label=spec)
        seconds = time.monotonic() - clock
        scores = {level_name(level): chart_scores(model, net, valid_ids, valid_charts, level) for level in LEVELS}
        rows.append({"variant": spec, "parameters": param_count(net), "train_seconds": round(seconds), "scores": scores})
        print(spec, scores, file=sys.stderr)
    record = {"command": "python " + shlex.join(sys.argv), "date": datetime.now(timezone.utc).isoformat(timespec="minutes"),
              "threads": args.threads, "steps": args.steps, "valid_sentences": len(valid_ids),
              "minutes": round((time.monotonic() - started) / 60, 1), "rows": rows}
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    head = "| variant | parameters | train s | " + " | ".join(
        f"{level_name(level)} recall / F1" for level in LEVELS) + " |"
    lines = [f"# Syntax chart classifier ({record['date']})", "", f"`{record['command']}`", "",
             f"{record['steps']} training steps each, batch 64, {record['threads']} thread(s); scored on "
             f"{record['valid_sentences']} valid.csv sentences (spaCy parses). Total {record['minutes']} min.", "",
             head, "|" + "---|" * (3 + len(LEVELS))]
    for row in record["rows"]:
        cells = " | ".join(f"{s['recall']:.3f} / {s['f1']:.3f}" for s in row["scores"].values())
        lines.append(f"| {row['variant']} | {row['parameters']:,} | {row['train_seconds']} | {cells} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
