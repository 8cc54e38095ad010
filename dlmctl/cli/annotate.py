"""``dlmctl annotate``: turn an example sentence into a target (UPOS sequence, tree or spans), and
``dlmctl annotators list|download``: the installed annotator backends."""

from __future__ import annotations

from enum import Enum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dlmctl.annotators import DEFAULT_ANNOTATOR, AnnotatorUnavailable, get_annotator
from dlmctl.cli import app
from dlmctl.cli.common import print_json, show_plugin_warnings
from dlmctl.errors import UsageError
from dlmctl.plugins import get_host

annotators_app = typer.Typer(help="Annotator backends (POS taggers, constituency parsers).",
                             no_args_is_help=True)
app.add_typer(annotators_app, name="annotators")


class As(str, Enum):
    pos = "pos"
    tree = "tree"
    spans = "spans"


#: longest sentence ``annotate`` reads (targets are for models of far shorter sentences)
MAX_WORDS = 400


@app.command("annotate")
def annotate_command(
    text: Annotated[str, typer.Argument(help="An example sentence.")],
    as_: Annotated[As, typer.Option("--as", help="pos: UPOS sequence; tree: bracketed parse; spans: i,j,LABEL lines.")] = As.pos,
    parser: Annotated[str, typer.Option("--parser", help="Annotator backend (see `dlmctl annotators list`).")] = DEFAULT_ANNOTATOR,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Annotate TEXT with the oracle a control uses, printing a ready-made target."""
    from dlmctl.vocab import detokenize, tokenize

    words = tokenize(text)
    if not any(character.isalnum() for character in text):
        raise UsageError("TEXT has no words: give a sentence, e.g. dlmctl annotate 'The Eagle is a pub .' --as tree")
    if len(words) > MAX_WORDS:
        raise UsageError(f"TEXT has {len(words)} words; annotate reads one sentence of at most {MAX_WORDS} words")
    annotator = get_annotator(parser)
    show_plugin_warnings()
    sentence = detokenize(words)
    if as_ is As.pos:
        tags = [tag for _, tag in annotator.tag([sentence])[0]]
        result, lines = {"words": words, "pos": tags}, [" ".join(tags)]
    elif as_ is As.tree:
        tree = annotator.parse([sentence])[0].to_bracketed()
        result, lines = {"words": words, "tree": tree}, [tree]
    else:
        spans = [(f"{i},{j},{label}", detokenize(words[i:j + 1])) for i, j, label in
                 annotator.parse([sentence])[0].spans()]
        result = {"words": words, "spans": [{"span": span, "words": w} for span, w in spans]}
        lines = [f"{span}\t{w}" for span, w in spans]
    if as_json:
        print_json(result)
    else:
        print("\n".join(lines))


@annotators_app.command("list")
def list_command(as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False) -> None:
    """Installed backends and whether their models are present here."""
    rows = []
    for name, annotator in get_host().annotators().items():
        try:
            annotator.check()
            status = "ready"
        except AnnotatorUnavailable as exc:
            status = str(exc)
        rows.append({"name": name, "description": getattr(annotator, "description", ""), "status": status})
    show_plugin_warnings()
    if as_json:
        print_json(rows)
        return
    table = Table("annotator", "description", "status")
    for row in rows:
        table.add_row(row["name"], row["description"], row["status"])
    Console().print(table)


@annotators_app.command("download")
def download_command(name: Annotated[str, typer.Argument(help="Backend whose models to fetch, e.g. stanza.")]) -> None:
    """Fetch a backend's models with its own downloader (needs a network)."""
    get_host().annotator(name).download()
    print(f"downloaded the models of annotator '{name}'")
