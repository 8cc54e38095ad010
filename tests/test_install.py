"""``dlmctl install`` / ``uninstall`` / ``plugins`` through real entry-point discovery, in
subprocesses.

The acceptance test builds a fresh virtual environment that sees this environment's packages
(torch, dlmctl, pip, …) except the keywords plugin, installs the plugin with ``dlmctl install``,
and generates with it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from dlmctl.cli import main

REPO = Path(__file__).resolve().parents[1]
KEYWORDS_PLUGIN = REPO / "plugins" / "dlmctl-keywords"
OFFLINE_PIP = {"PIP_NO_INDEX": "1", "PIP_NO_BUILD_ISOLATION": "0", "PIP_NO_DEPS": "1",
               "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


def run_dlmctl(python: str | Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **OFFLINE_PIP, "OMP_NUM_THREADS": "1", **(env or {})}
    env.pop("DLMCTL_PLUGINS", None)
    return subprocess.run([str(python), "-m", "dlmctl", *args], capture_output=True, text=True, env=env,
                          timeout=300)


def json_out(result: subprocess.CompletedProcess):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def fresh_env(tmp_path) -> Path:
    """A venv whose site-packages reach this environment's packages, minus dlmctl-keywords, through
    a ``.pth`` that adds a directory of links (so editable installs' own ``.pth`` files still run)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    parent = Path(sysconfig.get_path("purelib"))
    links = tmp_path / "parent-site"
    links.mkdir()
    for entry in parent.iterdir():
        if "dlmctl_keywords" not in entry.name.replace("-", "_"):
            (links / entry.name).symlink_to(entry)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
    (site / "_dlmctl_parent.pth").write_text(f"import site; site.addsitedir({str(links)!r})\n")
    return venv / "bin" / "python"


def test_install_plugins_generate_uninstall_in_a_fresh_environment(fresh_env, tmp_path, tiny_model_dir):
    source = tmp_path / "dlmctl-keywords"
    shutil.copytree(KEYWORDS_PLUGIN, source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    before = json_out(run_dlmctl(fresh_env, "plugins", "--json"))
    assert "keywords" not in {c for p in before for c in p["controls"]}

    installed = json_out(run_dlmctl(fresh_env, "install", str(source), "--json"))
    assert installed["added"]["keywords"] == ["keywords", "dlmctl-keywords", "0.1.0"]

    [listed] = [p for p in json_out(run_dlmctl(fresh_env, "plugins", "--json")) if p["name"] == "keywords"]
    assert (listed["distribution"], listed["hooks"], listed["controls"]) == \
        ("dlmctl-keywords", ["register_controls"], ["keywords"])

    generated = run_dlmctl(fresh_env, "generate", "--model", str(tiny_model_dir), "--control",
                           "keywords=riverside, cheap", "-n", "2", "--steps", "20", "--json")
    records = [json.loads(line) for line in generated.stdout.splitlines()]
    assert generated.returncode == 0, generated.stderr
    assert [r["controls"] for r in records] == [{"keywords": "riverside, cheap"}] * 2

    removed = json_out(run_dlmctl(fresh_env, "uninstall", "dlmctl-keywords", "--json"))
    assert removed["removed"] == ["keywords"] and "keywords" not in removed["available"]


def test_broken_plugins_do_not_break_generate(tmp_path, tiny_model_dir):
    for dist, module, source in (
        ("dlmctl-broken-import", "broken_import", "raise RuntimeError('broken on purpose')\n"),
        ("dlmctl-broken-hook", "broken_hook", "from dlmctl.hookspecs import hookimpl\n\n"
                                               "@hookimpl\ndef register_controls(register):\n"
                                               "    raise RuntimeError('broken on purpose')\n"),
    ):
        (tmp_path / f"{module}.py").write_text(source)
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[dlmctl]\n{module} = {module}\n")
    pythonpath = os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])
    result = run_dlmctl(sys.executable, "generate", "--model", str(tiny_model_dir), "-n", "2",
                        "--steps", "10", env={"PYTHONPATH": pythonpath})
    assert result.returncode == 0, result.stderr
    assert len(result.stdout.splitlines()) == 2
    assert "plugin 'broken_import' (dlmctl-broken-import) failed to load" in result.stderr
    assert "plugin 'broken_hook' (dlmctl-broken-hook) failed in register_controls" in result.stderr


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["dlmctl", *args])
    try:
        main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_install_of_a_missing_directory_is_a_usage_error(monkeypatch, capsys, tmp_path):
    code, _, err = run_main(monkeypatch, capsys, "install", str(tmp_path / "nope"))
    assert code == 2 and "no such directory" in err and "./plugins/dlmctl-keywords" in err
    code, _, err = run_main(monkeypatch, capsys, "install", "-e", "dlmctl-keywords")
    assert code == 2 and "-e needs a directory" in err


@pytest.mark.parametrize("name", ["dlmctl", "DLMCTL", "Dlmctl", "DLMctl"])
def test_uninstall_refuses_dlmctl_itself_however_spelt(monkeypatch, capsys, name):
    code, _, err = run_main(monkeypatch, capsys, "uninstall", name)
    assert code == 2 and "refusing to uninstall dlmctl itself" in err


@pytest.mark.parametrize("name", ["dlmctl==0.1.0", "./", "/work/main", "--yes", "dlmctl>=0"])
def test_uninstall_takes_only_distribution_names(monkeypatch, capsys, name):
    code, _, err = run_main(monkeypatch, capsys, "uninstall", "--", name)
    assert code == 2 and "not a distribution name" in err and len(err.strip().splitlines()) == 1


def test_install_refuses_installer_options(monkeypatch, capsys):
    code, _, err = run_main(monkeypatch, capsys, "install", "--", "--index-url=https://example.org/simple", "x")
    assert code == 2 and "is an installer option" in err


def test_plugins_hides_builtins_unless_all(monkeypatch, capsys):
    from dlmctl.plugins import reset_host

    reset_host()
    _, out, _ = run_main(monkeypatch, capsys, "plugins", "--json")
    shown = json.loads(out)
    _, out, _ = run_main(monkeypatch, capsys, "plugins", "--all", "--json")
    everything = json.loads(out)
    assert all(p["distribution"] != "dlmctl" for p in shown)
    assert [p for p in everything if p["distribution"] != "dlmctl"] == shown
    assert {"name", "distribution", "version", "hooks", "controls"} <= set(everything[0])
