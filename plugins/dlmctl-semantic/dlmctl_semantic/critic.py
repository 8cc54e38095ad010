"""The ``contradiction`` critic: a sentence that says two values of one E2E field ("in the riverside …
in the city centre", "cheap … in the high price range", two places' names) or that the place is and
is not family friendly. It judges the sentences of a model with a semantic classifier, whose
metadata lists each field's values; other models' sentences it leaves alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from dlmctl_semantic.meaning import contradictions, value_phrases


class ContradictionCritic:
    name = "contradiction"

    def __init__(self):
        self._phrases: dict[str, list[tuple[str, str, str]] | None] = {}

    def flaws(self, model, texts: Sequence[str]) -> list[list[str]]:
        phrases = self.phrases(model)
        return [contradictions(text, phrases) if phrases else [] for text in texts]

    def phrases(self, model) -> list[tuple[str, str, str]] | None:
        """The field values' phrases of ``model``'s semantic classifier (read once per model
        directory), or None where it has none."""
        from dlmctl.classifiers.storage import classifier_paths

        if model.model_dir is None:
            return None
        key = str(model.model_dir)
        if key not in self._phrases:
            _, info = classifier_paths(Path(model.model_dir), "semantic")
            try:
                values = json.loads(info.read_text())["values"]
            except (OSError, ValueError, KeyError, TypeError):
                values = None
            self._phrases[key] = value_phrases(values) if isinstance(values, dict) else None
        return self._phrases[key]
