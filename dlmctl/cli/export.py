"""``dlmctl export``: copy a trained model's sampling files (no optimizer state) for shipping."""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Annotated

import typer

from dlmctl.cli import app
from dlmctl.errors import UsageError


@app.command("export")
def export_command(
    model: Annotated[Path, typer.Option(help="Trained model directory.")],
    out: Annotated[Path, typer.Option(help="Directory to write (created; must not hold another model).")],
    fp16: Annotated[bool, typer.Option("--fp16/--fp32", help="Store weights in float16.")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace a model already in OUT.")] = False,
) -> None:
    """Copy a model directory without its training state, optionally as float16 weights."""
    from safetensors.torch import load_file

    from dlmctl.checkpoint import CONFIG, TRAIN_STATE, WEIGHTS, atomic_write_text, load_model, save_tensors

    load_model(model)  # validates every file before anything is written
    if out.resolve() == model.resolve():
        raise UsageError("--out must differ from --model")
    links = [path for path in model.rglob("*") if path.is_symlink()]
    if links:
        raise UsageError(f"{links[0]} is a symbolic link; export copies only files that are inside {model}")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; expected a directory for the model")
    if (out / CONFIG).exists() and not (out / WEIGHTS).exists():
        raise UsageError(f"{out} holds something that is not a dlmctl model; choose another --out")
    if (out / WEIGHTS).exists() and not overwrite:
        raise UsageError(f"{out} already holds a model: pass --overwrite to replace it, or choose another --out")
    if (out / TRAIN_STATE).exists():
        raise UsageError(f"{out} holds a training run (train_state.pt); export to another --out")
    out.mkdir(parents=True, exist_ok=True)
    for item in model.iterdir():
        if item.name in (TRAIN_STATE, WEIGHTS) or item.name.endswith(".tmp"):
            continue
        target = out / item.name
        if item.is_dir():
            shutil.copytree(item, target, dirs_exist_ok=True, symlinks=True)
        else:
            shutil.copy2(item, target)
    tensors = load_file(str(model / WEIGHTS))
    save_tensors(out / WEIGHTS, {k: v.half() if fp16 and v.is_floating_point() else v for k, v in tensors.items()})
    config = json.loads((model / CONFIG).read_text())
    config["exported"] = "dlmctl " + shlex.join(sys.argv[1:])
    atomic_write_text(out / CONFIG, json.dumps(config, indent=2, ensure_ascii=False))
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    print(f"exported {model} → {out} ({size / 1e6:.1f} MB)")
