"""The Python API: load a model, generate sentences under controls, list the controls.

    >>> import dlmctl
    >>> model = dlmctl.load()                                   # the bundled default model
    >>> samples = model.generate({"length": "8"}, n=2, seed=0)
    >>> [len(s.text.split()) for s in samples]
    [8, 8]

Every option has the command line's default (:mod:`dlmctl.defaults`), and ``dlmctl generate`` runs
through :meth:`Model.generate_batch`, so one request with one seed gives the same text from Python
and from the shell.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from dlmctl import defaults
from dlmctl.errors import ModelError, UsageError
from dlmctl.plugins import get_host

#: keyword options of :meth:`Model.generate` and :meth:`Model.generate_batch`, with their defaults
GENERATE_OPTIONS: dict[str, Any] = {
    "steps": defaults.STEPS, "guide_steps": defaults.GUIDE_STEPS, "temperature": defaults.TEMPERATURE,
    "candidates": None, "weights": None, "batch_size": defaults.BATCH_SIZE, "show_progress": False,
}


@dataclass
class Sample:
    """One generated sentence: its text, the controls it was asked for (target strings), which
    target it answers (``target_index``, the position in the batch) and which of its samples it is."""

    text: str
    controls: dict[str, str]
    target_index: int
    sample_index: int


@dataclass(frozen=True)
class ControlInfo:
    """What a user needs to know about an installed control."""

    name: str
    plugin: str
    distribution: str
    description: str
    target_syntax: str
    default_weight: float
    needs_classifier: bool


class Model:
    """A loaded Diffusion-LM with its controls' plugin host. Make one with :func:`load`."""

    def __init__(self, lm, host=None):
        self.lm = lm
        self.host = host or get_host()

    @property
    def path(self) -> Path | None:
        """The model directory."""
        return self.lm.model_dir

    def generate(self, controls: Mapping[str, Any] | None = None, *, n: int = 1, seed: int = 0,
                 **options: Any) -> list[Sample]:
        """``n`` sentences for one request, e.g. ``{"pos": "DET NOUN AUX ADJ PUNCT", "length": 5}``
        (several controls compose; None: unguided). ``options``: ``steps``, ``guide_steps``,
        ``temperature``, ``candidates`` (None: the controls' default), ``weights`` ({control: λ}),
        ``batch_size``, ``show_progress``."""
        return self.generate_batch([controls or {}], samples_per_target=n, seed=seed, **options)

    def generate_batch(self, targets: Sequence[Mapping[str, Any]], *, samples_per_target: int = 1,
                       seed: int = 0, **options: Any) -> list[Sample]:
        """``samples_per_target`` sentences for each request of ``targets``, in order (target 0's
        samples first); options as for :meth:`generate`."""
        from dlmctl.generation import generate
        from dlmctl.sampling import SamplerConfig

        unknown = sorted(set(options) - set(GENERATE_OPTIONS))
        if unknown:
            raise UsageError(f"unknown option '{unknown[0]}' (options: {', '.join(GENERATE_OPTIONS)})")
        settings = {**GENERATE_OPTIONS, **options}
        if samples_per_target < 1 or settings["batch_size"] < 1:
            raise UsageError("samples per target and the batch size must be at least 1")
        check_sampling(self.lm, settings["steps"], settings["temperature"])
        requests = [{str(k): str(v) for k, v in target.items()} for target in targets]
        rows = [(i, k, r) for i, r in enumerate(requests) for k in range(samples_per_target)]
        sampler = SamplerConfig(steps=settings["steps"], guide_steps=settings["guide_steps"],
                                temperature=settings["temperature"])
        texts = generate(self.lm, [r for _, _, r in rows], weights=settings["weights"], sampler=sampler, seed=seed,
                         batch_size=settings["batch_size"], show_progress=settings["show_progress"],
                         host=self.host, candidates=settings["candidates"])
        return [Sample(text, request, i, k) for (i, k, request), text in zip(rows, texts)]


def check_sampling(lm, steps: int, temperature: float) -> None:
    """Usage errors for sampling settings the model cannot run."""
    if not 1 <= steps <= lm.config.diffusion_steps:
        raise UsageError(f"--steps must be between 1 and the model's {lm.config.diffusion_steps} diffusion steps")
    if not 0 < temperature <= 2:
        raise UsageError(f"--temperature must be in (0, 2], got {temperature} (1 is the exact sampler)")


def load(model: str | Path | None = "default", device: str | None = None) -> Model:
    """A model by path or by the name an installed plugin gives it (``"default"``: the bundled one)."""
    from dlmctl.checkpoint import load_model
    from dlmctl.device import resolve_device

    return Model(load_model(model_path(model), resolve_device(device)), get_host())


def model_path(model: str | Path | None = "default") -> Path:
    """The directory of a model given by path or by the name an installed plugin gives it."""
    registered = get_host().models()
    name = "default" if model is None else str(model)
    if name in registered and not Path(name).exists():
        return Path(registered[name])
    if name != "default":
        return Path(name)
    only = os.environ.get("DLMCTL_PLUGINS")
    if only is not None:
        raise ModelError(f"no default model among the plugins DLMCTL_PLUGINS={only!r} loads: unset it, add the "
                         "model's plugin (the bundled one is 'e2e'), or pass the path of a trained model")
    raise ModelError("no default model is installed: install one (pip install ./plugins/dlmctl-e2e), or train "
                     "one with `dlmctl train --data CORPUS.csv --out DIR` and pass its path")


def controls() -> dict[str, ControlInfo]:
    """Every installed control by name."""
    host = get_host()
    return {name: ControlInfo(name, *host.control_origin(name), control.description, control.target_help,
                              control.default_weight, control.needs_classifier)
            for name, control in host.controls().items()}
