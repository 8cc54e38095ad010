"""The teacher LM's lm-score (exp of mean token NLL, lower is more fluent) on E2E references, on the
same references with their words shuffled (each sentence separately, seeded), and on training
sentences, so that scores of generated text can be read against them.

    OMP_NUM_THREADS=1 python benchmarks/teacher.py --teacher runs/teacher-e2e --out benchmarks/results/teacher.md
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl.checkpoint import atomic_write_text
from dlmctl.data import load_texts
from dlmctl.teacher import load_teacher
from dlmctl.vocab import detokenize, tokenize

E2E = Path(__file__).resolve().parents[2] / "shared" / "data" / "e2e"


def shuffled(texts: list[str], seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for text in texts:
        words = tokenize(text)
        rng.shuffle(words)
        out.append(detokenize(words))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--teacher", type=Path, default=Path("runs/teacher-e2e"))
    parser.add_argument("--data", type=Path, default=E2E)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/teacher.md"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.monotonic()
    teacher = load_teacher(args.teacher)
    valid = load_texts(str(args.data / "valid.csv"))
    train = load_texts(str(args.data / "train.csv"))[:len(valid)]
    params = sum(p.numel() for p in teacher.net.parameters())
    rows = [("valid.csv references", valid), ("valid.csv references, words shuffled", shuffled(valid, args.seed)),
            (f"train.csv, first {len(train)} sentences", train)]
    oov = sum(w not in teacher.vocab for t in valid for w in tokenize(t)) / sum(len(tokenize(t)) for t in valid)
    lines = ["# Teacher LM: lm-score of references", "",
             f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
             f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
             f"- machine: {platform.machine()}, 1 torch thread, load average {os.getloadavg()[0]:.1f} (shared)",
             f"- teacher: {args.teacher} — {params / 1e6:.2f}M parameters, {teacher.net.cfg}, "
             f"trained {teacher.meta.get('training', {}).get('steps_done')} steps "
             f"(`{teacher.meta.get('command', '?')}`)",
             f"- valid.csv words out of the teacher's vocabulary (scored as UNK): {100 * oov:.2f}%", "",
             "| texts | sentences | lm-score |", "|---|---|---|"]
    for name, texts in rows:
        lines.append(f"| {name} | {len(texts)} | {teacher.lm_score(texts):.3f} |")
    lines += ["", f"Time taken: {time.monotonic() - started:.1f} s"]
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
