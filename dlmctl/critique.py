"""Flaws that critics find in finished sentences (plugins' ``register_critics``, docs/plugins.md): a
description that says two values of one field, say ("in the riverside … in the city centre").
Choosing among candidates takes the ones without flaws first, among those the teacher finds fluent
and among the rest (:func:`dlmctl.rerank.selection_keys`)."""

from __future__ import annotations

import warnings
from typing import Sequence

from dlmctl.plugins import get_host


def sentence_flaws(model, texts: Sequence[str]) -> list[list[str]]:
    """For each of ``texts``, the flaws the installed critics find in it, each as ``"critic: what"``,
    critics in name order; a critic that fails or answers for the wrong number of texts is left out
    with a warning (a finished run is not lost to a plugin's bug)."""
    flaws: list[list[str]] = [[] for _ in texts]
    for name, critic in get_host().critics().items():
        try:
            found = critic.flaws(model, list(texts))
            if len(found) != len(texts):
                raise ValueError(f"answered for {len(found)} of {len(texts)} texts")
        except Exception as exc:
            warnings.warn(f"critic '{name}' failed ({exc!r}); its flaws are not counted", stacklevel=2)
            continue
        for row, items in zip(flaws, found):
            row.extend(f"{name}: {item}" for item in items)
    return flaws
