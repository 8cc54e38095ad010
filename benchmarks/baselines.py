"""Run one autoregressive baseline on a batch-targets file, writing what ``dlmctl generate --targets``
writes, so that ``dlmctl evaluate --input`` scores every system the same way.

    python benchmarks/baselines.py fudge --targets T.jsonl --samples-per-target 2 --output O.jsonl \\
        --data ../shared/data/e2e/train.csv
    dlmctl evaluate --input O.jsonl

SYSTEM: ``ar`` (the teacher LM, controls ignored), ``fudge`` (future discriminators reweighting the
teacher's top-k, Yang & Klein 2021), ``pplm`` (semantic content; gradient steps on the teacher's
states, Dathathri et al. 2020), ``ft-sample`` / ``ft-search`` (the teacher fine-tuned with the target
as a prefix, sampled / best of ``--search-pool`` by its own likelihood). All are built on the model's
teacher LM (``MODEL/teacher``: same corpus, tokenizer, vocabulary). Their auxiliary models are
trained into ``--run-dir`` on first use (``--data``: the training corpus) and reused after.
Errors are one line on stderr (exit 2 for usage); ``--debug`` shows the traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from dlmctl.checkpoint import atomic_write_text
from dlmctl.cli.common import check_output, open_model
from dlmctl.cli.generate import read_target_lines, report_problems, target_problems
from dlmctl.errors import DlmctlError, ModelError, UsageError
from dlmctl.plugins import get_host
from dlmctl.teacher import TEACHER_SUBDIR, load_teacher

from arbaselines.systems import SYSTEMS, Settings, open_system


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("system", choices=SYSTEMS)
    parser.add_argument("--targets", type=Path, required=True, help="batch targets, as for dlmctl generate --targets")
    parser.add_argument("--output", type=Path, required=True, help="JSONL samples, as dlmctl generate --output writes")
    parser.add_argument("--samples-per-target", type=int, default=1)
    parser.add_argument("--model", help="diffusion model whose teacher and controls to use (default: the bundled one)")
    parser.add_argument("--data", type=Path, help="training corpus (E2E CSV): needed to train auxiliary models")
    parser.add_argument("--run-dir", type=Path, default=Path("runs/baselines"),
                        help="where auxiliary models are trained and cached")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-k", type=int, default=Settings.top_k)
    parser.add_argument("--batch-size", type=int, default=Settings.batch_size)
    parser.add_argument("--search-pool", type=int, default=Settings.search_pool)
    parser.add_argument("--fudge-strength", type=float, default=Settings.fudge_strength,
                        help="FUDGE: exponent of the discriminator's probability (1: Bayes' rule)")
    parser.add_argument("--train-steps", type=int, default=Settings.train_steps)
    parser.add_argument("--on-error", choices=("fail", "skip"), default="fail")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--debug", action="store_true")
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> None:
    if min(args.samples_per_target, args.top_k, args.batch_size, args.search_pool, args.train_steps) < 1:
        raise UsageError("--samples-per-target, --top-k, --batch-size, --search-pool and --train-steps must be at least 1")
    if args.fudge_strength < 0:
        raise UsageError(f"--fudge-strength must be ≥ 0, got {args.fudge_strength}")
    check_output(args.output, "--output")
    if args.output.resolve() == args.targets.resolve():
        raise UsageError("--output is the --targets file: give another name (the targets would be overwritten)")
    if args.data is not None and not args.data.is_file():
        raise UsageError(f"--data file not found: {args.data}")
    torch.set_num_threads(args.threads)
    model = open_model(args.model, "cpu")
    teacher_dir = Path(model.model_dir) / TEACHER_SUBDIR
    if not teacher_dir.is_dir():
        raise ModelError(f"{model.model_dir} has no teacher LM in {teacher_dir}: the baselines are built on it "
                         f"(dlmctl train-teacher --data TRAIN.csv --out {teacher_dir})")
    lines, problems = read_target_lines(args.targets)
    problems += target_problems(lines, model, str(args.targets))
    if problems:
        bad = {number for number, _ in problems}
        lines = [(number, controls) for number, controls in lines if number not in bad]
        report_problems(problems, args.on_error, any_left=bool(lines))
    host = get_host()
    parsed = [{name: host.control(name).parse_target(text, model) for name, text in controls.items()}
              for _, controls in lines]
    settings = Settings(top_k=args.top_k, max_words=model.config.seq_len - 2, batch_size=args.batch_size,
                        search_pool=args.search_pool, fudge_strength=args.fudge_strength,
                        train_steps=args.train_steps, seed=args.seed)
    teacher = load_teacher(teacher_dir)
    system = open_system(args.system, teacher, teacher_dir, model, host.controls(), args.run_dir, args.data, settings)
    system.check(parsed)
    texts = system.generate(parsed, args.samples_per_target, seed=args.seed)
    records = [{"target": k, "sample": s, "controls": controls, "text": text, "line": number, "system": args.system}
               for k, ((number, controls), samples) in enumerate(zip(lines, texts)) for s, text in enumerate(samples)]
    atomic_write_text(args.output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
    print(f"wrote {len(records)} samples to {args.output}", file=sys.stderr)


def main(argv: list[str] | None = None) -> None:
    args = arguments(argv)
    try:
        run(args)
    except DlmctlError as exc:
        if args.debug:
            raise
        print(f"error: {exc.one_line()}", file=sys.stderr)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)


if __name__ == "__main__":
    main()
