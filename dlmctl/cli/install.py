"""``dlmctl install`` / ``dlmctl uninstall``: add or remove plugin distributions in the environment
dlmctl runs from, then say which controls appeared or went away.

The installer runs as a subprocess: ``uv pip … --python sys.executable`` when uv installed dlmctl
(uv environments usually have no pip), otherwise ``sys.executable -m pip``. Its output goes to
stderr; the summary goes to stdout. What plugins provide afterwards is read in a fresh interpreter,
since this process cannot see what was installed after it started (editable installs take effect
through ``.pth`` files read at start-up).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from typing import Annotated

import typer

from dlmctl.cli import app
from dlmctl.cli.common import print_json
from dlmctl.errors import DlmctlError, UsageError
from dlmctl.plugins import get_host

Controls = dict[str, list[str]]   # control name → [plugin, distribution, version]

#: run in a fresh interpreter: every control with the plugin and distribution registering it
_LIST_CONTROLS = """
import json
from dlmctl.plugins import get_host
infos = get_host().plugin_infos()
print(json.dumps({c: [i.name, i.distribution, i.version] for i in infos for c in i.controls}))
"""


def installer_command(action: str) -> list[str]:
    """``pip ACTION`` for this interpreter's environment: uv's when uv installed dlmctl (or pip is
    missing) and a ``uv`` executable is found, else ``python -m pip``."""
    uv = os.environ.get("UV") or shutil.which("uv")
    try:
        installed_by = (metadata.distribution("dlmctl").read_text("INSTALLER") or "").strip()
    except metadata.PackageNotFoundError:
        installed_by = ""
    has_pip = importlib.util.find_spec("pip") is not None
    if uv and (installed_by == "uv" or not has_pip):
        return [uv, "pip", action, "--python", sys.executable]
    if has_pip:
        return [sys.executable, "-m", "pip", action, *(["-y"] if action == "uninstall" else [])]
    raise DlmctlError(f"neither pip nor uv is available for {sys.executable}; "
                      f"run `{sys.executable} -m ensurepip` and retry")


def run_installer(action: str, args: list[str]) -> None:
    command = installer_command(action)
    result = subprocess.run([*command, *args], stdout=sys.stderr, stderr=sys.stderr)
    if result.returncode != 0:
        raise DlmctlError(f"`{' '.join(command[:4])} …` failed with exit code {result.returncode}; "
                          "see its output above")


def controls_now() -> Controls:
    """Every control this process's plugin host found."""
    return {c: [i.name, i.distribution, i.version] for i in get_host().plugin_infos() for c in i.controls}


def controls_after() -> Controls:
    """Every control a fresh interpreter finds (sees what was just installed)."""
    result = subprocess.run([sys.executable, "-c", _LIST_CONTROLS], capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise DlmctlError(f"could not list the controls after installing: {last}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _report(before: Controls, after: Controls, as_json: bool) -> None:
    added = {c: v for c, v in after.items() if c not in before}
    changed = {c: v for c, v in after.items() if c in before and before[c] != v}
    removed = sorted(c for c in before if c not in after)
    if as_json:
        print_json({"added": added, "changed": changed, "removed": removed, "available": sorted(after)})
        return
    for c, (_, dist, version) in added.items():
        print(f"new control: {c} ({dist} {version})")
    for c, (_, dist, version) in changed.items():
        print(f"updated control: {c} ({dist} {before[c][2]} -> {version})")
    for c in removed:
        print(f"removed control: {c} ({before[c][1]})")
    if not (added or changed or removed):
        print("no controls added or removed")
    print("available controls: " + (", ".join(sorted(after)) or "none"))


@app.command("install")
def install_command(
    targets: Annotated[list[str], typer.Argument(metavar="NAME_OR_PATH...",
                                                 help="Plugin distribution names or source directories.")],
    editable: Annotated[bool, typer.Option("-e", "--editable",
                                           help="Install a source directory in editable mode.")] = False,
    upgrade: Annotated[bool, typer.Option("-U", "--upgrade", help="Upgrade to the newest version.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Install plugins into dlmctl's own environment (pip, or uv where uv installed dlmctl)."""
    for target in targets:
        if target.startswith("-"):
            raise UsageError(f"'{target}' is an installer option; expected plugin names from the package index "
                             "or plugin source directories (dlmctl install takes only -e and -U)")
        looks_like_path = os.sep in target or target.startswith(".")
        if (looks_like_path or editable) and not os.path.isdir(target):
            raise UsageError(f"no such directory: {target} (expected a plugin name from the package "
                             "index, or a plugin's source directory such as ./plugins/dlmctl-keywords; "
                             "-e needs a directory)")
    before = controls_now()
    args = [*(["--upgrade"] if upgrade else []),
            *(arg for target in targets for arg in (["-e", target] if editable else [target]))]
    run_installer("install", args)
    _report(before, controls_after(), as_json)


@app.command("uninstall")
def uninstall_command(
    names: Annotated[list[str], typer.Argument(metavar="NAME...", help="Plugin distribution names.")],
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable summary.")] = False,
) -> None:
    """Uninstall plugin distributions from dlmctl's environment."""
    for name in names:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
            raise UsageError(f"'{name}' is not a distribution name; expected plugin distribution names as "
                             "`dlmctl plugins` lists them (no versions, paths or options)")
        if re.sub(r"[-_.]+", "-", name).lower() == "dlmctl":
            raise UsageError("refusing to uninstall dlmctl itself; expected plugin distribution names "
                             "as `dlmctl plugins` lists them")
    before = controls_now()
    run_installer("uninstall", names)
    _report(before, controls_after(), as_json)
