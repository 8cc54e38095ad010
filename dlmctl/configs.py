"""Reading settings dataclasses back from JSON files."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def from_known_fields(cls: type[T], data: dict[str, Any]) -> T:
    """``cls(**data)`` keeping only the keys ``cls`` has, so files written with extra keys
    (metrics, newer versions) still load."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})
