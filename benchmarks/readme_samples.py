"""Rerun every ``$ dlmctl …`` command of the README's ``console`` block and write its output, unedited,
under the command (the README's "Five samples per control"), so that the samples shown are what
the defaults give today.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/readme_samples.py [--readme README.md]
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from dlmctl.checkpoint import atomic_write_text

BLOCK = re.compile(r"```console\n(.*?)```", re.S)


def rerun(block: str, dlmctl: str) -> str:
    """The console block with each command's output replaced by a fresh run's stdout."""
    commands = [line[2:] for line in block.splitlines() if line.startswith("$ dlmctl ")]
    parts = []
    for command in commands:
        print(f"running: {command}", file=sys.stderr)
        argv = shlex.split(command)
        done = subprocess.run([dlmctl, *argv[1:]], capture_output=True, text=True, check=True)
        parts.append(f"$ {command}\n{done.stdout.rstrip()}\n")
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--readme", type=Path, default=Path("README.md"))
    args = parser.parse_args()
    found = BLOCK.search(args.readme.read_text(encoding="utf-8"))
    if found is None:
        sys.exit(f"error: {args.readme} has no ```console block")
    dlmctl = str(Path(sys.executable).with_name("dlmctl"))
    if not os.access(dlmctl, os.X_OK):
        sys.exit(f"error: no dlmctl beside {sys.executable}; install the package in this environment")
    fresh = rerun(found.group(1), dlmctl)
    text = args.readme.read_text(encoding="utf-8")     # again: keep what was edited while the commands ran
    found = BLOCK.search(text)
    atomic_write_text(args.readme, text[:found.start(1)] + fresh + text[found.end(1):])
    print(f"wrote the samples of {fresh.count('$ dlmctl')} commands to {args.readme}", file=sys.stderr)


if __name__ == "__main__":
    main()
