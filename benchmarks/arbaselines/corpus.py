"""The training corpus, annotated once for the baselines: every sentence's words, UPOS tags, tree
and meaning representation, and one target per control that the sentence meets (the same kinds of
target ``benchmarks/controls.py`` draws from held-out sentences). Cached as JSON lines in the run
directory, keyed by the corpus's checksum and the annotator."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path
from typing import Any

from dlmctl.annotators import get_annotator
from dlmctl.checkpoint import atomic_write_text
from dlmctl.errors import TargetError
from dlmctl.progress import progress_bar
from dlmctl.trees import Tree
from dlmctl.vocab import detokenize, tokenize
from dlmctl_semantic.meaning import mentions, read_corpus


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def sentence_targets(sentence: dict[str, Any], rng: random.Random) -> dict[str, str]:
    """A target string per control that the annotated ``sentence`` meets (semantic and span only
    where it has a mentioned MR value or a multi-word constituent below the root)."""
    words = len(sentence["tags"])
    targets = {"length": str(words), "pos": " ".join(sentence["tags"]), "tree": sentence["tree"].to_bracketed()}
    said = [(f, v) for f, v in sentence["mr"].items() if mentions(sentence["text"], f, v)]
    if said:
        field, value = rng.choice(said)
        targets["semantic"] = f"{field}={value}"
    spans = [s for s in sentence["tree"].spans() if s[1] > s[0] and (s[0], s[1]) != (0, words - 1)]
    if spans:
        targets["span"] = "{},{},{}".format(*rng.choice(spans))
    return targets


def annotate(data: Path, cache: Path, annotator: str = "spacy", show_progress: bool = True) -> list[dict[str, Any]]:
    """Every sentence of an E2E CSV as ``{"text", "tags", "tree", "mr"}`` (``tree`` a :class:`Tree`),
    read from ``cache`` when it was written for the same corpus and annotator."""
    key = {"data_sha256": sha256(data), "annotator": annotator}
    if cache.is_file():
        lines = cache.read_text(encoding="utf-8").splitlines()
        if lines and json.loads(lines[0]) == key:
            rows = [json.loads(line) for line in lines[1:]]
            return [{**row, "tree": Tree.from_bracketed(row["tree"])} for row in rows]
    rows = [(detokenize(tokenize(text)), mr) for text, mr in read_corpus(data)]
    tool = get_annotator(annotator)
    out: list[dict[str, Any]] = []
    with progress_bar(f"annotating {data.name} with {annotator}", len(rows), enabled=show_progress) as bar:
        for start in range(0, len(rows), 256):
            chunk = rows[start:start + 256]
            texts = [text for text, _ in chunk]
            for (text, mr), tagged, tree in zip(chunk, tool.tag(texts), tool.parse(texts)):
                out.append({"text": text, "tags": [tag for _, tag in tagged], "tree": tree, "mr": mr})
            bar.advance(len(chunk))
    lines = [json.dumps(key)] + [json.dumps({**row, "tree": row["tree"].to_bracketed()}, ensure_ascii=False)
                                 for row in out]
    atomic_write_text(cache, "\n".join(lines) + "\n")
    return out


def parsed_targets(sentences: list[dict[str, Any]], controls: dict[str, Any], model, seed: int = 0
                   ) -> list[dict[str, Any]]:
    """Per sentence, ``{control: parsed target}`` for every control in ``controls`` whose target it
    has and ``model`` accepts (a sentence too long for the model gets none)."""
    rng = random.Random(seed)
    out = []
    for sentence in sentences:
        parsed = {}
        for name, text in sentence_targets(sentence, rng).items():
            if name in controls:
                try:
                    parsed[name] = controls[name].parse_target(text, model)
                except TargetError:
                    pass
        out.append(parsed)
    return out
