"""``dlmctl plugins``: what is installed."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from dlmctl.cli import app
from dlmctl.cli.common import print_json, show_plugin_warnings
from dlmctl.plugins import get_host
from dlmctl.progress import stderr

BUILTIN_DISTRIBUTION = "dlmctl"


@app.command("plugins")
def plugins_command(
    all_: Annotated[bool, typer.Option("--all", help="Include plugins built into dlmctl itself.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List installed plugins: distribution, version, hooks and the controls they add."""
    host = get_host()
    infos = [i for i in host.plugin_infos() if all_ or i.distribution != BUILTIN_DISTRIBUTION]
    show_plugin_warnings()
    if as_json:
        print_json([asdict(i) for i in infos])
        return
    if not infos:
        besides = "" if all_ else " besides dlmctl's built-ins (--all shows them)"
        stderr.print(f"no plugins installed{besides}; add one with `dlmctl install NAME_OR_PATH`", highlight=False)
        return
    table = Table("plugin", "distribution", "version", "hooks", "provides")
    for i in infos:
        provides = [f"control {c}" for c in i.controls] + [f"annotator {a}" for a in i.annotators] + \
                   [f"model {m}" for m in i.models] + [f"command {c}" for c in i.commands] + \
                   [f"critic {c}" for c in i.critics]
        table.add_row(i.name, i.distribution, i.version, ", ".join(i.hooks), ", ".join(provides))
    Console().print(table)
