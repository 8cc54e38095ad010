"""Scratch probe (session 45): pick_distinct keeps samples apart before it keeps them free of the
critics' flaws; here a flawed candidate is taken only when no flaw-free one is left in the pool.
Run as `python probe.py <controls.py arguments>`."""
import json
import runpy
import sys
from pathlib import Path

import dlmctl.generation as generation
import dlmctl.rerank as rerank
from dlmctl.classifiers.storage import classifier_paths
from dlmctl_semantic.meaning import contradictions, value_phrases

model = sys.argv[sys.argv.index("--model") + 1]
_, info = classifier_paths(Path(model), "semantic")
PHRASES = value_phrases(json.loads(info.read_text())["values"])
original = rerank.pick_distinct


def clean_first(order, texts, keep, max_overlap, avoid=()):
    clean = [c for c in order if not contradictions(texts[c], PHRASES)]
    flawed = [c for c in order if c not in clean]
    kept = original(clean, texts, min(keep, len(clean)), max_overlap, avoid)
    if len(kept) < keep:
        kept += original(flawed, texts, keep - len(kept), max_overlap, [*avoid, *(texts[c] for c in kept)])
    return kept


generation.pick_distinct = clean_first
sys.argv = ["benchmarks/controls.py", *sys.argv[1:]]
runpy.run_path("benchmarks/controls.py", run_name="__main__")
