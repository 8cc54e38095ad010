"""Benchmark of the classifier-guided controls: success of guided vs unguided sampling on the same
targets, fluency under the teacher LM (corpus lm-score and the share of fluent sentences,
:mod:`dlmctl.fluency`), how alike the samples of one target are (same-target overlap, distinct-2),
and speed. Grammaticality itself is read blind: ``--sheet DIR`` writes the outputs as JSONL files for
a reading sheet.

Targets come from held-out sentences, annotated by the same annotator the classifiers were trained
with: each sentence gives a POS sequence, a parse (tree), one of its multi-word constituents (span)
one field=value of its meaning representation that the sentence mentions (semantic), two of its
content words (keywords) and its number of words (length).
``semantic+pos`` composes the semantic and POS targets of the same sentence.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/controls.py --model runs/e2e-small \\
        --valid ../shared/data/e2e/valid.csv --targets 20 --samples 10

Variants: ``NAME`` (the control's default λ), ``NAME@λ`` (another λ), ``NAME:nobias`` (pos/tree
without the length token bias), ``a+b`` (composition). Results: ``benchmarks/results/controls.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shlex
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl import defaults
from dlmctl.annotators import get_annotator
from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.diversity import distinct_n, same_target_overlap
from dlmctl.evaluation import judge
from dlmctl.fluency import DEFAULT_THRESHOLD
from dlmctl.generation import generate
from dlmctl.plugins import PluginHost
from dlmctl.sampling import SamplerConfig
from dlmctl.vocab import detokenize, tokenize
from dlmctl_pos import PosControl
from dlmctl_semantic.meaning import mentions, read_corpus
from dlmctl_syntax import TreeControl

PAPER = {"pos": 90.0, "tree": 86.0, "span": 93.8, "semantic": 81.2}


def make_targets(valid: str, count: int, max_words: int, annotator: str, seed: int,
                 vocabulary: set[str] | None = None) -> list[dict]:
    """``count`` held-out sentences (≤ max_words words, with a mentioned MR value and a multi-word
    non-root constituent) and their targets for every control; keywords come from ``vocabulary``
    (lower case) where given."""
    rng = random.Random(seed)
    keyword_rng = random.Random(seed)      # its own draws: the other targets stay those of earlier runs
    rows = read_corpus(valid)
    rng.shuffle(rows)
    tool = get_annotator(annotator)
    targets = []
    for text, mr in rows:
        words = tokenize(text)
        if len(words) > max_words:
            continue
        sentence = detokenize(words)
        said = [(f, v) for f, v in mr.items() if mentions(sentence, f, v)]
        tree = tool.parse([sentence])[0]
        spans = [s for s in tree.spans() if s[1] > s[0] and (s[0], s[1]) != (0, len(words) - 1)]
        if not said or not spans:
            continue
        field, value = rng.choice(said)
        i, j, label = rng.choice(spans)
        targets.append({"sentence": sentence,
                        "pos": " ".join(tag for _, tag in tool.tag([sentence])[0]),
                        "tree": tree.to_bracketed(), "span": f"{i},{j},{label}",
                        "semantic": f"{field}={value}", "keywords": keywords(words, keyword_rng, vocabulary),
                        "length": str(len(words))})
        if len(targets) == count:
            break
    return targets


def keywords(words: list[str], rng: random.Random, vocabulary: set[str] | None) -> str:
    """Two content words of a sentence (longer than 2 letters, not stop words, in ``vocabulary``
    if given), lower case, as a ``keywords`` target."""
    from spacy.lang.en.stop_words import STOP_WORDS

    content = sorted({w.lower() for w in words if w.isalpha() and len(w) > 2 and w.lower() not in STOP_WORDS
                      and (vocabulary is None or w.lower() in vocabulary)})
    return ", ".join(rng.sample(content, min(2, len(content))))


def variant_host(spec: str, installed: dict) -> tuple[PluginHost, list[str], dict[str, float]]:
    """Host, control names and λ overrides of a variant spec like ``semantic+pos:nobias@1e-3``."""
    names, weights, controls = [], {}, dict(installed)
    for part in spec.split("+"):
        part, _, weight = part.partition("@")
        name, _, flag = part.partition(":")
        names.append(name)
        if weight:
            weights[name] = float(weight)
        if flag == "nobias":
            controls[name] = {"pos": PosControl, "tree": TreeControl}[name](length_bias=False)
    return PluginHost.with_controls(*controls.values(), name="benchmark"), names, weights


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").is_file() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.machine()


def teacher_view(teacher, texts: list[str]) -> dict:
    """lm-score and fluent % of texts (None without a teacher)."""
    if teacher is None or not texts:
        return {"lm_score": None, "fluent": None}
    judged = judge(teacher, texts)
    return {"lm_score": round(judged.lm_score, 3), "fluent": round(100 * judged.fluent, 1)}


def diversity(texts: list[str], samples: int) -> dict:
    """Same-target overlap (groups of ``samples`` consecutive texts) and distinct-2."""
    groups = [texts[k:k + samples] for k in range(0, len(texts), samples)]
    overlap = same_target_overlap(groups)
    return {"overlap": None if overlap is None else round(overlap, 3), "distinct_2": round(distinct_n(texts), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--valid", required=True, help="held-out E2E CSV (targets come from it)")
    parser.add_argument("--teacher", help="teacher LM directory (default: MODEL/teacher if present)")
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--steps", type=int, default=defaults.STEPS)
    parser.add_argument("--guide-steps", type=int,
                        help="gradient steps per denoising step (default: as the CLI, what the controls ask for)")
    parser.add_argument("--guide-lr", type=float,
                        help="learning rate of the guidance's Adagrad steps (default: as the CLI)")
    parser.add_argument("--guided-share", type=float,
                        help="share of the chain, from its noisy start, in which guidance runs")
    parser.add_argument("--guide-every", type=int,
                        help="the classifiers' gradient computed every n-th guided step, reused between "
                             "(default: as the CLI)")
    parser.add_argument("--guide-norm", choices=defaults.GUIDE_NORMS,
                        help="what the Adagrad accumulator sums over (default: as the CLI)")
    parser.add_argument("--tail-stride", type=int, default=defaults.TAIL_STRIDE,
                        help="after the guided share, every n-th step of the chain only")
    parser.add_argument("--temperature", type=float, default=SamplerConfig.temperature)
    parser.add_argument("--word-temperature", type=float, default=SamplerConfig.word_temperature,
                        help="how the clamp picks words (0: the best; 1: drawn as the model scores them; "
                             "default: the model's own, dlmctl.defaults.word_temperature_for)")
    parser.add_argument("--repel", type=float,
                        help="push apart the samples of one target in the guided share (0: independent; "
                             "default: as the CLI)")
    parser.add_argument("--teacher-weight", type=float,
                        help="the teacher's next-word log-probabilities in the clamp after the guided share "
                             "(0: off; default: as the CLI)")
    parser.add_argument("--repair", type=int,
                        help="rounds of repairing the words the teachers find least likely in finished sentences "
                             "(0: off; default: as the CLI)")
    parser.add_argument("--candidates", type=int, default=None,
                        help="keep the best of N samples by the model's loss and the controls' classifiers "
                             "(the CLI's --candidates; default: as the CLI, 4 or what a control asks for)")
    parser.add_argument("--prune-at", type=float, default=None,
                        help="share of the chain all candidates sample before the weak ones are dropped "
                             "(default: as the CLI, 0.5 where classifier controls guide, else 1)")
    parser.add_argument("--survivors", type=int, default=defaults.SURVIVORS,
                        help="candidates per sentence that sample the rest of the chain")
    parser.add_argument("--variants", default="pos,tree,span,semantic,semantic+pos")
    parser.add_argument("--annotator", default="spacy")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0, help="picks the targets (and seeds sampling)")
    parser.add_argument("--sampling-seed", type=int, default=None,
                        help="seed of sampling only (default: --seed): split one measurement over processes")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="benchmarks/results/controls")
    parser.add_argument("--sheet", help="also write each variant's outputs to SHEET/NAME.jsonl for a blind reading")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    model = load_model(args.model)
    teacher = None
    teacher_dir = Path(args.teacher) if args.teacher else Path(args.model) / "teacher"
    if teacher_dir.is_dir():
        from dlmctl.teacher import load_teacher
        teacher = load_teacher(teacher_dir)
    targets = make_targets(args.valid, args.targets, model.config.seq_len - 2, args.annotator, args.seed,
                           {w.lower() for w in model.vocab.words})
    sampling_seed = args.seed if args.sampling_seed is None else args.sampling_seed
    sampler = SamplerConfig(steps=args.steps, guide_steps=args.guide_steps, guide_lr=args.guide_lr,
                            temperature=args.temperature, word_temperature=args.word_temperature,
                            guided_share=args.guided_share, tail_stride=args.tail_stride,
                            guide_every=args.guide_every, guide_norm=args.guide_norm, repel=args.repel,
                            teacher_weight=args.teacher_weight, repair=args.repair)
    controls = PluginHost().controls()

    def sample(requests, host=None, weights=None):
        t0 = time.monotonic()
        texts = generate(model, requests, weights=weights, sampler=sampler, seed=sampling_seed,
                         batch_size=args.batch_size, show_progress=True, host=host, candidates=args.candidates,
                         prune_at=args.prune_at, survivors=args.survivors)
        return [t.text for t in texts], time.monotonic() - t0

    def success(name, texts):
        """Mean oracle success (%) of texts[k] against target k // samples."""
        control = controls[name]
        parsed = {}
        scores = []
        for k, text in enumerate(texts):
            target = targets[k // args.samples][name]
            if target not in parsed:
                parsed[target] = control.parse_target(target, model)
            scores.append(control.score(text, parsed[target]))
        return round(100 * sum(scores) / len(scores), 1)

    n = len(targets) * args.samples

    def write_for_reading(name, texts, requests):
        """``--sheet DIR``: the outputs as DIR/NAME.jsonl, for ``read_sheet.py make``."""
        if args.sheet:
            lines = [json.dumps({"target": k // args.samples, "controls": r, "text": t}, ensure_ascii=False) + "\n"
                     for k, (t, r) in enumerate(zip(texts, requests))]
            atomic_write_text(Path(args.sheet) / f"{name.replace('+', '_')}.jsonl", "".join(lines))
    plain, plain_seconds = sample([{}] * n)
    results = {"unguided": {"seconds": round(plain_seconds, 1), **teacher_view(teacher, plain),
                            "distinct_2": round(distinct_n(plain), 3), "examples": plain[:: args.samples][:5]}}
    write_for_reading("unguided", plain, [{}] * n)
    for spec in args.variants.split(","):
        host, names, weights = variant_host(spec, controls)
        requests = [{name: t[name] for name in names} for t in targets for _ in range(args.samples)]
        texts, seconds = sample(requests, host, weights)
        results[spec] = {
            "controls": names, "weights": {m: weights.get(m, controls[m].default_weight) for m in names},
            "success": {m: success(m, texts) for m in names},
            "unguided_success": {m: success(m, plain) for m in names},
            **teacher_view(teacher, texts), **diversity(texts, args.samples), "seconds": round(seconds, 1),
            "sentences_per_s": round(n / seconds, 2),
            "examples": [{"target": {m: targets[k][m] for m in names}, "text": texts[k * args.samples]}
                         for k in range(min(3, len(targets)))],
        }
        write_for_reading(spec, texts, requests)
        print(spec, json.dumps({k: results[spec][k] for k in ("success", "unguided_success", "lm_score", "fluent",
                                                               "overlap", "sentences_per_s")}), flush=True)
    record = {
        "command": "python " + shlex.join(sys.argv),
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{cpu_name()}, {os.cpu_count()} cores, {torch.get_num_threads()} thread(s) used, "
                   f"torch {torch.__version__}",
        "model": {"dir": args.model, "steps_done": model.meta.get("training", {}).get("steps_done")},
        "settings": {"targets": len(targets), "samples": args.samples, "steps": args.steps,
                     "guide_steps": args.guide_steps, "guide_lr": args.guide_lr, "guided_share": args.guided_share,
                     "tail_stride": args.tail_stride, "guide_every": args.guide_every,
                     "guide_norm": args.guide_norm,
                     "temperature": args.temperature,
                     "word_temperature": defaults.word_temperature_for(model.config.predict, args.word_temperature),
                     "repel": args.repel, "teacher_weight": args.teacher_weight, "repair": args.repair,
                     "candidates": args.candidates,
                     "prune_at": args.prune_at, "survivors": args.survivors, "annotator": args.annotator,
                     "seed": args.seed, "sampling_seed": sampling_seed},
        "humans": teacher_view(teacher, [t["sentence"] for t in targets]),
        "seconds_total": round(time.monotonic() - started, 1),
        "results": results,
    }
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(record, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(out.with_suffix(".md"), markdown(record))
    print(markdown(record))


def pruning(settings: dict) -> str:
    """How the candidates were pruned, for the header ('' when they all finished)."""
    share = settings.get("prune_at", 1.0)
    if share is None:
        return "; pruned as the CLI does by default"
    if share >= 1:
        return ""
    return f"; after the first {100 * share:.0f} % of the chain {settings['survivors']} per sentence go on"


def guidance(settings: dict) -> str:
    """The guidance steps, for the table's header (settings left unset: as each control asks)."""
    steps, lr, every, norm = (settings.get(name, default) for name, default in
                              (("guide_steps", 3), ("guide_lr", 0.1), ("guide_every", 1), ("guide_norm", None)))
    if steps is None and lr is None and every is None and norm is None:
        return "guidance as each control asks (the CLI's defaults)"
    text = f"{steps or 'default'} guide steps (Adagrad lr {lr or 'default'}"
    text += f", one accumulator per {norm}" if norm else ""
    return text + (f", the classifiers' gradient computed every {every} steps)" if every and every > 1 else ")")


def guided_share(settings: dict) -> str:
    """Where guidance runs, for the table's header (None: as each control asks)."""
    share = settings.get("guided_share", 0.9)
    return "in the share of the chain each control asks for" if share is None else f"in the first {100 * share:.0f} %"


def teacher_weight(settings: dict) -> str:
    """The teacher's weight in the clamp, for the table's header (records before it existed: 0)."""
    weight = settings.get("teacher_weight", 0)
    return "as each control asks" if weight is None else f"{weight:g}"


def tail(settings: dict) -> str:
    """How the chain after the guided share is strided, for the table's header."""
    stride = settings.get("tail_stride", 1)
    return f", the rest at a stride of {stride} steps" if stride > 1 else ""


def markdown(record: dict) -> str:
    s = record["settings"]
    lines = [f"# Controls benchmark ({record['date']})", "",
             f"`{record['command']}`", "",
             f"Machine: {record['machine']}. Model: {record['model']['dir']} "
             f"({record['model']['steps_done']} training steps). {s['targets']} targets × {s['samples']} "
             f"samples, {s['steps']} sampling steps, {guidance(s)} {guided_share(s)}{tail(s)}, "
             f"teacher weight {teacher_weight(s)} after the first half, temperature {s.get('temperature', 1.0)}, best of {s.get('candidates') or 'the default'} (model loss + classifier ranks{pruning(s)}), annotator {s['annotator']}. "
             f"Total time {record['seconds_total'] / 60:.1f} min.", "",
             "| variant | control | λ | success guided % | success unguided % | paper % | fluent % | overlap | "
             "distinct-2 | lm-score | sentences/s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for spec, r in record["results"].items():
        if spec == "unguided":
            continue
        for name in r["controls"]:
            weight = "–" if r["weights"][name] is None else f"{r['weights'][name]:g}"
            lines.append(f"| {spec} | {name} | {weight} | {r['success'][name]} | "
                         f"{r['unguided_success'][name]} | {PAPER.get(name, '–')} | {r.get('fluent')} | "
                         f"{r.get('overlap')} | {r.get('distinct_2')} | {r['lm_score']} | {r['sentences_per_s']} |")
    unguided, humans = record["results"]["unguided"], record.get("humans", {})
    lines += ["", f"Unguided: fluent {unguided.get('fluent')} %, distinct-2 {unguided.get('distinct_2')}, lm-score "
                  f"{unguided['lm_score']}. Human references: fluent {humans.get('fluent')} %, lm-score "
                  f"{humans.get('lm_score', record.get('human_lm_score'))} (teacher LM; fluent: worst-token NLL ≤ "
                  f"{DEFAULT_THRESHOLD:g} nats; lm-score lower is better; None: no teacher found). Fluency is "
                  "a proxy: grammaticality is read blind (`--sheet`).", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
