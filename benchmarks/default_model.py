"""Evidence for trained models (default: the bundled one), several side by side in one run: held-out
loss terms and rounding accuracy on valid.csv, unguided samples with distinct-n, verbatim copies of
training sentences, their teacher lm-score and fluent share beside the references' (for each of
--temperatures, by default 0.7 and the exact sampler's 1, each of --teacher-weights, by default the
sampler's, and each of --candidates, chosen as
``dlmctl generate`` chooses), and sampling speed (sentences/s at --steps, batch --batch-size) on
this machine. ``--sheet DIR`` also writes the samples as JSONL for a blind reading.

    python benchmarks/default_model.py [--model DIR [DIR ...]] [--teacher DIR] [--samples 500]
        [--temperatures 0.7 1] [--word-temperatures 0] [--teacher-weights 0 1] [--candidates 1]
        [--out benchmarks/results/default_model.json]
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
from dlmctl import defaults
from dlmctl.defaults import word_temperature_for
from dlmctl.diversity import distinct_n
from dlmctl.evaluation import judge
from dlmctl.generation import generate
from dlmctl.sampling import SamplerConfig
from dlmctl.teacher import load_teacher
from dlmctl.training import evaluate
from dlmctl.vocab import detokenize, tokenize


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", nargs="+", default=[None], help="model directories (default: the bundled one)")
    parser.add_argument("--teacher", help="teacher LM directory (default: MODEL/teacher, else the bundled one)")
    parser.add_argument("--data", default="../shared/data/e2e")
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[SamplerConfig.temperature, 1.0],
                        help="sampling temperatures to report")
    parser.add_argument("--word-temperatures", type=float, nargs="+", default=None,
                        help="how the clamp picks words to report (0: the best; 1: drawn as the model scores "
                             "them; default: each model's own, dlmctl.defaults.word_temperature_for)")
    parser.add_argument("--teacher-weights", type=float, nargs="+", default=[defaults.TEACHER_WEIGHT],
                        help="the teacher's weight in the clamp after the guided share, to report (0: off)")
    parser.add_argument("--candidates", type=int, nargs="+", default=[1],
                        help="samples per reported sentence (best under the model's loss; with each temperature)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", default="benchmarks/results/default_model.json")
    parser.add_argument("--sheet", help="write each model's samples to SHEET/<model>_<temperature>_<candidates>.jsonl")
    args = parser.parse_args()
    if Path(args.out).is_dir() or (args.sheet and Path(args.sheet).resolve() == Path(args.out).resolve()):
        parser.error(f"--out {args.out} is a directory (or --sheet's); expected the report's json file")
    torch.set_num_threads(args.threads)
    started = time.time()
    references = load_texts(f"{args.data}/valid.csv", "human_reference")
    train_sentences = {detokenize(s) for s in tokenized(f"{args.data}/train.csv", "human_reference")}
    reports = [measure(model_dir, args, references, train_sentences) for model_dir in args.model]
    report = {"models": reports,
              "machine": f"{platform.machine()} {platform.processor() or ''} {torch.get_num_threads()} torch threads, "
                         f"torch {torch.__version__}",
              "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "seconds": time.time() - started}
    atomic_write_text(Path(args.out), json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for model in reports:
        print(json.dumps({**model, "unguided": [{k: v for k, v in u.items() if k != "examples"}
                                                for u in model["unguided"]]}, indent=2))
        for u in model["unguided"]:
            print(f"\n{model['model']}, temperature {u['temperature']}, word temperature {u['word_temperature']}, "
                  f"teacher weight {u['teacher_weight']}, best of {u['candidates']}:",
                  *u["examples"][:5], sep="\n")


def measure(model_arg: str | None, args, references: list[str], train_sentences: set[str]) -> dict:
    """Every figure of one model."""
    model_dir = resolve_model_dir(model_arg)
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

    def unguided(temperature: float, word_temperature: float, teacher_weight: float, candidates: int) -> dict:
        """Figures of ``args.samples`` unguided samples at one sampling temperature, clamp and
        teacher weight, each chosen from ``candidates`` as ``dlmctl generate`` chooses."""
        sampler = SamplerConfig(steps=args.steps, temperature=temperature, word_temperature=word_temperature,
                                teacher_weight=teacher_weight)
        texts = [g.text for g in generate(model, [{}] * args.samples, seed=0, batch_size=args.batch_size,
                                          candidates=candidates, sampler=sampler)]
        if args.sheet:
            name = (f"{Path(str(model_dir)).name}_{temperature:g}_{word_temperature:g}_{teacher_weight:g}_"
                    f"{candidates}.jsonl")
            atomic_write_text(Path(args.sheet) / name, "".join(json.dumps({"text": t}) + "\n" for t in texts))
        lengths = [len(tokenize(t)) for t in texts]
        judged = judge(teacher, texts)
        return {"temperature": temperature, "word_temperature": word_temperature, "teacher_weight": teacher_weight,
                "candidates": candidates,
                "samples": len(texts),
                "distinct_1": distinct_n(texts, 1), "distinct_2": distinct_n(texts, 2),
                "distinct_3": distinct_n(texts, 3), "unique_sentences": len(set(texts)) / len(texts),
                "verbatim_training_copies": sum(t in train_sentences for t in texts) / len(texts),
                "mean_words": sum(lengths) / len(lengths), "lm_score": judged.lm_score, "fluent": judged.fluent,
                "examples": texts[:10]}

    humans = judge(teacher, references)
    return {"model": str(model_dir), "model_training": model.meta.get("training", {}),
            "parameters": sum(p.numel() for p in model.denoiser.parameters()),
            "held_out": held_out,
            "unguided": [unguided(t, w, b, c) for t in args.temperatures
                         for w in args.word_temperatures or [word_temperature_for(model.config.predict)]
                         for b in args.teacher_weights for c in args.candidates],
            "lm_score_references": humans.lm_score, "fluent_references": humans.fluent, "teacher": str(teacher_dir),
            "sentences_per_second": speed, "sampling_steps": args.steps, "batch_size": args.batch_size}


if __name__ == "__main__":
    main()
