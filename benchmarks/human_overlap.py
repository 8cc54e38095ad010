"""How alike human sentences are that share a structural target: the same-target overlap (mean
pairwise word-bigram Jaccard, :func:`dlmctl.diversity.bigram_jaccard`) of the training sentences
that have one UPOS sequence under the annotator, beside that of sentences that only share a
length and that of the reference sentences of one E2E meaning.
Only sentences whose tag sequence another distinct sentence shares can be grouped, so the pos
figure describes the corpus's repeated structures, not what writers given a tag sequence
would write.

    OMP_NUM_THREADS=1 python benchmarks/human_overlap.py --data ../shared/data/e2e \\
        --out benchmarks/results/human_overlap.md
"""

from __future__ import annotations

import argparse
import csv
import random
import shlex
import sys
from collections import defaultdict
from datetime import datetime, timezone
from pathlib import Path

from dlmctl.annotators import get_annotator
from dlmctl.checkpoint import atomic_write_text
from dlmctl.data import load_texts
from dlmctl.diversity import same_target_overlap
from dlmctl.vocab import detokenize, tokenize


def meaning_groups(path: Path) -> list[list[str]]:
    """The distinct reference sentences of each meaning representation of an E2E CSV that has 2+."""
    by_meaning: dict[str, set[str]] = defaultdict(set)
    with open(path, newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            by_meaning[row["meaning_representation"]].add(detokenize(tokenize(row["human_reference"])))
    return [sorted(g) for g in by_meaning.values() if len(g) >= 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=Path("../shared/data/e2e"))
    parser.add_argument("--annotator", default="spacy")
    parser.add_argument("--group-size", type=int, default=5, help="sentences drawn per length group")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/human_overlap.md"))
    args = parser.parse_args()
    texts = sorted({detokenize(tokenize(t)) for t in load_texts(str(args.data / "train.csv"), "human_reference")})
    tagger = get_annotator(args.annotator)
    by_tags: dict[str, list[str]] = defaultdict(list)
    for start in range(0, len(texts), 512):
        batch = texts[start:start + 512]
        for text, tagged in zip(batch, tagger.tag(batch)):
            by_tags[" ".join(tag for _, tag in tagged)].append(text)
    pos_groups = [g for g in by_tags.values() if len(g) >= 2]

    rng = random.Random(args.seed)
    by_length: dict[int, list[str]] = defaultdict(list)
    for text in texts:
        by_length[len(tokenize(text))].append(text)
    length_groups = [rng.sample(g, args.group_size) for g in by_length.values() if len(g) >= args.group_size]

    rows = [("one UPOS sequence (training sentences that share one)", pos_groups),
            (f"one length ({args.group_size} drawn per length)", length_groups),
            ("one E2E meaning (train.csv references)", meaning_groups(args.data / "train.csv")),
            ("one E2E meaning (valid.csv references)", meaning_groups(args.data / "valid.csv"))]
    lines = [f"# Same-target overlap of human sentences ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC)", "",
             f"`python {' '.join(shlex.quote(a) for a in sys.argv)}`", "",
             f"{len(texts)} distinct training sentences; annotator {args.annotator}.", "",
             "| sentences sharing | groups | sentences | overlap |", "|---|---|---|---|"]
    for label, groups in rows:
        lines.append(f"| {label} | {len(groups)} | {sum(len(g) for g in groups)} | {same_target_overlap(groups):.3f} |")
    report = "\n".join(lines) + "\n"
    atomic_write_text(args.out, report)
    print(report)


if __name__ == "__main__":
    main()
