"""How to choose among guided samples: the model's loss, the control's classifier, the teacher's
per-sentence fluency, and keeping the samples of one target apart.

For each control and λ, one pool of ``--candidates`` samples per output (the benchmark targets of
``controls.py``: valid.csv sentences, spaCy annotations); every rule then chooses from the same pool,
so rows differ only in the rule:

- ``first``: each output's first candidate (no choice, ``--candidates 1``);
- ``loss``: the lowest denoising loss (:func:`dlmctl.rerank.denoising_loss`);
- ``loss+classifier``: the best sum of the ranks by loss and by the control's classifier
  (``rank_by_classifier`` controls: the classifier first), each output from its own candidates;
- ``+fluency``: the teacher's per-sentence fluency (:mod:`dlmctl.fluency`) ranks too;
- ``+fluency, distinct ≤ X``: as ``+fluency``, but the teacher-fluent candidates first unless the
  control opts out (``Control.fluent_first``), the outputs of one target choose from their pooled
  candidates and skip one whose word-bigram overlap with a kept sample is above X (what ``dlmctl
  generate`` does, X = ``dlmctl.defaults.MAX_OVERLAP``; ``--max-overlap`` lists the X to compare).

Reported per rule: oracle success, share of fluent samples (teacher worst-token NLL ≤ threshold),
same-target overlap (mean pairwise word-bigram Jaccard) and the teacher's lm-score.

    OMP_NUM_THREADS=1 python benchmarks/selection.py --model plugins/dlmctl-e2e/dlmctl_e2e/model \\
        --valid ../shared/data/e2e/valid.csv --variants pos,semantic
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl import defaults
from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.diversity import same_target_overlap
from dlmctl.fluency import fluent, sentence_scores
from dlmctl.generation import MAX_OVERLAP, generate, prepare_controls, target_log_prob
from dlmctl.plugins import PluginHost
from dlmctl.rerank import denoising_loss, pick_distinct, selection_keys
from dlmctl.sampling import SamplerConfig, WeightedGuidance
from dlmctl.teacher import load_teacher
from dlmctl.vocab import tokenize

sys.path.insert(0, str(Path(__file__).parent))
from controls import cpu_name, make_targets  # noqa: E402

RULES = ("first", "loss", "loss+classifier", "+fluency")
DISTINCT = "+fluency, distinct ≤ "


def choose(rule: str, texts: list[str], loss: torch.Tensor, on_target: torch.Tensor, fluency: torch.Tensor,
           classifier_first: bool, fluent_first: bool, samples: int, candidates: int) -> list[int]:
    """Indices of the kept texts, ``samples`` per target; target k's candidates are the rows
    k·samples·candidates … (k+1)·samples·candidates − 1, ``candidates`` consecutive rows per output."""
    kept = []
    for start in range(0, len(texts), samples * candidates):
        outputs = [torch.arange(start + o * candidates, start + (o + 1) * candidates) for o in range(samples)]
        if rule.startswith(DISTINCT):
            pool = torch.cat(outputs)
            order = pool[selection_keys(loss[pool], on_target[pool], classifier_first, fluency[pool],
                                        fluent_first).argsort(stable=True)]
            kept += pick_distinct(order.tolist(), texts, samples, float(rule.removeprefix(DISTINCT)))
            continue
        for group in outputs:
            if rule == "first":
                kept.append(int(group[0]))
                continue
            keys = selection_keys(loss[group], None if rule == "loss" else on_target[group], classifier_first,
                                  fluency[group] if rule == "+fluency" else None, fluent_first=False)
            kept.append(int(group[keys.argmin()]))
    return kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--valid", required=True)
    parser.add_argument("--teacher", help="teacher LM directory (default: MODEL/teacher)")
    parser.add_argument("--variants", default="span,tree", help="NAME or NAME@λ, comma-separated")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--samples", type=int, default=5, help="outputs per target")
    parser.add_argument("--candidates", type=int, default=4, help="pool size per output")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--guide-steps", type=int, default=defaults.GUIDE_STEPS)
    parser.add_argument("--max-overlap", default=str(MAX_OVERLAP),
                        help="comma-separated overlap caps of the distinct rule to compare")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/selection")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    model = load_model(args.model)
    teacher = load_teacher(args.teacher or Path(args.model) / "teacher")
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, "spacy", args.seed)
    controls = PluginHost().controls()
    results = {}
    for spec in args.variants.split(","):
        name, _, weight = spec.partition("@")
        weights = {name: float(weight)} if weight else None
        requests = [{name: t[name]} for t in targets for _ in range(args.samples * args.candidates)]
        texts = [g.text for g in generate(model, requests, weights=weights, seed=args.seed, batch_size=200,
                                          sampler=SamplerConfig(steps=args.steps, guide_steps=args.guide_steps),
                                          show_progress=True)]
        prepared = prepare_controls(model, requests, weights)
        parsed = [row[name] for row in prepared.targets]
        ids = model.vocab.encode_batch([tokenize(text) for text in texts], model.config.seq_len)
        on_target = torch.cat([target_log_prob(model, [WeightedGuidance(
            controls[name].guidance(model, parsed[s:s + 200]), prepared.weights[name])], ids[s:s + 200])
            for s in range(0, len(ids), 200)])
        success = torch.tensor([controls[name].score(text, target) for text, target in zip(texts, parsed)])
        loss = denoising_loss(model, ids).cpu()
        fluency = sentence_scores(teacher, [tokenize(text) for text in texts])
        nll, count = teacher.nll(texts)
        rows = {}
        for rule in [*RULES, *(DISTINCT + cap for cap in args.max_overlap.split(","))]:
            kept = choose(rule, texts, loss, on_target, fluency, controls[name].rank_by_classifier,
                          controls[name].fluent_first, args.samples, args.candidates)
            groups = [[texts[i] for i in kept[k:k + args.samples]] for k in range(0, len(kept), args.samples)]
            rows[rule] = {"success": round(100 * success[kept].mean().item(), 1),
                          "fluent": round(100 * fluent(fluency[kept]).float().mean().item(), 1),
                          "overlap": round(same_target_overlap(groups), 3),
                          "lm_score": round(math.exp(nll[kept].sum().item() / count[kept].sum().item()), 2)}
        ceiling = success.view(-1, args.candidates).max(1).values.mean().item()
        results[spec] = {"weight": prepared.weights[name], "rules": rows,
                         "best_in_pool": round(100 * ceiling, 1)}
        print(spec, json.dumps(results[spec]), flush=True)
    record = {"command": "python " + shlex.join(sys.argv),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "machine": f"{cpu_name()}, {torch.get_num_threads()} thread(s), torch {torch.__version__}",
              "settings": {k: getattr(args, k) for k in ("targets", "samples", "candidates", "steps", "guide_steps", "seed")},
              "seconds_total": round(time.monotonic() - started, 1), "results": results}
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(record))
    print(markdown(record))


def markdown(record: dict) -> str:
    s = record["settings"]
    rules = list(next(iter(record["results"].values()))["rules"]) if record["results"] else list(RULES)
    lines = [f"# Choosing among guided samples ({record['date']})", "", f"`{record['command']}`", "",
             f"Machine: {record['machine']}. {s['targets']} targets × {s['samples']} outputs, each chosen "
             f"from a pool of {s['candidates']}; {s['steps']} sampling steps, {s.get('guide_steps', 3)} guide steps. Total "
             f"{record['seconds_total'] / 60:.1f} min. Per rule: success % / fluent % / same-target overlap "
             "(lm-score; lower is more fluent).", "",
             "| variant | λ | " + " | ".join(rules) + " | best in pool |",
             "|---|---|" + "---|" * (len(rules) + 1)]
    for spec, r in record["results"].items():
        cells = [f"{c['success']} / {c['fluent']} / {c['overlap']} ({c['lm_score']})"
                 for c in (r['rules'][rule] for rule in rules)]
        lines.append(f"| {spec} | {r['weight']:g} | " + " | ".join(cells) + f" | {r['best_in_pool']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
