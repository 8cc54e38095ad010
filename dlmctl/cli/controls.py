"""``dlmctl controls``: every installed control, what its target looks like, and an example."""

from __future__ import annotations

import shlex
from dataclasses import asdict
from typing import Annotated

import typer
from dlmctl.cli import app
from dlmctl.cli.common import print_json, show_plugin_warnings


@app.command("controls")
def controls_command(
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the controls --control accepts: target syntax, an example, default λ, classifier needed."""
    from dlmctl.api import controls

    infos = controls()
    show_plugin_warnings()
    if as_json:
        print_json([asdict(info) for info in infos.values()])
        return
    for info in infos.values():
        needs = "needs a trained classifier" if info.needs_classifier else "no classifier"
        weight = "no λ (no gradient)" if info.default_weight is None else f"λ {info.default_weight:g}"
        print(f"{info.name}  ({info.distribution}; {needs}; {weight})")
        print(f"    {info.description}")
        print(f"    target:  {info.target_syntax}")
        if info.example:
            print(f"    example: dlmctl generate -c {shlex.quote(f'{info.name}={info.example}')}")
