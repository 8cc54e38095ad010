"""Helpers shared by commands: model lookup, NAME=VALUE flags, JSON output. Heavy modules (torch)
are imported inside the functions that need them, so that help and light commands start fast."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dlmctl.errors import UsageError
from dlmctl.plugins import get_host

if TYPE_CHECKING:
    from dlmctl.model import DiffusionLM


def show_plugin_warnings() -> None:
    from dlmctl.progress import stderr

    for warning in get_host().warnings:
        stderr.print(f"[yellow]warning:[/] {warning}", highlight=False)


def resolve_model_dir(model: str | None) -> Path:
    """A path, or the name of a model a plugin registered; None means the registered default."""
    from dlmctl.api import model_path

    return model_path(model)


def open_model(model: str | None, device: str | None) -> "DiffusionLM":
    from dlmctl.checkpoint import load_model
    from dlmctl.device import resolve_device

    return load_model(resolve_model_dir(model), resolve_device(device))


def print_json(data: Any) -> None:
    json.dump(data, sys.stdout, ensure_ascii=False)
    sys.stdout.write("\n")


def check_output(path: Path, flag: str) -> None:
    """A usage error, before any work is done, when a result file cannot be written at ``path``."""
    folder = path.parent
    if path.is_dir():
        raise UsageError(f"{flag} {path} is a directory; expected a file name")
    if not folder.is_dir():
        what = "is a file" if folder.exists() else "does not exist"
        raise UsageError(f"{flag} {path}: the folder {folder} {what}; expected an existing folder")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{flag} {path}: the folder {folder} is not writable")


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    """``NAME=VALUE`` → (name, value), or a usage error naming the flag."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(f"{flag} expects NAME=VALUE, got '{text}' (e.g. {flag} length=12)")
    return name.strip(), value.strip()


def parse_controls(items: list[str]) -> dict[str, str]:
    """``--control NAME=TARGET`` flags → {name: target}; a control given twice is a usage error."""
    controls: dict[str, str] = {}
    for item in items:
        name, target = parse_assignment(item, "--control")
        if name in controls:
            raise UsageError(f"--control {name} is given twice ({controls[name]!r} and {target!r}); give it once")
        controls[name] = target
    return controls


def parse_weights(items: list[str]) -> dict[str, float]:
    """``--weight NAME=λ`` flags → {name: λ}."""
    weights = {}
    for item in items:
        name, value = parse_assignment(item, "--weight")
        try:
            weights[name] = float(value)
        except ValueError:
            raise UsageError(f"--weight {item}: λ must be a number") from None
    return weights
