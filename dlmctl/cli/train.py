"""``dlmctl train``: train a Diffusion-LM on a corpus (also under ``torchrun``)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dlmctl.cli import app
from dlmctl.cli.common import print_json
from dlmctl.configs import from_known_fields
from dlmctl.data import file_sha256
from dlmctl.errors import UsageError
from dlmctl.presets import PRESETS

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


#: options that choose where a new run starts (with their values): a resumed run drops them
_START_OPTIONS = {"--init-from": True, "--embeddings-from": True, "--overwrite": False, "--preset": True}


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
    init_from: Annotated[Optional[Path], Opt(help="Start from this trained model's weights and vocabulary "
                                             "(e.g. to add --self-condition to it).")] = None,
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
    from dlmctl.checkpoint import load_model, read_config
    from dlmctl.corpus import prepare
    from dlmctl.device import resolve_device
    from dlmctl.model import ModelConfig
    from dlmctl.training import TrainConfig, train
    from dlmctl.vocab import Vocabulary

    if preset is not None and preset not in PRESETS:
        raise UsageError(f"unknown preset '{preset}' (available: {', '.join(PRESETS)})")
    check_settings(out, resume=resume, overwrite=overwrite, steps=steps, batch_size=batch_size, lr=lr,
                   warmup=warmup, ema=ema, seq_len=seq_len, embed_dim=embed_dim, hidden=hidden, layers=layers,
                   heads=heads, dropout=dropout, min_count=min_count, save_every=save_every)
    base = PRESETS.get(preset, {"model": {}, "train": {}, "min_count": 3})
    model_over = {k: v for k, v in dict(seq_len=seq_len, embed_dim=embed_dim, hidden=hidden,
                                        layers=layers, heads=heads, dropout=dropout).items() if v is not None}
    if self_condition:
        model_over["self_condition"] = True
    train_over = {k: v for k, v in dict(steps=steps, batch_size=batch_size, lr=lr, warmup=warmup,
                                        ema=ema).items()
                  if v is not None}
    dev = resolve_device(device)
    init_state = None
    starts = [flag for flag, value in (("--resume", resume), ("--init-from", init_from),
                                       ("--embeddings-from", embeddings_from)) if value]
    if len(starts) > 1:
        raise UsageError(f"{' and '.join(starts)} each say where training starts: pass only one")
    if embeddings_from is not None and (embed_dim is not None or min_count is not None or seq_len is not None):
        raise UsageError("--embeddings-from keeps that model's vocabulary, embedding size and sequence length "
                         "(its classifiers need them): drop --embed-dim, --min-count and --seq-len")
    if resume:
        saved = read_config(out)
        model_cfg = ModelConfig.from_dict(saved["model"])
        train_cfg = from_known_fields(TrainConfig, saved.get("training", {}))
        for k, v in train_over.items():
            setattr(train_cfg, k, v)
        train_cfg.freeze_embeddings = train_cfg.freeze_embeddings or freeze_embeddings
        vocab = Vocabulary.load(out / "vocab.json")
        train_ids, _ = prepare(data, text_column, model_cfg.seq_len, 0, vocab)
        meta = {k: v for k, v in saved.items() if k not in ("model", "training", "format_version")}
        meta["resumed"] = [*saved.get("resumed", []), {"from_step": saved.get("training", {}).get("steps_done"),
                                                       "command": "dlmctl " + shlex.join(sys.argv[1:])}]
    else:
        if (out / "train_state.pt").exists():
            raise UsageError(f"{out} already holds a training run: pass --resume to continue it, "
                             "or choose another --out")
        if init_from is not None:
            shape = {"seq_len", "embed_dim", "hidden", "layers", "heads"} & model_over.keys()
            if shape or preset is not None:
                raise UsageError(f"--init-from keeps the trained model's shape: drop "
                                 f"{', '.join(sorted('--' + k.replace('_', '-') for k in shape)) or '--preset'}")
            start = load_model(init_from)
            vocab, init_state = start.vocab, start.denoiser.state_dict()
            model_cfg = ModelConfig(**{**start.config.to_dict(), **model_over})
            train_ids, _ = prepare(data, text_column, model_cfg.seq_len, 0, vocab)
        elif embeddings_from is not None:
            start = load_model(embeddings_from)
            vocab, init_state = start.vocab, {"embed.weight": start.embeddings.detach().float()}
            settings = {**ModelConfig(vocab_size=0).to_dict(), **base["model"], **model_over}
            kept = {k: getattr(start.config, k) for k in ("embed_dim", "seq_len", "diffusion_steps")}
            model_cfg = ModelConfig(**{**settings, "vocab_size": len(vocab), **kept})
            train_ids, _ = prepare(data, text_column, model_cfg.seq_len, 0, vocab)
            freeze_embeddings = True
        else:
            settings = {**ModelConfig(vocab_size=0).to_dict(), **base["model"], **model_over}
            train_ids, vocab = prepare(data, text_column, settings["seq_len"], min_count or base["min_count"])
            model_cfg = ModelConfig(**{**settings, "vocab_size": len(vocab)})
        train_cfg = TrainConfig(**{**base["train"], **train_over, "seed": seed, "save_every": save_every,
                                   "compile": compile, "freeze_embeddings": freeze_embeddings})
        meta = {"preset": preset, "data": {"train": Path(data).name, "train_sha256": file_sha256(data),
                                           "text_column": text_column, "sentences": len(train_ids),
                                           "min_count": min_count or base["min_count"]},
                "command": "dlmctl " + shlex.join(sys.argv[1:])}
        if init_from is not None:
            # the whole record of the run it starts from, so a model trained in chunks keeps every chunk
            meta["init_from"] = {"model": str(init_from), **{k: v for k, v in start.meta.items() if k != "data"}}
        if embeddings_from is not None:
            meta["embeddings_from"] = {"model": str(embeddings_from), "command": start.meta.get("command")}
    valid_ids = prepare(valid, text_column, model_cfg.seq_len, 0, vocab)[0] if valid else None
    if model_cfg.hidden % model_cfg.heads:
        raise UsageError(f"--hidden {model_cfg.hidden} must be divisible by --heads {model_cfg.heads}")
    try:
        result = train(train_ids, vocab, out, model_cfg, train_cfg, dev, valid_ids=valid_ids, resume=resume,
                       init_state=init_state, meta=meta, show_progress=not as_json)
    except KeyboardInterrupt:
        print(f"{out} keeps the last checkpoint; continue with: {resume_command(sys.argv[1:])}", file=sys.stderr)
        raise
    if as_json:
        print_json(result)
    else:
        valid_text = ""
        if result["valid"]:
            valid_text = "  held-out " + "  ".join(f"{k} {v:.4f}" for k, v in result["valid"].items())
        print(f"trained {result['steps']} steps → {out}{valid_text}")
