"""The Python API: the same text as the command line for the same request and seed, its options,
errors in library terms, the control list, and the module's own example."""

import doctest
import itertools
import json

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


def test_the_word_temperature_reaches_the_sampler(monkeypatch, tiny_model_dir):
    import dlmctl.generation
    seen = []
    real = dlmctl.generation.generate
    monkeypatch.setattr(dlmctl.generation, "generate",
                        lambda *args, **kw: seen.append(kw["sampler"].word_temperature) or real(*args, **kw))
    model = dlmctl.load(tiny_model_dir)
    model.generate(n=1, steps=5, candidates=1)
    model.generate(n=1, steps=5, candidates=1, word_temperature=0.5)
    assert seen == [None, 0.5]                                   # None: the sampler picks the model's own


def test_options_and_errors_are_in_library_terms(tiny_model_dir, tmp_path):
    model = dlmctl.load(str(tiny_model_dir))
    with pytest.raises(UsageError, match="unknown option 'stepz'"):
        model.generate(n=1, stepz=5)
    with pytest.raises(DlmctlError, match="unknown control 'lenght'; did you mean 'length'"):
        model.generate({"lenght": 5}, steps=5)
    for bad in (0.0, -1.0, float("nan"), float("inf")):
        with pytest.raises(UsageError, match="--guide-lr must be a positive number"):
            model.generate(steps=5, guide_lr=bad)
    with pytest.raises(UsageError, match="--guide-norm must be coordinate or sentence, got 'Sentence'"):
        model.generate(steps=5, guide_norm="Sentence")
    for bad in (-0.5, float("inf"), "far", True):
        with pytest.raises(UsageError, match="--repel must be a number, 0 .* or more"):
            model.generate(steps=5, repel=bad)
        with pytest.raises(UsageError, match="--teacher-weight must be a number, 0 .* or more"):
            model.generate(steps=5, teacher_weight=bad)
    for bad in (-1, 9, 1.5, "two", True):
        with pytest.raises(UsageError, match="--repair must be a whole number of rounds from 0 .* to 8"):
            model.generate(steps=5, repair=bad)
    for bad in (-0.5, 11.0, float("nan"), "far", True):
        with pytest.raises(UsageError, match=r"--word-temperature must be in \[0, 10\]"):
            model.generate(steps=5, word_temperature=bad)
    with pytest.raises(UsageError, match="--prune-at 0"):
        model.generate(steps=5, prune_at=0.0)
    for name, bad in itertools.product(("tail_stride", "guide_every"), (0, 1.5, True)):
        with pytest.raises(UsageError, match=f"--{name.replace('_', '-')} must be a whole number"):
            model.generate(steps=5, **{name: bad})
    with pytest.raises(ModelError):
        dlmctl.load(tmp_path / "nothing-here")
    assert issubclass(UsageError, dlmctl.DlmctlError) and dlmctl.DlmctlError is DlmctlError


def test_controls_say_what_their_targets_look_like():
    controls = dlmctl.controls()
    pos = controls["pos"]
    assert (pos.distribution, pos.needs_classifier) == ("dlmctl-pos", True)
    assert "UPOS" in pos.target_syntax and pos.default_weight > 0
    assert not controls["length"].needs_classifier


def test_every_example_target_is_accepted_by_the_bundled_model():
    from dlmctl.generation import prepare_controls

    if "default" not in dlmctl.api.get_host().models():
        pytest.skip("the bundled model (dlmctl-e2e) is not installed")
    model = dlmctl.load()
    examples = {name: info.example for name, info in dlmctl.controls().items()}
    assert all(examples.values()), examples
    for name, example in examples.items():
        prepare_controls(model.lm, [{name: example}])          # raises TargetError if it does not parse


def test_dlmctl_controls_lists_syntax_and_a_runnable_example(monkeypatch, capsys):
    out = "\n".join(cli_lines(monkeypatch, capsys, "controls"))
    assert "pos  (dlmctl-pos; needs a trained classifier" in out
    assert "example: dlmctl generate -c length=12" in out
    assert "length  (dlmctl-length; no classifier; no λ (no gradient))" in out
    records = json.loads(cli_lines(monkeypatch, capsys, "controls", "--json")[0])
    assert {r["name"] for r in records} >= {"length", "pos", "tree", "span", "semantic", "infill", "keywords"}
    weights = {r["name"]: r["default_weight"] for r in records}
    assert weights["keywords"] is None and weights["length"] is None and weights["pos"] > 0


def test_trajectory_shows_the_sentence_forming_and_ends_with_the_sample(tiny_model_dir):
    model = dlmctl.load(tiny_model_dir)
    plain = model.generate({"length": 6}, n=2, seed=1, steps=20, candidates=1)
    traced = model.generate({"length": 6}, n=2, seed=1, steps=20, candidates=1, trajectory_every=5)
    assert [s.text for s in traced] == [s.text for s in plain]      # watching does not change the text
    for sample in traced:
        assert [step for step, _ in sample.trajectory] == [14, 10, 5, 0]     # 10 whole steps, 10 at stride 2
        assert sample.trajectory[-1][1] == sample.text
    chosen = model.generate({"length": 6}, n=2, seed=1, steps=20, candidates=3, trajectory_every=10)
    assert all(s.trajectory[-1][1] == s.text for s in chosen)       # the kept candidate's own path
    assert all(set(s.scores) == {"loss", "flaws"} for s in chosen)  # tiny model: no classifier, no teacher


def test_judge_scores_each_sample_with_its_controls_oracles(tiny_model_dir):
    model = dlmctl.load(tiny_model_dir)
    samples = model.generate({"length": 7}, n=3, seed=2, steps=20, judge=True)
    assert [s.oracle for s in samples] == [{"length": float(len(s.text.split()) == 7)} for s in samples]
    assert model.generate(n=1, steps=5, judge=True)[0].oracle == {}


def test_infill_keeps_the_known_words_and_reports_the_blanks(tiny_model_dir):
    model = dlmctl.load(tiny_model_dir)
    samples = model.infill("The ___ is a [2] .", n=2, seed=0, steps=20, mbr=2, judge=True)
    assert len(samples) == 2
    for sample in samples:
        words = sample.text.split()
        assert words[0] == "The" and words[2:4] == ["is", "a"] and [len(f) for f in sample.fills] == [1, 2]
        assert sample.oracle == {"infill": 1.0}
    with pytest.raises(UsageError, match="give one of them"):
        model.infill("The ___ is a [2] .", mbr=4, candidates=4)


def test_output_dash_writes_jsonl_to_stdout_and_show_steps_prints_the_path(monkeypatch, capsys, tiny_model_dir):
    base = ["generate", "--model", str(tiny_model_dir), "-c", "length=5", "-n", "2", "--steps", "10"]
    records = [json.loads(line) for line in cli_lines(monkeypatch, capsys, *base, "--output", "-")]
    assert [r["sample"] for r in records] == [0, 1] and all(len(r["text"].split()) == 5 for r in records)
    lines = cli_lines(monkeypatch, capsys, *base, "--show-steps", "5", "--judge", "--candidates", "1")
    assert [line.split()[:2] for line in lines if line.startswith("  step")] == [["step", "7"], ["step", "5"]] * 2
    finals = [line for line in lines if not line.startswith("  step")]
    assert len(finals) == 2 and all(len(line.split("\t")[0].split()) == 5 for line in finals)
    assert all(line.endswith("\tlength=1.00") for line in finals)


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
