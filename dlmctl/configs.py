"""Settings dataclasses that commands need before anything heavy is imported, and reading settings
back from JSON files."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")

#: what a denoiser may output: "embedding" (x̂0 directly, the paper's network) or "words" (a
#: distribution over the vocabulary at each position, trained by cross-entropy too; x̂0 is its mean
#: embedding, and the clamping step takes its most likely word rather than the word nearest a mean)
PREDICTIONS = ("embedding", "words")


def from_known_fields(cls: type[T], data: dict[str, Any]) -> T:
    """``cls(**data)`` keeping only the keys ``cls`` has, so files written with extra keys
    (metrics, newer versions) still load."""
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in data.items() if k in names})


@dataclass
class TeacherConfig:
    vocab_size: int
    seq_len: int = 96  # START + words + END; longer texts are scored on their first seq_len - 1 tokens
    hidden: int = 96
    layers: int = 3
    heads: int = 4
    dropout: float = 0.1
    reverse: bool = False  # reads each sentence right to left: predicts the word before, from those after

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TeacherConfig":
        return from_known_fields(cls, data)


@dataclass
class TeacherTrainConfig:
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-3
    warmup: int = 200
    eval_every: int = 250
    seed: int = 0
