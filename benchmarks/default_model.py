"""Evidence for a trained model (default: the bundled one): held-out loss terms and rounding accuracy
on valid.csv, unguided samples with distinct-n, verbatim copies of training sentences and their
teacher lm-score beside the references' (for each of --temperatures, by default 0.7 and the exact
sampler's 1, and each of --candidates, the best of N samples under the model's own loss), and
sampling speed (sentences/s at --steps, batch --batch-size) on this machine.

    python benchmarks/default_model.py [--model DIR] [--teacher DIR] [--samples 500]
        [--temperatures 0.7 1] [--candidates 1] [--out benchmarks/results/default_model.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from dlmctl.checkpoint import atomic_write_text
from dlmctl.cli.common import resolve_model_dir
from dlmctl.checkpoint import load_model
from dlmctl.corpus import prepare, tokenized
from dlmctl.data import load_texts
from dlmctl.generation import generate
from dlmctl.sampling import SamplerConfig
from dlmctl.teacher import load_teacher
from dlmctl.training import evaluate
from dlmctl.vocab import detokenize, tokenize


def distinct_n(texts: list[str], n: int) -> float:
    grams = [tuple(w[i:i + n]) for w in map(str.split, texts) for i in range(len(w) - n + 1)]
    return len(set(grams)) / max(len(grams), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=None)
    parser.add_argument("--teacher", help="teacher LM directory (default: MODEL/teacher, else the bundled one)")
    parser.add_argument("--data", default="../shared/data/e2e")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[SamplerConfig.temperature, 1.0],
                        help="sampling temperatures to report")
    parser.add_argument("--candidates", type=int, nargs="+", default=[1],
                        help="samples per reported sentence (best under the model's loss; with each temperature)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", default="benchmarks/results/default_model.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    started = time.time()
    model_dir = resolve_model_dir(args.model)
    model = load_model(model_dir)
    valid_ids, _ = prepare(f"{args.data}/valid.csv", "human_reference", model.config.seq_len, 0, model.vocab)
    held_out = evaluate(model.denoiser, model.diffusion, valid_ids)

    t0 = time.perf_counter()
    generate(model, [{}] * args.batch_size, sampler=SamplerConfig(steps=args.steps), seed=123, show_progress=False)
    speed = args.batch_size / (time.perf_counter() - t0)

    teacher_dir = Path(args.teacher) if args.teacher else model_dir / "teacher"
    if not teacher_dir.is_dir():
        teacher_dir = resolve_model_dir(None) / "teacher"
    teacher = load_teacher(teacher_dir)
    references = load_texts(f"{args.data}/valid.csv", "human_reference")
    train_sentences = {detokenize(s) for s in tokenized(f"{args.data}/train.csv", "human_reference")}

    def unguided(temperature: float, candidates: int) -> dict:
        """Figures of ``args.samples`` unguided samples at one sampling temperature, each the best of
        ``candidates`` under the model's denoising loss."""
        texts = generate(model, [{}] * args.samples, seed=0, batch_size=args.batch_size, candidates=candidates,
                         sampler=SamplerConfig(steps=args.steps, temperature=temperature))
        lengths = [len(tokenize(t)) for t in texts]
        return {"temperature": temperature, "candidates": candidates, "samples": len(texts),
                "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
                "distinct_3": distinct_n(texts, 3), "unique_sentences": len(set(texts)) / len(texts),
                "verbatim_training_copies": sum(t in train_sentences for t in texts) / len(texts),
                "mean_words": sum(lengths) / len(lengths), "lm_score": teacher.lm_score(texts),
                "examples": texts[:10]}

    report = {
        "model": str(model_dir), "model_training": model.meta.get("training", {}),
        "parameters": sum(p.numel() for p in model.denoiser.parameters()),
        "held_out": held_out,
        "unguided": [unguided(t, c) for t in args.temperatures for c in args.candidates],
        "lm_score_references": teacher.lm_score(references), "teacher": str(teacher_dir),
        "sentences_per_second": speed, "sampling_steps": args.steps, "batch_size": args.batch_size,
        "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} torch threads, "
                   f"torch {torch.__version__}",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "seconds": time.time() - started,
    }
    atomic_write_text(Path(args.out), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps({**report, "unguided": [{k: v for k, v in u.items() if k != "examples"}
                                             for u in report["unguided"]]}, indent=2))
    for u in report["unguided"]:
        print(f"\ntemperature {u['temperature']}, best of {u['candidates']}:", *u["examples"][:5], sep="\n")


if __name__ == "__main__":
    main()
