"""``dlmctl generate``: sample sentences, with any combination of controls."""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Callable, Iterator, Optional

import typer
from rich.console import Console

from dlmctl import defaults
from dlmctl.cli import app
from dlmctl.cli.common import (check_output, open_model, parse_controls, parse_weights, print_json,
                               show_plugin_warnings)
from dlmctl.errors import DlmctlError, TargetError, UsageError

Opt = typer.Option


TARGET_FORM = '{"controls": {"length": "12"}}'


Problems = list[tuple[int, str]]   # (line number, "FILE:LINE: what is wrong")


def read_target_lines(path: Path) -> tuple[list[tuple[int, dict[str, str]]], Problems]:
    """The (line number, controls) of every well-formed line of a batch file (``-``: standard input),
    and a problem for every malformed one."""
    name = "<stdin>" if str(path) == "-" else str(path)
    if name != "<stdin>" and not path.is_file():
        raise UsageError(f"--targets file not found: {path}")
    raw = sys.stdin.buffer.read() if name == "<stdin>" else path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"--targets {name} is not UTF-8 text (byte {exc.start}); expected JSON lines like "
                         f"{TARGET_FORM}") from None
    lines, problems = [], []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            controls = json.loads(line)["controls"]
            if not isinstance(controls, dict):
                raise TypeError
        except (json.JSONDecodeError, KeyError, TypeError):
            problems.append((number, f"{name}:{number}: expected a JSON object like {TARGET_FORM}"))
            continue
        lines.append((number, {str(k): str(v) for k, v in controls.items()}))
    if not lines and not problems:
        raise UsageError(f"{name} has no targets; expected JSON lines like {TARGET_FORM}")
    return lines, problems


def target_problems(lines: list[tuple[int, dict[str, str]]], model, name: str) -> Problems:
    """A problem for every line with a target its control cannot parse, or an unknown control."""
    from dlmctl.plugins import get_host

    host, problems = get_host(), []
    for number, controls in lines:
        try:
            for control, target in controls.items():
                try:
                    host.control(control).parse_target(target, model)
                except TargetError as exc:
                    raise TargetError(f"{control}: {exc}") from None
        except DlmctlError as exc:
            problems.append((number, f"{name}:{number}: {exc}"))
    return problems


def report_problems(problems: Problems, on_error: str, any_left: bool) -> None:
    """Fail naming the bad lines (in one line of text) unless ``on_error`` is skip and good lines
    are left (``any_left``); then say how many are skipped."""
    messages = [message for _, message in sorted(problems)]
    shown = "; ".join(messages[:3]) + (f"; and {len(messages) - 3} more" if len(messages) > 3 else "")
    if not any_left:
        raise UsageError(f"every target line is bad ({len(problems)}), nothing generated: {shown}")
    if on_error == "fail":
        raise UsageError(f"{len(problems)} bad target line(s), nothing generated: {shown} "
                         "(--on-error skip generates the others)")
    print(f"warning: skipping {len(problems)} bad target line(s): {shown}", file=sys.stderr)


@app.command("generate")
def generate_command(
    model: Annotated[Optional[str], Opt(help="Model directory or installed model name (default: the bundled model).")] = None,
    n: Annotated[int, Opt("-n", "--num", help="Samples (per target with --targets: see --samples-per-target).")] = 5,
    control: Annotated[Optional[list[str]], Opt("--control", "-c", help="NAME=TARGET; repeat to compose.")] = None,
    weight: Annotated[Optional[list[str]], Opt("--weight", help="NAME=λ: fluency weight of a control.")] = None,
    steps: Annotated[int, Opt(help="Sampling steps (respaced from the model's diffusion steps).")] = defaults.STEPS,
    guide_steps: Annotated[Optional[int], Opt(help="Gradient steps per denoising step for classifier controls. "
                                              f"Default {defaults.GUIDE_STEPS}, or the schedule the controls "
                                              "ask for.")] = None,
    guide_lr: Annotated[Optional[float], Opt(help=f"Adagrad learning rate of those steps. Default {defaults.GUIDE_LR}, "
                                             "or the schedule the controls ask for.")] = None,
    guide_every: Annotated[Optional[int], Opt(help="Compute the classifiers' gradient every N-th guided step; "
                                              f"the steps between reuse it. Default {defaults.GUIDE_EVERY} (every "
                                              "step), or the schedule the controls ask for.")] = None,
    guide_norm: Annotated[Optional[str], Opt(help="What those steps' Adagrad accumulator sums the squared gradient "
                                             f"over: {' or '.join(defaults.GUIDE_NORMS)} (one sum per sentence: the "
                                             "step keeps the gradient's direction). Default "
                                             f"{defaults.GUIDE_NORM}, or the schedule the controls ask for.")] = None,
    guided_share: Annotated[Optional[float], Opt(help="Share of the chain, from its noisy start, in which "
                                                 "classifier controls guide (the words settle early). Default "
                                                 f"{defaults.GUIDED_SHARE:g}, or what the controls ask for (pos: "
                                                 "1).")] = None,
    tail_stride: Annotated[int, Opt(help="After the guided share, sample only every N-th step of the chain "
                                    "(the words have settled; 1: every step).")] = defaults.TAIL_STRIDE,
    temperature: Annotated[float, Opt(help="Noise scale per sampling step: lower is more fluent and less "
                                      "varied, 1 is the exact sampler.")] = defaults.TEMPERATURE,
    word_temperature: Annotated[Optional[float], Opt(help="How each step picks a position's word from the model's "
                                                     "word scores: 0 takes the best, τ > 0 draws from softmax(scores "
                                                     "/ τ; 1: as the model scores them). Default: 0.5 for a model "
                                                     "trained with --predict words, as the bundled one; 0 for one "
                                                     "that predicts an embedding.")] = defaults.WORD_TEMPERATURE,
    repel: Annotated[Optional[float], Opt(help="How hard the samples of one target push each other apart while "
                                          "their words form (in the guided share), so that they do not come out "
                                          f"as near copies; 0 draws them independently. Default {defaults.REPEL:g}, "
                                          "or what the controls ask for (pos: try 0.7 with --candidates 5).")] = None,
    teacher_weight: Annotated[Optional[float], Opt(help="In the second half of the chain, how much the model's "
                                                   "teacher LM weighs in each step's choice of words: its next-word "
                                                   "log-probabilities (and its right-to-left teacher's previous-word "
                                                   "ones, if it has one) are added to the model's word scores (0: not "
                                                   f"at all). Default {defaults.TEACHER_WEIGHT:g}, or what the "
                                                   "controls ask for; a model without a teacher ignores it.")] = None,
    repair: Annotated[Optional[int], Opt(help="Rounds of sampling again, in the last half of the chain, the "
                                         "words of a finished sentence that the model's teachers find least "
                                         "likely, kept where the teachers find the sentence likelier (0: none). "
                                         f"Default {defaults.REPAIR}, or what the controls ask for; a model "
                                         "without a teacher ignores it.")] = None,
    candidates: Annotated[Optional[int], Opt(help="Samples drawn per sentence, to choose from: the samples of one "
                                             "target share them, each keeping one ranked high by the model's loss, "
                                             "the controls' classifiers and the teacher's fluency that does not "
                                             f"repeat another. Default {defaults.CANDIDATES}, or more where a control "
                                             "asks for more (span: 8). 1 is fastest.")] = None,
    prune_at: Annotated[Optional[float], Opt(help="Share of the chain, from its noisy start, that every candidate "
                                             "samples; then only the best --survivors per sentence, judged on their "
                                             "words so far, go on (1: every candidate finishes). Default "
                                             f"{defaults.PRUNE_AT} where classifier controls guide, or later where one "
                                             "asks; 1 otherwise.")] = None,
    survivors: Annotated[int, Opt(help="Candidates per sentence that sample the chain after "
                                  "--prune-at.")] = defaults.SURVIVORS,
    seed: Annotated[int, Opt(help="Random seed.")] = 0,
    batch_size: Annotated[int, Opt(help="Sentences sampled together.")] = defaults.BATCH_SIZE,
    targets: Annotated[Optional[Path], Opt(help="JSONL file of {\"controls\": {...}} lines (batch mode); - reads "
                                           "standard input.")] = None,
    on_error: Annotated[str, Opt(help="What a bad --targets line does: fail (nothing is generated; every bad "
                                 "line is named) or skip (the others are generated).")] = "fail",
    samples_per_target: Annotated[int, Opt(help="Samples for each line of --targets.")] = 1,
    output: Annotated[Optional[Path], Opt(help="Write JSONL results here (atomically); - writes them to stdout.")] = None,
    show_steps: Annotated[int, Opt(help="Show the sentences as the denoiser sees them every K steps: a live "
                                   "view on a terminal, lines above each sample otherwise (0: off).",
                                   metavar="K")] = 0,
    judge: Annotated[bool, Opt("--judge", help="Score every sample with each control's oracle and the teacher's "
                               "worst-token surprisal.")] = False,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="One JSON object per line on stdout.")] = False,
) -> None:
    """Generate sentences; with --control, steer them (several --control flags compose)."""
    if n < 1 or samples_per_target < 1 or batch_size < 1:
        raise UsageError("-n, --samples-per-target and --batch-size must be at least 1")
    if show_steps < 0:
        raise UsageError(f"--show-steps must be 0 (off) or a positive number of steps, got {show_steps}")
    if output is not None and str(output) == "-":
        output, as_json = None, True
    if targets is not None and control:
        raise UsageError("use either --targets FILE or --control flags, not both")
    if output is not None:
        check_output(output, "--output")
        if targets is not None and str(targets) != "-" and output.resolve() == targets.resolve():
            raise UsageError(f"--output {output} is the --targets file: write the results elsewhere")
    if on_error not in ("fail", "skip"):
        raise UsageError(f"--on-error must be fail or skip, got '{on_error}'")
    if targets is not None:
        lines, problems = read_target_lines(targets)
        per_target = samples_per_target
    else:
        lines, problems = [(0, parse_controls(control or []))], []
        per_target = n
    weights = parse_weights(weight or [])
    from dlmctl.api import Model, check_counts, check_guidance
    from dlmctl.checkpoint import atomic_write_text
    from dlmctl.loop import is_main_process

    check_counts(len(lines) * per_target, candidates, seed)
    check_guidance(guide_lr, guide_norm, repel, teacher_weight, repair)

    lm = open_model(model, device)
    show_plugin_warnings()
    if targets is not None:
        problems += target_problems(lines, lm, "<stdin>" if str(targets) == "-" else str(targets))
        if problems:
            bad = {number for number, _ in problems}
            lines = [(number, controls) for number, controls in lines if number not in bad]
            report_problems(problems, on_error, any_left=bool(lines))
    requests = [controls for _, controls in lines]
    live = bool(show_steps) and not as_json and output is None and sys.stdout.isatty()
    with forming_view(live) as on_step:
        samples = Model(lm).generate_batch(requests, samples_per_target=per_target, seed=seed, steps=steps,
                                           guide_steps=guide_steps, guide_lr=guide_lr, guided_share=guided_share,
                                           tail_stride=tail_stride, guide_every=guide_every, guide_norm=guide_norm,
                                           temperature=temperature, word_temperature=word_temperature,
                                           repel=repel, teacher_weight=teacher_weight, repair=repair,
                                           candidates=candidates,
                                           prune_at=prune_at, survivors=survivors, weights=weights,
                                           batch_size=batch_size, trajectory_every=show_steps,
                                           judge=judge, on_step=on_step,
                                           show_progress=not live and (not as_json or output is not None))
    if not is_main_process():           # under torchrun every process holds all samples; one writes them
        return
    records = [s.record() for s in samples]
    if targets is not None:       # the input line each sample answers
        records = [{**r, "line": lines[r["target"]][0]} for r in records]
    if output is not None:
        atomic_write_text(output, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
        print(f"wrote {len(records)} samples to {output}", file=sys.stderr)
    elif as_json:
        for line in records:
            print_json(line)
    else:
        for sample in samples:
            print_sample(sample, judge, steps=not live)


@contextmanager
def forming_view(enabled: bool) -> Iterator[Callable[[int, dict[int, str]], None] | None]:
    """On a terminal, a live view of the sentences forming (``--show-steps``), cleared when done:
    yields the ``on_step`` callback that updates it, or None when not ``enabled``."""
    if not enabled:
        yield None
        return
    from rich.live import Live
    from rich.text import Text

    shown: dict[int, str] = {}
    with Live(console=Console(), transient=True) as view:
        def on_step(step: int, texts: dict[int, str]) -> None:
            shown.update(texts)
            view.update(Text(f"step {step}\n" + "\n".join(shown[k] for k in sorted(shown)), style="dim"))

        yield on_step


def print_sample(sample, judged: bool, steps: bool = True) -> None:
    """A sample as text: its steps first (``--show-steps``, unless ``steps`` is off because a live
    view showed them), then the sentence, with the oracles' scores and the teacher's worst-token
    surprisal after a tab when ``judged`` (``--judge``)."""
    for step, text in sample.trajectory[:-1] if steps else []:
        print(f"  step {step:>4}  {text}")
    if not judged:
        print(sample.text)
        return
    scores = {**sample.oracle, **{k: v for k, v in sample.scores.items() if k == "worst_token_nll"}}
    print(sample.text + "\t" + " ".join(f"{k}={v:.2f}" for k, v in scores.items()))
