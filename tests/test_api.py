"""The Python API: the same text as the command line for the same request and seed, its options,
errors in library terms, the control list, and the module's own example."""

import doctest

import pytest

import dlmctl
from dlmctl.cli import main
from dlmctl.errors import DlmctlError, ModelError, UsageError


def cli_lines(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["dlmctl", *args])
    main()
    return capsys.readouterr().out.splitlines()


def test_the_api_and_the_command_line_give_the_same_text(monkeypatch, capsys, tiny_model_dir):
    model = dlmctl.load(tiny_model_dir)
    samples = model.generate({"length": 6}, n=3, seed=4, steps=20)
    assert [(s.target_index, s.sample_index, s.controls) for s in samples] == [(0, k, {"length": "6"}) for k in range(3)]
    shell = cli_lines(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "-c", "length=6", "-n", "3",
                      "--seed", "4", "--steps", "20")
    assert [s.text for s in samples] == shell
    batch = model.generate_batch([{"length": 5}, {}], samples_per_target=2, seed=4, steps=20, candidates=1)
    assert [(s.target_index, s.sample_index) for s in batch] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert all(len(s.text.split()) == 5 for s in batch[:2])


def test_options_and_errors_are_in_library_terms(tiny_model_dir, tmp_path):
    model = dlmctl.load(str(tiny_model_dir))
    with pytest.raises(UsageError, match="unknown option 'stepz'"):
        model.generate(n=1, stepz=5)
    with pytest.raises(DlmctlError, match="unknown control 'lenght'; did you mean 'length'"):
        model.generate({"lenght": 5}, steps=5)
    with pytest.raises(ModelError):
        dlmctl.load(tmp_path / "nothing-here")
    assert issubclass(UsageError, dlmctl.DlmctlError) and dlmctl.DlmctlError is DlmctlError


def test_controls_say_what_their_targets_look_like():
    controls = dlmctl.controls()
    pos = controls["pos"]
    assert (pos.distribution, pos.needs_classifier) == ("dlmctl-pos", True)
    assert "UPOS" in pos.target_syntax and pos.default_weight > 0
    assert not controls["length"].needs_classifier


def test_the_module_example_runs_on_the_bundled_model():
    if "default" not in dlmctl.api.get_host().models():
        pytest.skip("the bundled model (dlmctl-e2e) is not installed")
    result = doctest.testmod(dlmctl.api, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 3 and result.failed == 0


def test_a_plugin_filter_that_hides_the_default_model_says_so(monkeypatch):
    from dlmctl.plugins import reset_host

    monkeypatch.setenv("DLMCTL_PLUGINS", "length")
    reset_host()
    try:
        with pytest.raises(ModelError, match="DLMCTL_PLUGINS='length'"):
            dlmctl.load()
    finally:
        monkeypatch.delenv("DLMCTL_PLUGINS")
        reset_host()
