"""The plugin author guide cannot drift from the code: every hookspec, with its arguments, and every
part of the ``Control`` and ``ClassifierControl`` interfaces must be documented in docs/plugins.md,
and its example classifier control must train and steer."""

import inspect
import re
import shutil
import types
from pathlib import Path

import pytest

from dlmctl import hookspecs
from dlmctl.classifiers import ClassifierControl
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
    classifier = [n for n in vars(ClassifierControl) if not n.startswith("_") and n not in attributes]
    return attributes + classifier + ["name", "classifier_name"] + list(Guidance.__dataclass_fields__)


@pytest.mark.parametrize("member", control_interface())
def test_every_part_of_the_control_interface_is_documented(member):
    assert re.search(rf"`{member}[`(]", GUIDE.read_text()), f"docs/plugins.md does not mention `{member}`"


def guide_example(marker: str) -> str:
    """The code block that follows ``<!-- example: MARKER -->`` in the guide."""
    match = re.search(rf"<!-- example: {marker} -->\n```python\n(.*?)```", GUIDE.read_text(), re.S)
    assert match, f"docs/plugins.md has no example marked {marker}"
    return match.group(1)


def test_the_guide_s_classifier_control_trains_and_steers(tiny_model_dir, small_corpus, tmp_path):
    """The guide's classifier control trains and steers, its network started from the same weights
    whatever ran before (a new network draws them from torch's global generator)."""
    import torch

    from dlmctl.checkpoint import load_model
    from dlmctl.plugins import PluginHost
    from dlmctl.sampling import SamplerConfig
    from dlmctl.testing import generate_texts

    torch.manual_seed(0)
    module = types.ModuleType("family_control")
    exec(compile(guide_example("classifier-control"), "docs/plugins.md", "exec"), module.__dict__)
    host = PluginHost(entry_points=False)
    host.register(module, "family")
    control = host.control("family")
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    model = load_model(tmp_path / "m")
    metrics = control.train(model, tmp_path / "m", data=str(small_corpus), steps=300, batch_size=32,
                            show_progress=False)
    assert metrics["accuracy"]["clean"] >= 0.75       # 30 held-out sentences: 0.80 to 0.93 over seeds
    sampler = SamplerConfig(steps=40)
    says = {target: sum(module.says_family_friendly(t) for t in
                        generate_texts(model, [{"family": target}] * 16, sampler=sampler, host=host,
                                       weights={"family": 1e-3}, show_progress=False))
            for target in ("yes", "no")}
    assert says["yes"] > says["no"] + 4, says


def test_the_api_guide_s_examples_run_on_the_bundled_model():
    import doctest

    from dlmctl.plugins import get_host

    if "default" not in get_host().models():
        pytest.skip("the bundled model (dlmctl-e2e) is not installed")
    guide = Path(__file__).resolve().parents[1] / "docs" / "api.md"
    result = doctest.testfile(str(guide), module_relative=False, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 12 and result.failed == 0
