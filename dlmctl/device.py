"""Choosing the torch device, with a clear error for a device this machine does not have."""

from __future__ import annotations

import os

import torch

from dlmctl.errors import UsageError


def resolve_device(name: str | None = None) -> torch.device:
    """``None``/``"auto"``: CUDA when available (the local rank's GPU under torchrun), else CPU."""
    if name in (None, "auto"):
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device '{name}': use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UsageError(f"device '{name}' requested but CUDA is not available on this machine; use --device cpu")
        if device.index is None:
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if device.index >= torch.cuda.device_count():
            raise UsageError(f"device '{name}' requested but only {torch.cuda.device_count()} GPU(s) are visible")
    elif device.type != "cpu":
        raise UsageError(f"device '{name}' is not supported: use auto, cpu, cuda or cuda:N")
    return device
