"""The plugin author guide cannot drift from the code: every hookspec, with its arguments, and every
part of the ``Control`` interface must be documented in docs/plugins.md."""

import inspect
import re
from pathlib import Path

import pytest

from dlmctl import hookspecs
from dlmctl.control import Control, Guidance

GUIDE = Path(__file__).resolve().parents[1] / "docs" / "plugins.md"


def hookspec_functions():
    return [f for name, f in vars(hookspecs).items()
            if inspect.isfunction(f) and hasattr(f, "dlmctl_spec")]


def test_hookspecs_are_found():
    assert {f.__name__ for f in hookspec_functions()} >= {"register_controls"}


@pytest.mark.parametrize("spec", hookspec_functions(), ids=lambda f: f.__name__)
def test_every_hook_is_documented_with_its_arguments(spec):
    guide = GUIDE.read_text()
    arguments = ", ".join(inspect.signature(spec).parameters)
    heading = f"### `{spec.__name__}({arguments})`"
    assert heading in guide, f"docs/plugins.md needs a section headed {heading}"


def control_interface():
    attributes = [n for n in vars(Control) if not n.startswith("_")]
    return attributes + ["name"] + [f.name for f in Guidance.__dataclass_fields__.values()]


@pytest.mark.parametrize("member", control_interface())
def test_every_part_of_the_control_interface_is_documented(member):
    assert re.search(rf"`{member}[`(]", GUIDE.read_text()), f"docs/plugins.md does not mention `{member}`"
