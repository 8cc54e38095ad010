"""How the annotator backends' trees and tags compare with hand-checked parses of E2E sentences.

The gold trees below are ten sentences of E2E ``valid.csv``, tokenised as dlmctl tokenises them and
parsed by hand in Penn Treebank style (nested NP/VP, SBAR over relative clauses, QP for amounts) with
UPOS preterminals. For each installed, runnable backend this prints and writes: UPOS accuracy,
labelled bracket F1 (evalb-style, the oracle of the tree control), unlabelled bracket F1, and the
share of gold spans found (the span control's oracle), plus parsing speed on valid.csv.

    OMP_NUM_THREADS=1 python benchmarks/annotators_vs_hand.py --out benchmarks/results/annotators_vs_hand.md
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import sys
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path
from statistics import fmean

import torch

from dlmctl.annotators import AnnotatorUnavailable, get_annotator
from dlmctl.checkpoint import atomic_write_text
from dlmctl.plugins import get_host
from dlmctl.trees import Tree, bracket_f1, span_in

E2E = Path(__file__).resolve().parents[2] / "shared" / "data" / "e2e"

GOLD = [
    "(S (NP (DET The) (PROPN Vaults)) (VP (AUX is) (NP (NP (DET a) (NOUN pub)) (SBAR (WHNP (PRON that)) "
    "(S (VP (VERB serves) (NP (ADJ French) (NOUN food))))))) (PUNCT .))",
    "(S (NP (PRON It)) (VP (AUX is) (PART not) (ADJP (NOUN family) (PUNCT -) (ADJ friendly))) (PUNCT .))",
    "(S (NP (PROPN Blue) (PROPN Spice)) (VP (AUX is) (NP (NP (DET an) (ADJ English) (ADJP (NOUN children) "
    "(ADJ friendly)) (NOUN pub)) (PP (ADP in) (NP (PROPN Riverside))) (PP (ADP near) (NP (DET the) "
    "(PROPN Rainbow) (PROPN Vegetarian) (PROPN Café))))) (PUNCT .))",
    "(S (NP (DET The) (PROPN Vaults)) (VP (AUX is) (PP (ADP near) (NP (PROPN Rainbow) (PROPN Vegetarian) "
    "(PROPN Café)))) (PUNCT .))",
    "(S (NP (DET The) (PROPN Punter)) (VP (AUX is) (VP (VERB rated) (NP (QP (NUM 5) (ADP out) (ADP of) "
    "(NUM 5))) (PP (ADP by) (NP (PRON its) (NOUN customers))))) (PUNCT .))",
    "(S (NP (PRON It)) (VP (VERB has) (NP (NP (DET a) (NOUN price) (NOUN range)) (PP (ADP of) (NP (QP "
    "(ADJ less) (ADP than) (SYM £) (NUM 20)))))) (PUNCT .))",
    "(S (NP (DET The) (PROPN Blue) (PROPN Spice)) (VP (VP (AUX is) (NP (NP (DET a) (ADJ great) (NOUN pub)) "
    "(PP (ADP along) (NP (DET the) (NOUN riverside))))) (PUNCT ,) (CCONJ and) (VP (AUX is) (VP (VERB located) "
    "(PP (ADP near) (NP (PROPN Rainbow) (PROPN Vegetarian) (PROPN Café)))))) (PUNCT .))",
    "(S (NP (PRON It)) (VP (VP (AUX is) (PART not) (ADJP (NOUN family) (ADJ friendly))) (PUNCT ,) "
    "(CCONJ but) (VP (VERB serves) (NP (ADJ Chinese) (NOUN food)))) (PUNCT .))",
    "(S (NP (PRON There)) (VP (VERB is) (NP (NP (DET a) (NOUN restaurant)) (PUNCT ,) (NP (DET The) "
    "(PROPN Punter)) (PUNCT ,) (VP (VERB serving) (NP (ADJ Chinese) (NOUN food)) (PP (ADP along) (NP "
    "(DET the) (NOUN riverside))) (PP (ADP near) (NP (PROPN Raja) (PROPN Indian) (PROPN Cuisine)))))) "
    "(PUNCT .))",
    "(S (NP (ADJ Cheap) (ADJ English) (NOUN food)) (VP (AUX will) (VP (AUX be) (VP (VERB found) (PP (ADP at) "
    "(NP (DET The) (PROPN Cricketers))) (PUNCT ,) (PP (ADP with) (S (NP (DET no) (ADJ noisy) (NOUN kids)) "
    "(VP (VERB allowed))))))) (PUNCT .))",
]


def unlabelled_f1(pred: Tree, gold: Tree) -> float:
    p = Counter((i, j) for i, j, _ in pred.spans())
    g = Counter((i, j) for i, j, _ in gold.spans())
    return 2 * sum((p & g).values()) / (sum(p.values()) + sum(g.values()))


def evaluate_backend(name: str, gold: list[Tree]) -> dict:
    annotator = get_annotator(name)
    texts = [" ".join(t.leaves()) for t in gold]
    tagged = annotator.tag(texts)
    trees = annotator.parse(texts)
    tag_pairs = [(p, g) for sent, tree in zip(tagged, gold) for (_, p), g in zip(sent, tree.preterminals())]
    rows = [{"text": text, "tree": pred.to_bracketed(), "f1": bracket_f1(pred, ref),
             "uf1": unlabelled_f1(pred, ref), "spans": fmean(span_in(pred, s) for s in ref.spans())}
            for text, pred, ref in zip(texts, trees, gold)]
    with open(E2E / "valid.csv", newline="") as f:
        valid = [r["human_reference"] for r in csv.DictReader(f)]
    started = time.perf_counter()
    annotator.parse(valid)
    speed = len(valid) / (time.perf_counter() - started)
    confusions = Counter(f"{g}→{p}" for p, g in tag_pairs if p != g)
    return {"upos_acc": fmean(p == g for p, g in tag_pairs), "f1": fmean(r["f1"] for r in rows),
            "uf1": fmean(r["uf1"] for r in rows), "spans": fmean(r["spans"] for r in rows),
            "speed": speed, "rows": rows, "confusions": confusions.most_common(6), "valid": len(valid)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/annotators_vs_hand.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    gold = [Tree.from_bracketed(t) for t in GOLD]
    started = time.monotonic()
    lines = ["# Annotator backends vs hand-checked parses of E2E sentences", "",
             f"- command: `{' '.join([Path(sys.executable).name, *sys.argv])}`",
             f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
             f"- machine: {platform.machine()}, {platform.processor() or platform.platform()}, 1 torch thread, "
             f"load average {os.getloadavg()[0]:.1f} (shared with other jobs), "
             f"Python {platform.python_version()}", ""]
    for name in get_host().annotators():
        try:
            r = evaluate_backend(name, gold)
        except AnnotatorUnavailable as exc:
            lines += [f"## {name}", "", f"not run: {exc}", ""]
            continue
        lines += [f"## {name}", "",
                  "| sentences | UPOS accuracy | labelled bracket F1 | unlabelled F1 | gold spans found | parses/s (valid.csv) |",
                  "|---|---|---|---|---|---|",
                  f"| {len(gold)} | {r['upos_acc']:.3f} | {r['f1']:.3f} | {r['uf1']:.3f} | {r['spans']:.3f} | "
                  f"{r['speed']:.0f} ({r['valid']} sentences) |", "",
                  "Most frequent tag confusions (gold→predicted): "
                  + (", ".join(f"{c} ×{n}" for c, n in r["confusions"]) or "none"), "",
                  "| F1 | unlabelled | sentence | backend's tree |", "|---|---|---|---|"]
        lines += [f"| {row['f1']:.2f} | {row['uf1']:.2f} | {row['text']} | `{row['tree']}` |" for row in r["rows"]]
        lines.append("")
    lines.append(f"Time taken: {time.monotonic() - started:.1f} s")
    text = "\n".join(lines) + "\n"
    print(text)
    atomic_write_text(args.out, text)


if __name__ == "__main__":
    main()
