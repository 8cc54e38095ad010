"""Reading the texts of a corpus: local CSV/TSV/JSON/JSONL/TXT files with the standard library, or a
Hugging Face hub dataset by name (through the ``datasets`` library, imported only then)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from pathlib import Path

from dlmctl.errors import UsageError

FORMS = (".csv", ".tsv", ".json", ".jsonl", ".txt")


def load_texts(source: str, text_column: str = "human_reference", split: str = "train") -> list[str]:
    """The non-empty texts of one column of a local file (by extension) or of a hub dataset (``name``
    or ``name:config``, e.g. ``GEM/e2e_nlg``). Plain ``.txt`` files have one text per line. Anything
    that looks like a path is read locally and never looked up on the hub."""
    rows = _local_rows(Path(source), text_column) if looks_local(source) else _hub_rows(source, text_column, split)
    return [t for t in rows if isinstance(t, str) and t.strip()]


def looks_local(source: str) -> bool:
    """Whether ``source`` names a local file rather than a hub dataset (``name`` or ``owner/name``):
    it exists, has a file extension, is absolute or relative to a folder (``./``, ``../``, ``~``), or
    has more than one directory part."""
    path = Path(source)
    return (path.exists() or bool(path.suffix) or path.is_absolute() or source.startswith((".", "~"))
            or source.count("/") > 1 or os.sep != "/" and os.sep in source)


def _local_rows(path: Path, text_column: str) -> list:
    if path.is_dir():
        raise UsageError(f"{path} is a folder; expected a data file (.csv, .tsv, .json, .jsonl or .txt)")
    if not path.is_file():
        raise UsageError(f"data file not found: {path}")
    suffix = path.suffix.lower()
    if suffix not in FORMS:
        raise UsageError(f"cannot read {path}: use a {', '.join(FORMS[:-1])} or {FORMS[-1]} file")
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not UTF-8 text (byte {exc.start})") from None
    if suffix == ".txt":
        return [line.rstrip("\r") for line in text.split("\n")]
    if suffix in (".csv", ".tsv"):
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""), delimiter="\t" if suffix == ".tsv" else ",")
            records = list(reader)
        except csv.Error as exc:
            raise UsageError(f"{path} is not a readable {suffix[1:].upper()} file ({exc})") from None
        return _column(path, records, reader.fieldnames or [], text_column)
    records = _json_records(path, text)
    columns = list(dict.fromkeys(k for r in records for k in r))
    return _column(path, records, columns, text_column)


def _json_records(path: Path, text: str) -> list[dict]:
    """The objects of a JSON array file or of a JSON-lines file."""
    try:
        data = json.loads(text)
        records = data if isinstance(data, list) else [data]
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("["):
            raise UsageError(f"{path}:{exc.lineno}: not JSON ({exc.msg}); expected a JSON array of objects") from None
        records = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    raise UsageError(f"{path}:{number}: not JSON; expected one JSON object per line") from None
    if not all(isinstance(r, dict) for r in records):
        raise UsageError(f"{path}: expected JSON objects with a text field, e.g. {{\"text\": \"...\"}}")
    return records


def _column(path: Path, records: list[dict], columns: list[str], text_column: str) -> list:
    if text_column not in columns:
        named = ", ".join(columns) if columns else "none"
        raise UsageError(f"{path} has no column '{text_column}' (columns: {named}); pick one with --text-column")
    return [r.get(text_column) for r in records]


def _hub_rows(source: str, text_column: str, split: str) -> list:
    try:
        import datasets
    except ImportError:
        raise UsageError(f"'{source}' is not a local file; reading a Hugging Face hub dataset needs the datasets "
                         "library: pip install 'dlmctl[hub]'") from None

    datasets.disable_progress_bars()
    name, _, config = source.partition(":")
    try:
        ds = datasets.load_dataset(name, config or None, split=split)
    except Exception as exc:
        raise UsageError(f"cannot load dataset '{source}' (not a local file; hub said: {exc})") from None
    if text_column not in ds.column_names:
        raise UsageError(f"{source} has no column '{text_column}' (columns: {', '.join(ds.column_names)}); "
                         "pick one with --text-column")
    return list(ds[text_column])


def file_sha256(path: str | Path) -> str | None:
    p = Path(path)
    if not p.is_file():
        return None
    return hashlib.sha256(p.read_bytes()).hexdigest()
