"""Arbitrary strings against every target parser and the batch-target reader: each gives a parsed
target or the control's own one-line error, never another exception (hypothesis)."""

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import dlmctl  # noqa: E402
from dlmctl.plugins import get_host  # noqa: E402
from dlmctl.errors import TargetError, UsageError  # noqa: E402

CONTROLS = ["length", "pos", "tree", "span", "semantic", "infill", "keywords"]
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# strings near each control's syntax, besides arbitrary text
NEAR = st.one_of(
    st.text(),
    st.text(alphabet="()*NPVSDETNOUNADJ ,=;[]-_0123456789", max_size=60),
    st.lists(st.sampled_from(["DET", "NOUN", "(", ")", "*", "NP", "S", "0", "3", ",", "=", ";", "food", "Italian",
                              "___", "[2]", "[*]", "[1-3]", "The", "pub", "riverside", "\x00", "é", " "]),
             max_size=30).map(" ".join),
)


@pytest.fixture(scope="module")
def bundled():
    if "default" not in get_host().models():
        pytest.skip("the bundled model (dlmctl-e2e) is not installed")
    model = dlmctl.load()
    return model.lm, get_host().controls()


@pytest.mark.parametrize("name", CONTROLS)
@FUZZ
@given(text=NEAR)
def test_every_target_parser_answers_with_a_target_or_its_own_error(bundled, name, text):
    model, controls = bundled
    try:
        controls[name].parse_target(text, model)
    except TargetError as exc:
        assert str(exc) and "\n" not in exc.one_line()


@FUZZ
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_the_batch_target_reader_answers_with_lines_or_a_usage_error(tmp_path_factory, data):
    from dlmctl.cli.generate import read_target_lines

    path = tmp_path_factory.mktemp("fuzz") / "targets.jsonl"
    path.write_bytes(data)
    try:
        lines, problems = read_target_lines(path)
    except UsageError as exc:
        assert "\n" not in exc.one_line()
        return
    assert all(isinstance(controls, dict) for _, controls in lines)
    assert all(message.startswith(str(path)) for _, message in problems)
