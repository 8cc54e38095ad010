"""Loading a text corpus with the ``datasets`` library: local CSV/JSON/JSONL/TXT files or hub names."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dlmctl.errors import UsageError

_BUILDERS = {".csv": "csv", ".json": "json", ".jsonl": "json", ".txt": "text", ".tsv": "csv"}


def load_texts(source: str, text_column: str = "human_reference", split: str = "train") -> list[str]:
    """Texts of one column of a local file (by extension) or a hub dataset (``name`` or
    ``name:config``). Plain ``.txt`` files have one text per line (column ``text``)."""
    import datasets

    datasets.disable_progress_bars()
    path = Path(source)
    if path.suffix.lower() in _BUILDERS or path.exists():
        if not path.is_file():
            raise UsageError(f"data file not found: {source}")
        builder = _BUILDERS.get(path.suffix.lower())
        if builder is None:
            raise UsageError(f"cannot read {source}: use a .csv, .tsv, .json, .jsonl or .txt file")
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        ds = datasets.load_dataset(builder, data_files=str(path), split="train", **kwargs)
        if builder == "text":
            text_column = "text"
    else:
        name, _, config = source.partition(":")
        try:
            ds = datasets.load_dataset(name, config or None, split=split)
        except Exception as exc:
            raise UsageError(f"cannot load dataset '{source}' (not a local file; hub said: {exc})") from None
    if text_column not in ds.column_names:
        raise UsageError(f"{source} has no column '{text_column}' (columns: {', '.join(ds.column_names)}); "
                         "pick one with --text-column")
    return [t for t in ds[text_column] if isinstance(t, str) and t.strip()]


def file_sha256(path: str | Path) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    return hashlib.sha256(p.read_bytes()).hexdigest()
