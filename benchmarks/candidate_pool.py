"""Is there anything to choose from? Many independent samples per target, judged one by one.

For each held-out target of ``controls.py`` (same targets for the same ``--seed``), ``--pool``
samples of one control are drawn one at a time (``--candidates 1``: nothing is chosen), each judged
by the control's oracle and the teacher's per-sentence fluency (:mod:`dlmctl.fluency`). Reported per
target: its length, how many samples the teacher finds fluent and how many are fluent and on target
(oracle success ≥ ``--on-target``). A target none of whose samples is fluent cannot be helped by
choosing among more candidates; only sampling can help it.

    OMP_NUM_THREADS=1 python benchmarks/candidate_pool.py --model plugins/dlmctl-e2e/dlmctl_e2e/model \\
        --valid ../shared/data/e2e/valid.csv --control pos --pool 48 --out benchmarks/results/pool
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.fluency import fluent, sentence_scores
from dlmctl.generation import generate
from dlmctl.plugins import PluginHost
from dlmctl.teacher import model_teacher

sys.path.insert(0, str(Path(__file__).parent))
from controls import cpu_name, make_targets  # noqa: E402  (the benchmark targets, shared with controls.py)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--valid", required=True, help="held-out E2E CSV (targets come from it)")
    parser.add_argument("--control", default="pos", help="a control with a target in controls.py's targets")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--pool", type=int, default=48, help="independent samples per target")
    parser.add_argument("--on-target", type=float, default=0.9, help="oracle success that counts as on target")
    parser.add_argument("--seed", type=int, default=0, help="picks the targets (and seeds sampling)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/pool")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    model = load_model(args.model)
    teacher = model_teacher(model)
    if teacher is None:
        parser.error(f"{args.model} has no teacher/: the pool is judged by the teacher's fluency")
    control = PluginHost().controls()[args.control]
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, "spacy", args.seed,
                           {w.lower() for w in model.vocab.words})
    parsed = [control.parse_target(t[args.control], model) for t in targets]
    requests = [{args.control: t[args.control]} for t in targets for _ in range(args.pool)]
    started = time.monotonic()
    texts = [g.text for g in generate(model, requests, candidates=1, seed=args.seed)]
    seconds = time.monotonic() - started
    scores = sentence_scores(teacher, [t.split() for t in texts])
    good = fluent(scores).tolist()
    rows = [{"target": i // args.pool, "text": text, "worst_token_nll": float(score),
             "success": control.score(text, parsed[i // args.pool])}
            for i, (text, score) in enumerate(zip(texts, scores))]
    per_target = []
    for k, target in enumerate(targets):       # target k's samples are rows k·pool … (k+1)·pool − 1
        mine = range(k * args.pool, (k + 1) * args.pool)
        per_target.append({"words": len(target["sentence"].split()), "fluent": sum(good[i] for i in mine),
                           "fluent_on_target": sum(good[i] and rows[i]["success"] >= args.on_target
                                                   for i in mine)})
    result = {"command": shlex.join(sys.argv), "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "machine": f"{cpu_name()}, {os.cpu_count()} cores", "threads": args.threads,
              "control": args.control, "pool": args.pool, "seconds": round(seconds, 1),
              "per_target": per_target, "rows": rows}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out.with_suffix(".json"), json.dumps(result, indent=1))
    lines = [f"# {args.pool} independent {args.control} samples per target", "",
             f"`{result['command']}` ({result['date']}, {result['machine']}, {args.threads} thread(s), "
             f"{seconds:.0f} s)", "",
             f"| target | words | fluent of {args.pool} | fluent and on target |", "|---|---|---|---|"]
    lines += [f"| {k} | {t['words']} | {t['fluent']} | {t['fluent_on_target']} |" for k, t in enumerate(per_target)]
    empty = sum(t["fluent"] == 0 for t in per_target)
    share = sum(good) / len(good)
    lines += ["", f"Fluent samples: {100 * share:.1f} %; targets without a fluent sample: {empty} of {len(targets)}."]
    atomic_write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
