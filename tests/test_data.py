"""Reading corpora: every local format with the standard library, clear errors for bad files, and a
mistyped path never sent to the hub."""

import json
import sys

import pytest

from dlmctl.corpus import prepare
from dlmctl.data import load_texts
from dlmctl.errors import UsageError

TEXTS = ["The Eagle is a pub .", "Aromi is cheap ."]


@pytest.mark.parametrize("name, content, column", [
    ("c.csv", 'id,human_reference\n1,The Eagle is a pub .\n2,"Aromi is cheap ."\n3,\n', "human_reference"),
    ("c.tsv", "id\ttext\n1\tThe Eagle is a pub .\n2\tAromi is cheap .\n", "text"),
    ("c.jsonl", "\n".join(json.dumps({"text": t}) for t in TEXTS) + "\n", "text"),
    ("c.json", json.dumps([{"text": t, "n": 1} for t in TEXTS]), "text"),
    ("c.txt", "\n".join(TEXTS) + "\n\n", "ignored for .txt"),
])
def test_every_local_format_gives_the_non_empty_texts(tmp_path, name, content, column):
    path = tmp_path / name
    path.write_text(content)
    assert load_texts(str(path), column) == TEXTS


@pytest.mark.parametrize("name, content, message", [
    ("c.csv", "id,text\n1,a\n", "has no column 'human_reference' (columns: id, text); pick one with --text-column"),
    ("c.jsonl", '{"text": "a"}\nnot json\n', "c.jsonl:2: not JSON"),
    ("c.json", "[1, 2]", "expected JSON objects with a text field"),
    ("c.parquet", "x", "cannot read"),
])
def test_bad_corpus_files_are_one_line_usage_errors(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content)
    with pytest.raises(UsageError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_texts(str(path))


def test_non_utf8_corpus_and_mistyped_paths_are_not_sent_to_the_hub(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)     # importing it would fail the test
    (tmp_path / "latin1.csv").write_bytes("human_reference\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UsageError, match="is not UTF-8 text"):
        load_texts(str(tmp_path / "latin1.csv"))
    for mistyped in (str(tmp_path / "trian.csv"), str(tmp_path / "train"), "./train"):
        with pytest.raises(UsageError, match="data file not found"):
            load_texts(mistyped)


def test_a_corpus_too_small_for_any_word_is_refused(tmp_path):
    path = tmp_path / "one.txt"
    path.write_text("A single sentence .\n")
    with pytest.raises(UsageError, match="vocabulary would be empty: use a larger corpus or a lower --min-count"):
        prepare(str(path), "text", 16, min_count=3)


def test_hub_names_and_local_paths_are_told_apart(tmp_path, monkeypatch):
    from dlmctl.data import looks_local

    monkeypatch.chdir(tmp_path)
    for hub in ("e2e_nlg", "GEM/e2e_nlg", "e2e_nlg:default"):
        assert not looks_local(hub), hub
    for local in ("train.csv", "./train", "../data/train", "data/e2e/train", "/abs/train", "~/train"):
        assert looks_local(local), local


def test_quoted_newlines_and_odd_line_breaks_stay_inside_a_text(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('human_reference\n"two\nlines"\nform\x0cfeed\n', newline="")
    assert load_texts(str(path)) == ["two\nlines", "form\x0cfeed"]
    (tmp_path / "c.txt").write_text("one\x0cline\r\nnext\n", newline="")
    assert load_texts(str(tmp_path / "c.txt")) == ["one\x0cline", "next"]
