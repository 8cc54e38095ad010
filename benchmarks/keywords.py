"""Benchmark the ``keywords`` control: success (all keywords present) against unguided sampling.

Targets: 2 content words from each of N sentences of E2E valid.csv (seeded choice of words that are
not stop words and are in the model vocabulary). Every target is sampled ``--samples`` times per
variant. Variants:

- ``unguided``: no control (how often the words appear by chance);
- ``held``: the shipped control: each keyword held at its most plausible start of every step
  (a word bias, no λ);
- ``lse@λ``: the gradient term the control shipped before: soft maximum over start positions s
  (logsumexp_s log p_s) of the rounding head of the latents x;
- ``noisyor@λ``: log P(keyword at least once) = log(1 − Π_s (1 − p_s)) instead of the soft maximum;
- ``max@λ``: the best start position only (max_s log p_s) instead of the soft maximum;
- ``x0@λ``: the ``lse`` term on the denoiser's x̂0 prediction (one more denoiser pass per guide step).

Repeats: mean number of extra copies of present keywords per sample. Fluency proxy: perplexity of
the samples under an add-one interpolated bigram LM of train.csv (lower is better), beside the same
figure for the human references of the targets.

    OMP_NUM_THREADS=1 python benchmarks/keywords.py --model runs/e2e-small --out benchmarks/results/keywords
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import platform
import random
import time
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl.checkpoint import atomic_write_text, load_model
from dlmctl.control import Guidance
from dlmctl.generation import generate
from dlmctl.plugins import PluginHost
from dlmctl.sampling import SamplerConfig
from dlmctl.vocab import tokenize
from dlmctl_keywords import KeywordsControl, KeywordsTarget
from dlmctl_keywords.terms import keyword_log_prob, pack_targets, soft_max_over_positions

E2E = Path(__file__).resolve().parents[2] / "shared" / "data" / "e2e"


class GradientKeywordsControl(KeywordsControl):
    """The term the control used before it held its keywords: a gradient on the latents x of the
    soft maximum over starts (logsumexp_s log p_s) of the rounding head's log p(word at s | x),
    taken along its direction (one Adagrad accumulator per sentence), the candidates ranked by
    loss and fluency together."""

    guidance_schedule = {"guide_norm": "sentence"}
    default_weight = 1e-3   # its default before keywords were held
    fluent_first = False
    default_candidates = None

    def word_log_probs(self, model, x, t):
        """log p(word at position | x): the rounding head on the latents, (B, L, d) → (B, L, V)."""
        return torch.log_softmax(model.denoiser.logits(x), dim=-1)

    def over_positions(self, starts):
        """(B, L, K) log p(keyword k starts at s) → (B, K) log p(keyword k occurs)."""
        return soft_max_over_positions(starts)

    def guidance(self, model, targets):
        index, valid, used = (tensor.to(model.device) for tensor in pack_targets(targets))

        def log_prob(x, t):
            return keyword_log_prob(self.word_log_probs(model, x, t), index, valid, used, self.over_positions)

        return Guidance(log_prob=log_prob)


class X0KeywordsControl(GradientKeywordsControl):
    """The gradient term on the denoiser's x̂0 instead of the latents."""

    def word_log_probs(self, model, x, t):
        return torch.log_softmax(model.denoiser.logits(model.denoiser(x, t)), dim=-1)


def log1mexp(z: torch.Tensor) -> torch.Tensor:
    """log(1 − exp(z)) for z ≤ 0, accurate at both ends; z is clamped just below 0."""
    z = z.clamp(max=-1e-6)
    return torch.where(z > -0.6931, torch.log(-torch.expm1(z)), torch.log1p(-torch.exp(z)))


class NoisyOrKeywordsControl(GradientKeywordsControl):
    """log P(keyword at least once) = log(1 − Π_s (1 − p_s)) instead of the soft maximum."""

    def over_positions(self, starts):
        return log1mexp(log1mexp(starts).sum(1))


class MaxKeywordsControl(GradientKeywordsControl):
    """The best start position only (hard maximum) instead of the soft maximum."""

    def over_positions(self, starts):
        return starts.max(1).values


VARIANTS = {"unguided": None, "held": KeywordsControl, "lse": GradientKeywordsControl, "noisyor": NoisyOrKeywordsControl,
            "max": MaxKeywordsControl, "x0": X0KeywordsControl}


def host_with(control: KeywordsControl) -> PluginHost:
    """A plugin host holding only ``control``."""
    return PluginHost.with_controls(control, name="benchmark-keywords")


def read_sentences(path: Path) -> list[str]:
    with open(path, newline="") as f:
        return [row["human_reference"] for row in csv.DictReader(f)]


def pick_targets(sentences: list[str], vocab, count: int, seed: int) -> list[tuple[str, str]]:
    """(keywords, reference sentence) pairs: 2 content words of each of ``count`` sentences."""
    from spacy.lang.en.stop_words import STOP_WORDS

    known = {w.lower() for w in vocab.words}
    rng = random.Random(seed)
    order = list(range(len(sentences)))
    rng.shuffle(order)
    targets = []
    for i in order:
        words = sorted({w.lower() for w in tokenize(sentences[i])
                        if w.isalpha() and len(w) > 2 and w.lower() not in STOP_WORDS and w.lower() in known})
        if len(words) >= 2:
            targets.append((", ".join(rng.sample(words, 2)), sentences[i]))
        if len(targets) == count:
            break
    return targets


class BigramLM:
    """Add-one bigram LM interpolated with a unigram LM, over lower-cased words."""

    def __init__(self, sentences: list[str], mix: float = 0.7):
        self.unigrams, self.bigrams, self.mix = Counter(), Counter(), mix
        for s in sentences:
            words = ["<s>", *(w.lower() for w in tokenize(s)), "</s>"]
            self.unigrams.update(words)
            self.bigrams.update(zip(words, words[1:]))
        self.total, self.types = sum(self.unigrams.values()), len(self.unigrams) + 1

    def perplexity(self, texts: list[str]) -> float:
        nll, count = 0.0, 0
        for text in texts:
            words = ["<s>", *(w.lower() for w in tokenize(text)), "</s>"]
            for prev, word in zip(words, words[1:]):
                uni = (self.unigrams[word] + 1) / (self.total + self.types)
                bi = (self.bigrams[prev, word] + 1) / (self.unigrams[prev] + self.types)
                nll -= math.log(self.mix * bi + (1 - self.mix) * uni)
                count += 1
        return math.exp(nll / count)


def keyword_counts(text: str, target: KeywordsTarget) -> tuple[int, int]:
    """(keywords present, extra copies of present keywords) in ``text``."""
    words = [w.lower() for w in tokenize(text)]
    counts = [sum(tuple(words[s:s + len(p)]) == p for s in range(len(words))) for p in target.phrases]
    return sum(c > 0 for c in counts), sum(max(c - 1, 0) for c in counts)


def run_variant(model, control: KeywordsControl | None, weight: float, targets, samples: int,
                sampler: SamplerConfig, seed: int) -> tuple[list[str], float]:
    rows = [{"keywords": kw} if control else {} for kw, _ in targets for _ in range(samples)]
    host = host_with(control or KeywordsControl())
    weights = {"keywords": weight} if control and weight else None
    start = time.perf_counter()
    texts = generate(model, rows, weights=weights, sampler=sampler, seed=seed, host=host)
    return [t.text for t in texts], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="runs/e2e-small")
    parser.add_argument("--data", type=Path, default=E2E)
    parser.add_argument("--targets", type=int, default=20)
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--variants", default="unguided,held,lse@0.001",
                        help="comma-separated: unguided, held, lse@λ, noisyor@λ, max@λ, x0@λ")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/keywords"))
    args = parser.parse_args()

    torch.set_num_threads(1)
    started = time.perf_counter()
    model = load_model(Path(args.model))
    targets = pick_targets(read_sentences(args.data / "valid.csv"), model.vocab, args.targets, args.seed)
    lm = BigramLM(read_sentences(args.data / "train.csv"))
    scorer = KeywordsControl()
    parsed = [scorer.parse_target(kw, model) for kw, _ in targets]
    sampler = SamplerConfig(steps=args.steps)
    results = {"references": {"bigram_ppl": lm.perplexity([ref for _, ref in targets])}}
    for variant in args.variants.split(","):
        kind, _, weight = variant.partition("@")
        control = VARIANTS[kind]() if VARIANTS[kind] else None
        texts, seconds = run_variant(model, control, float(weight or 0), targets, args.samples,
                                     sampler, args.seed)
        scores = [scorer.score(t, parsed[i // args.samples]) for i, t in enumerate(texts)]
        counts = [keyword_counts(t, parsed[i // args.samples]) for i, t in enumerate(texts)]
        results[variant] = {
            "success": sum(scores) / len(scores),
            "keyword_recall": sum(f for f, _ in counts) / sum(len(p.phrases) for p in parsed) / args.samples,
            "extra_copies": sum(e for _, e in counts) / len(texts),
            "bigram_ppl": lm.perplexity(texts),
            "seconds": seconds,
            "examples": [{"keywords": targets[i // args.samples][0], "text": texts[i]}
                         for i in range(0, len(texts), args.samples)][:5],
        }
        r = results[variant]
        print(f"{variant:>14}: success {r['success']:.3f}  recall {r['keyword_recall']:.3f}  extra copies "
              f"{r['extra_copies']:.2f}  bigram ppl {r['bigram_ppl']:.1f}  {seconds:.0f} s", flush=True)
    model_config = json.loads((Path(args.model) / "config.json").read_text())
    report = {
        "command": "OMP_NUM_THREADS=1 python benchmarks/keywords.py " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "data"),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} thread(s), "
                   f"torch {torch.__version__}, {platform.python_implementation()} {platform.python_version()}",
        "model": {"path": args.model, "steps_done": model_config.get("training", {}).get("steps_done")},
        "targets": [kw for kw, _ in targets],
        "samples_per_target": args.samples,
        "sampling_steps": args.steps,
        "seconds_total": time.perf_counter() - started,
        "results": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# keywords control: success vs unguided sampling", "",
        f"- command: `{report['command']}`", f"- date: {report['date']}",
        f"- machine: {report['machine']}",
        f"- model: `{report['model']['path']}` after {report['model']['steps_done']} training steps",
        f"- {len(report['targets'])} targets (2 content words of E2E valid.csv sentences) × "
        f"{report['samples_per_target']} samples, {report['sampling_steps']} sampling steps",
        f"- time taken: {report['seconds_total']:.0f} s", "",
        "| variant | success (all keywords) | keyword recall | extra copies | bigram ppl | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, r in report["results"].items():
        if name == "references":
            continue
        lines.append(f"| {name} | {r['success']:.3f} | {r['keyword_recall']:.3f} | {r['extra_copies']:.2f} | "
                     f"{r['bigram_ppl']:.1f} | "
                     f"{r['seconds']:.0f} |")
    lines += ["", f"Human references of the targets: bigram ppl {report['results']['references']['bigram_ppl']:.1f}.",
              "", "Examples (first sample of the first targets):", ""]
    for name, r in report["results"].items():
        for ex in r.get("examples", [])[:3]:
            lines.append(f"- {name} [{ex['keywords']}]: {ex['text']}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
