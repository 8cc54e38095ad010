"""``dlmctl train``: train a Diffusion-LM on a corpus (also under ``torchrun``)."""

from __future__ import annotations

import shlex
import signal
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Iterator, Optional

import typer

from dlmctl.cli import app
from dlmctl.cli.common import print_json
from dlmctl.configs import PREDICTIONS, from_known_fields
from dlmctl.data import file_sha256
from dlmctl.errors import UsageError
from dlmctl.presets import PRESETS

if TYPE_CHECKING:
    import torch

    from dlmctl.model import ModelConfig
    from dlmctl.training import TrainConfig
    from dlmctl.vocab import Vocabulary

Opt = typer.Option


#: option → (test, what is expected), for the numbers ``dlmctl train`` takes
_VALID_NUMBERS = {
    "steps": (lambda v: v >= 1, "at least 1"), "batch_size": (lambda v: v >= 1, "at least 1"),
    "lr": (lambda v: v > 0, "a positive number"), "warmup": (lambda v: v >= 0, "0 or more"),
    "ema": (lambda v: 0 <= v < 1, "in [0, 1)"), "seq_len": (lambda v: v >= 3, "at least 3 (START, a word, END)"),
    "embed_dim": (lambda v: v >= 1, "at least 1"), "hidden": (lambda v: v >= 1, "at least 1"),
    "layers": (lambda v: v >= 1, "at least 1"), "heads": (lambda v: v >= 1, "at least 1"),
    "dropout": (lambda v: 0 <= v < 1, "in [0, 1)"), "min_count": (lambda v: v >= 1, "at least 1"),
    "save_every": (lambda v: v >= 1, "at least 1"),
}


def check_settings(out: Path, *, resume: bool, overwrite: bool, **numbers: float | None) -> None:
    """Usage errors for impossible numbers and for an OUT that training must not write over, before
    anything is loaded."""
    for name, value in numbers.items():
        test, expected = _VALID_NUMBERS[name]
        if value is not None and not test(value):
            raise UsageError(f"--{name.replace('_', '-')} must be {expected}, got {value:g}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; expected a directory for the model")
    holds_model = (out / "config.json").exists() or (out / "model.safetensors").exists()
    if not resume and not overwrite and holds_model and not (out / "train_state.pt").exists():
        raise UsageError(f"{out} already holds a model: pass --overwrite to replace it, or choose another --out")


#: options that choose where and with what shape a new run starts (True: they take a value); a
#: resumed run keeps its own and drops them
_START_OPTIONS = {"--init-from": True, "--embeddings-from": True, "--overwrite": False, "--preset": True,
                  "--seq-len": True, "--embed-dim": True, "--hidden": True, "--layers": True, "--heads": True,
                  "--min-count": True}


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM (a job scheduler's or ``kill``'s stop; a run started in the background
    with ``&`` ignores Ctrl-C's SIGINT) stops training as Ctrl-C does: the last state is saved."""
    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def resume_command(arguments: list[str]) -> str:
    """The command that continues an interrupted ``dlmctl train ARGUMENTS``: the same arguments with
    ``--resume``, without the options that start a new run."""
    kept, skip = [], False
    for argument in arguments:
        name = argument.split("=", 1)[0]
        if skip:
            skip = False
        elif name in _START_OPTIONS:
            skip = _START_OPTIONS[name] and "=" not in argument
        else:
            kept.append(argument)
    return "dlmctl " + shlex.join(kept + ([] if "--resume" in kept else ["--resume"]))


@app.command("train")
def train_command(
    data: Annotated[str, Opt(help="Training corpus: .csv/.tsv/.json/.jsonl/.txt file or a hub dataset name.")],
    out: Annotated[Path, Opt(help="Model directory to write (checkpoints go there too).")],
    valid: Annotated[Optional[str], Opt(help="Held-out corpus for loss/accuracy reports.")] = None,
    text_column: Annotated[str, Opt(help="Column holding the text.")] = "human_reference",
    preset: Annotated[Optional[str], Opt(help=f"Settings preset: {', '.join(PRESETS)}.")] = None,
    steps: Annotated[Optional[int], Opt(help="Total training steps.")] = None,
    batch_size: Annotated[Optional[int], Opt(help="Global batch size (split across processes).")] = None,
    lr: Annotated[Optional[float], Opt(help="Peak AdamW learning rate (linear decay to 0).")] = None,
    warmup: Annotated[Optional[int], Opt(help="Linear learning-rate warm-up steps.")] = None,
    ema: Annotated[Optional[float], Opt(help="EMA decay of the sampling weights.")] = None,
    seq_len: Annotated[Optional[int], Opt(help="Words per sequence incl. START/END/PAD.")] = None,
    embed_dim: Annotated[Optional[int], Opt(help="Word embedding size d.")] = None,
    hidden: Annotated[Optional[int], Opt(help="Transformer width.")] = None,
    layers: Annotated[Optional[int], Opt(help="Transformer layers.")] = None,
    heads: Annotated[Optional[int], Opt(help="Attention heads.")] = None,
    dropout: Annotated[Optional[float], Opt(help="Dropout in the denoiser.")] = None,
    self_condition: Annotated[bool, Opt("--self-condition", help="The denoiser also reads its previous "
                                        "estimate of x0 (more fluent samples, ~1.5x time per step).")] = False,
    predict: Annotated[Optional[str], Opt(help="What the denoiser outputs: 'embedding' (x̂0, the paper's network) or "
                                          "'words' (a distribution over words, also trained by cross-entropy; "
                                          "x̂0 is its mean embedding). With --init-from, a model that predicted "
                                          "x̂0 can start predicting words.")] = None,
    init_from: Annotated[Optional[Path], Opt(help="Start from this trained model's weights and vocabulary "
                                             "(e.g. to add --self-condition to it, or with more --layers: "
                                             "the new ones start as the identity).")] = None,
    embeddings_from: Annotated[Optional[Path], Opt(help="Take this trained model's vocabulary, frozen word embeddings "
                                                   "and sequence length, and train a new denoiser of any width and "
                                                   "depth on them: its control classifiers stay valid for the new "
                                                   "one.")] = None,
    min_count: Annotated[Optional[int], Opt(help="Minimum word count for the vocabulary.")] = None,
    seed: Annotated[int, Opt(help="Seed of initialisation, data order and noise.")] = 0,
    save_every: Annotated[int, Opt(help="Checkpoint every N steps (atomic).")] = 1000,
    resume: Annotated[bool, Opt(help="Continue from OUT's last checkpoint.")] = False,
    overwrite: Annotated[bool, Opt("--overwrite", help="Replace a model already in OUT (without it, training "
                                   "refuses to write over one).")] = False,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    compile: Annotated[bool, Opt("--compile", help="torch.compile the denoiser.")] = False,
    freeze_embeddings: Annotated[bool, Opt("--freeze-embeddings", help="Keep the word embeddings fixed "
                                           "(e.g. when resuming after control classifiers were trained).")] = False,
    as_json: Annotated[bool, Opt("--json", help="Print the final metrics as JSON.")] = False,
) -> None:
    """Train a Diffusion-LM; progress on stderr, final metrics on stdout."""
    from dlmctl.corpus import prepare
    from dlmctl.device import resolve_device
    from dlmctl.loop import is_main_process
    from dlmctl.training import train

    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown preset '{preset}' (available: {', '.join(PRESETS)})")
    check_settings(out, resume=resume, overwrite=overwrite, steps=steps, batch_size=batch_size, lr=lr,
                   warmup=warmup, ema=ema, seq_len=seq_len, embed_dim=embed_dim, hidden=hidden, layers=layers,
                   heads=heads, dropout=dropout, min_count=min_count, save_every=save_every)
    check_start(resume=resume, init_from=init_from, embeddings_from=embeddings_from, preset=preset,
                embed_dim=embed_dim, min_count=min_count, seq_len=seq_len, hidden=hidden, layers=layers, heads=heads)
    model_over = {k: v for k, v in dict(seq_len=seq_len, embed_dim=embed_dim, hidden=hidden, layers=layers,
                                        heads=heads, dropout=dropout).items() if v is not None}
    if self_condition:
        model_over["self_condition"] = True
    if predict is not None:
        if predict not in PREDICTIONS:
            raise UsageError(f"--predict must be one of {', '.join(PREDICTIONS)}, got '{predict}'")
        model_over["predict"] = predict
    train_over = {k: v for k, v in dict(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
                                        ema=ema).items() if v is not None}
    dev = resolve_device(device)
    if resume:
        plan = resumed_run(out, data, text_column, model_over, train_over, freeze_embeddings)
    else:
        if (out / "train_state.pt").exists():
            raise UsageError(f"{out} already holds a training run: pass --resume to continue it, "
                             "or choose another --out")
        plan = new_run(data, text_column, preset, model_over,
                       {**train_over, "seed": seed, "save_every": save_every, "compile": compile,
                        "freeze_embeddings": freeze_embeddings},
                       init_from=init_from, embeddings_from=embeddings_from, min_count=min_count)
    if plan.model_cfg.problem():
        raise UsageError(f"impossible model settings: {plan.model_cfg.problem()}")
    valid_ids = prepare(valid, text_column, plan.model_cfg.seq_len, 0, plan.vocab)[0] if valid else None
    try:
        with terminate_as_interrupt():
            result = train(plan.train_ids, plan.vocab, out, plan.model_cfg, plan.train_cfg, dev,
                           valid_ids=valid_ids, resume=resume, init_state=plan.init_state, meta=plan.meta,
                           show_progress=not as_json)
    except KeyboardInterrupt:
        if (out / "train_state.pt").exists() and is_main_process():
            print(f"{out} keeps the last checkpoint; continue with: {resume_command(sys.argv[1:])}",
                  file=sys.stderr)
        raise
    if as_json:
        print_json(result)
    else:
        valid_text = ""
        if result["valid"]:
            valid_text = "  held-out " + "  ".join(f"{k} {v:.4f}" for k, v in result["valid"].items())
        print(f"trained {result['steps']} steps → {out}{valid_text}")


def check_start(*, resume: bool, init_from: Path | None, embeddings_from: Path | None, preset: str | None,
                **shape: int | None) -> None:
    """Usage errors for options that contradict where training starts (before anything is loaded)."""
    starts = [flag for flag, value in (("--resume", resume), ("--init-from", init_from),
                                       ("--embeddings-from", embeddings_from)) if value]
    if len(starts) > 1:
        raise UsageError(f"{' and '.join(starts)} each say where training starts: pass only one")
    kept = [k for k in ("embed_dim", "min_count", "seq_len") if shape.get(k) is not None]
    if embeddings_from is not None and kept:
        raise UsageError("--embeddings-from keeps that model's vocabulary, embedding size and sequence length "
                         "(its classifiers need them): drop --embed-dim, --min-count and --seq-len")
    fixed = sorted("--" + k.replace("_", "-") for k in ("seq_len", "embed_dim", "hidden", "heads")
                   if shape.get(k) is not None)
    if init_from is not None and (fixed or preset is not None):
        raise UsageError(f"--init-from keeps the trained model's shape but for --layers (more of them): drop "
                         f"{', '.join(fixed) or '--preset'}")


@dataclass
class RunPlan:
    """What a training run starts from, decided before any training: settings, vocabulary, encoded
    corpus (N, L), the record for config.json and, when starting from a trained model, its weights."""

    model_cfg: "ModelConfig"
    train_cfg: "TrainConfig"
    vocab: "Vocabulary"
    train_ids: "torch.Tensor"
    meta: dict[str, Any]
    init_state: dict[str, "torch.Tensor"] | None = None


def resumed_run(out: Path, data: str, text_column: str, model_over: dict[str, Any], train_over: dict[str, Any],
                freeze_embeddings: bool) -> RunPlan:
    """The plan of a run continued from OUT's last checkpoint (``--resume``), with the training
    numbers given again on the command line replacing the saved ones; model settings given again
    must be the saved ones."""
    from dlmctl.checkpoint import read_config
    from dlmctl.corpus import prepare
    from dlmctl.model import ModelConfig
    from dlmctl.training import TrainConfig
    from dlmctl.vocab import Vocabulary

    saved = read_config(out)
    model_cfg = ModelConfig.from_dict(saved["model"])
    changed = sorted(f"--{k.replace('_', '-')} {v} (the run has {getattr(model_cfg, k)})"
                     for k, v in model_over.items() if getattr(model_cfg, k) != v)
    if changed:
        raise UsageError(f"--resume continues the run with its own shape: drop {', '.join(changed)}")
    train_cfg = from_known_fields(TrainConfig, saved.get("training", {}))
    for k, v in train_over.items():
        setattr(train_cfg, k, v)
    train_cfg.freeze_embeddings = train_cfg.freeze_embeddings or freeze_embeddings
    vocab = Vocabulary.load(out / "vocab.json")
    train_ids, _ = prepare(data, text_column, model_cfg.seq_len, 0, vocab)
    meta = {k: v for k, v in saved.items() if k not in ("model", "training", "format_version")}
    meta["resumed"] = [*saved.get("resumed", []), {"from_step": saved.get("training", {}).get("steps_done"),
                                                   "command": "dlmctl " + shlex.join(sys.argv[1:])}]
    return RunPlan(model_cfg, train_cfg, vocab, train_ids, meta)


def new_run(data: str, text_column: str, preset: str | None, model_over: dict[str, Any],
            training: dict[str, Any], *, init_from: Path | None, embeddings_from: Path | None,
            min_count: int | None) -> RunPlan:
    """The plan of a new run: from scratch (a preset and the options), from a trained model's weights
    (``--init-from``: same shape), or on a trained model's frozen embeddings (``--embeddings-from``).
    ``model_over`` and ``training``: the model and training settings given on the command line."""
    from dlmctl.checkpoint import load_model
    from dlmctl.corpus import prepare
    from dlmctl.model import ModelConfig
    from dlmctl.training import TrainConfig

    base = PRESETS.get(preset, {"model": {}, "train": {}, "min_count": 3})
    min_count = min_count or base["min_count"]
    settings = {**ModelConfig(vocab_size=0).to_dict(), **base["model"], **model_over}
    init_state, start = None, None
    if init_from is not None:
        start = load_model(init_from)
        if model_over.get("layers", start.config.layers) < start.config.layers:
            raise UsageError(f"--layers {model_over['layers']} with --init-from: {init_from} has "
                             f"{start.config.layers} layers; a model can only grow deeper")
        init_state = start.denoiser.state_dict()
        model_cfg = ModelConfig(**{**start.config.to_dict(), **model_over})
    elif embeddings_from is not None:
        start = load_model(embeddings_from)
        init_state = {"embed.weight": start.embeddings.detach().float()}
        kept = {k: getattr(start.config, k) for k in ("embed_dim", "seq_len", "diffusion_steps")}
        model_cfg = ModelConfig(**{**settings, "vocab_size": len(start.vocab), **kept})
        training = {**training, "freeze_embeddings": True}
    if start is None:           # a new vocabulary from the corpus
        train_ids, vocab = prepare(data, text_column, settings["seq_len"], min_count)
        model_cfg = ModelConfig(**{**settings, "vocab_size": len(vocab)})
    else:
        train_ids, vocab = prepare(data, text_column, model_cfg.seq_len, min_count, start.vocab)
    train_cfg = TrainConfig(**{**base["train"], **training})
    meta = {"preset": preset, "data": {"train": Path(data).name, "train_sha256": file_sha256(data),
                                       "text_column": text_column, "sentences": len(train_ids),
                                       "min_count": min_count},
            "command": "dlmctl " + shlex.join(sys.argv[1:])}
    if init_from is not None:
        # the whole record of the run it starts from, so a model trained in chunks keeps every chunk
        meta["init_from"] = {"model": str(init_from), **{k: v for k, v in start.meta.items() if k != "data"}}
    if embeddings_from is not None:
        meta["embeddings_from"] = {"model": str(embeddings_from), "command": start.meta.get("command")}
    return RunPlan(model_cfg, train_cfg, vocab, train_ids, meta, init_state)
