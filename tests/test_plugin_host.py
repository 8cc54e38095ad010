"""Plugin isolation through real entry-point discovery: distributions are written to a temporary
directory on sys.path (a ``.dist-info`` with ``entry_points.txt`` beside the plugin module)."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from dlmctl.errors import PluginError
from dlmctl.plugins import PluginHost

CONTROL_MODULE = """
from dlmctl.control import Control, Guidance
from dlmctl.hookspecs import hookimpl


class Fake(Control):
    name = "{control}"

    def parse_target(self, text, model):
        return text

    def guidance(self, model, targets):
        return Guidance()

    def score(self, text, target):
        return 1.0


@hookimpl
def register_controls(register):
    register(Fake())
"""


@pytest.fixture
def site(tmp_path, monkeypatch):
    """``add(dist, entry_point, source)`` installs a one-module distribution into a temporary
    site directory; its module is forgotten after the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = []

    def add(dist: str, entry_point: str, source: str) -> str:
        module = f"{dist.replace('-', '_')}_{entry_point}"
        modules.append(module)
        (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir(exist_ok=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        with open(info / "entry_points.txt", "a") as f:
            f.write(f"[dlmctl]\n{entry_point} = {module}\n")
        return module

    yield add
    for module in modules:
        sys.modules.pop(module, None)


def host_for(monkeypatch, *names: str) -> PluginHost:
    monkeypatch.setenv("DLMCTL_PLUGINS", ",".join(names))
    return PluginHost()


def test_plugin_failing_on_import_is_a_warning_naming_it(site, monkeypatch):
    site("good-dist", "good", CONTROL_MODULE.format(control="good"))
    site("bad-dist", "bad", "raise RuntimeError('boom at import')")
    host = host_for(monkeypatch, "good", "bad")
    assert list(host.controls()) == ["good"]
    assert any("'bad' (bad-dist) failed to load" in w and "boom at import" in w for w in host.warnings)
    assert [i.name for i in host.plugin_infos()] == ["good"]


def test_plugin_failing_in_registration_is_a_warning_naming_it(site, monkeypatch):
    site("good-dist", "good", CONTROL_MODULE.format(control="good"))
    site("bad-dist", "bad", """
        from dlmctl.hookspecs import hookimpl

        @hookimpl
        def register_controls(register):
            raise ValueError("no classifier file")
    """)
    host = host_for(monkeypatch, "good", "bad")
    assert list(host.controls()) == ["good"]
    assert any("'bad' (bad-dist) failed in register_controls" in w and "no classifier file" in w
               for w in host.warnings)


def test_hook_with_wrong_arguments_leaves_plugin_unregistered(site, monkeypatch):
    site("bad-dist", "bad", """
        from dlmctl.hookspecs import hookimpl

        @hookimpl
        def register_controls(register, model):
            pass
    """)
    host = host_for(monkeypatch, "bad")
    assert host.plugin_infos() == []
    assert any("'bad' (bad-dist) failed to load" in w for w in host.warnings)


def test_duplicate_control_names_name_both_distributions(site, monkeypatch):
    site("first-dist", "first", CONTROL_MODULE.format(control="same"))
    site("second-dist", "second", CONTROL_MODULE.format(control="same"))
    host = host_for(monkeypatch, "first", "second")
    assert list(host.controls()) == ["same"]
    [warning] = [w for w in host.warnings if "duplicate control 'same'" in w]
    assert "first-dist" in warning and "second-dist" in warning


def test_duplicate_entry_point_names_name_both_distributions(site, monkeypatch):
    site("one-dist", "clash", CONTROL_MODULE.format(control="one"))
    site("two-dist", "clash", CONTROL_MODULE.format(control="two"))
    host = host_for(monkeypatch, "clash")
    assert len(host.controls()) == 1
    [warning] = [w for w in host.warnings if "duplicate plugin name 'clash'" in w]
    assert "one-dist" in warning and "two-dist" in warning


def test_dlmctl_plugins_loads_only_the_named_plugins(site, monkeypatch):
    site("a-dist", "a", CONTROL_MODULE.format(control="ca"))
    skipped = site("b-dist", "b", CONTROL_MODULE.format(control="cb"))
    host = host_for(monkeypatch, "a", "typo")
    assert list(host.controls()) == ["ca"]
    assert skipped not in sys.modules                     # never imported
    assert any("DLMCTL_PLUGINS names 'typo'" in w for w in host.warnings)
    with pytest.raises(PluginError, match="unknown control 'cb'"):
        host.control("cb")


def test_empty_dlmctl_plugins_loads_nothing(site, monkeypatch):
    site("a-dist", "a", CONTROL_MODULE.format(control="ca"))
    assert host_for(monkeypatch).controls() == {}


def test_unknown_hook_is_reported(site, monkeypatch):
    site("typo-dist", "typo", CONTROL_MODULE.format(control="ok") + """
@hookimpl
def register_control(register):
    pass
""")
    host = host_for(monkeypatch, "typo")
    assert list(host.controls()) == ["ok"]
    assert any("unknown hook 'register_control'" in w and "typo-dist" in w for w in host.warnings)


def test_plugins_listing_shows_distribution_version_hooks_controls(site, monkeypatch):
    site("good-dist", "good", CONTROL_MODULE.format(control="good"))
    [info] = host_for(monkeypatch, "good").plugin_infos()
    assert (info.name, info.distribution, info.version) == ("good", "good-dist", "1.0")
    assert info.hooks == ["register_controls"] and info.controls == ["good"]


def test_broken_plugin_module_file_is_not_needed_for_listing(site, monkeypatch, tmp_path):
    module = site("gone-dist", "gone", CONTROL_MODULE.format(control="gone"))
    Path(tmp_path / f"{module}.py").unlink()                 # entry point left behind by a bad uninstall
    host = host_for(monkeypatch, "gone")
    assert host.controls() == {}
    assert any("'gone' (gone-dist) failed to load" in w and "ModuleNotFoundError" in w for w in host.warnings)


def test_with_controls_builds_a_host_of_just_those_controls():
    from dlmctl_length import LengthControl

    control = LengthControl()
    host = PluginHost.with_controls(control, name="variants")
    assert host.controls() == {"length": control}
    assert [i.name for i in host.plugin_infos()] == ["variants"]


def test_plugins_add_commands_and_cannot_take_dlmctl_s_own(monkeypatch, capsys):
    """``register_commands``: a plugin's function becomes ``dlmctl NAME``; one named like a dlmctl
    command is left out with a warning (the infill plugin's ``dlmctl infill`` comes this way)."""
    import dlmctl.plugins
    from dlmctl.cli import main
    from dlmctl.hookspecs import hookimpl

    def hello(name: str = "world") -> None:
        """Say hello."""
        print(f"hello {name}")

    def generate() -> None:
        """An impostor."""

    class Commands:
        @hookimpl
        def register_commands(self, register):
            register("hello", hello)
            register("generate", generate)

    host = dlmctl.plugins.PluginHost()
    host.register(Commands(), "greeter")
    monkeypatch.setattr(dlmctl.plugins, "_host", host)
    assert "infill" in host.commands() and host.plugin_infos()
    monkeypatch.setattr("sys.argv", ["dlmctl", "hello", "--name", "plugins"])
    main()
    assert capsys.readouterr().out == "hello plugins\n"
    assert any("command 'generate' is left out" in w for w in host.warnings)


def test_a_control_with_a_gradient_term_but_no_weight_is_a_plugin_error(tiny_model):
    """``default_weight = None`` says a control has no λ; one whose guidance still has a
    ``log_prob`` is told so by name instead of failing inside the sampler."""
    import torch

    from dlmctl.control import Guidance
    from dlmctl.generation import generate
    from dlmctl_length import LengthControl

    class Pulling(LengthControl):
        def guidance(self, model, targets):
            return Guidance(log_prob=lambda x, t: torch.zeros(len(x)))

    host = PluginHost.with_controls(Pulling(), name="pulling")
    with pytest.raises(PluginError, match="control 'length' returns a log_prob but its default_weight is None"):
        generate(tiny_model, [{"length": "5"}], host=host, show_progress=False)
