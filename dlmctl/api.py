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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from dlmctl import defaults
from dlmctl.errors import ModelError, PluginError, UsageError
from dlmctl.plugins import get_host

#: the largest word temperature: beyond it every word of the vocabulary is about equally likely
MAX_WORD_TEMPERATURE = 10.0
#: the most rounds of repair (dlmctl.repair) one request may ask for: each samples up to half the chain again
MAX_REPAIR = 8
#: keyword options of :meth:`Model.generate` and :meth:`Model.generate_batch`, with their defaults
GENERATE_OPTIONS: dict[str, Any] = {
    "steps": defaults.STEPS, "guide_steps": None, "guide_lr": None,
    "guide_every": None, "guide_norm": None, "guided_share": None, "tail_stride": defaults.TAIL_STRIDE,
    "temperature": defaults.TEMPERATURE, "word_temperature": defaults.WORD_TEMPERATURE, "repel": None,
    "teacher_weight": None, "repair": None,
    "candidates": None, "survivors": defaults.SURVIVORS,
    "prune_at": None, "weights": None, "batch_size": defaults.BATCH_SIZE, "show_progress": False,
    "trajectory_every": 0, "judge": False, "on_step": None,
}
#: keyword options of :meth:`Model.infill`, with their defaults
INFILL_OPTIONS: dict[str, Any] = {
    "steps": defaults.STEPS, "temperature": defaults.TEMPERATURE, "mbr": None, "candidates": None,
    "weights": None, "batch_size": defaults.BATCH_SIZE, "show_progress": False, "judge": False,
}


@dataclass
class Sample:
    """One generated sentence.

    ``controls``: the target strings it was asked for; ``target_index``: which request of the batch
    it answers; ``sample_index``: which of that request's samples it is. ``scores``: what was computed
    to choose it among candidates (``loss``, ``classifier_log_prob``, ``worst_token_nll``, ``flaws``; see
    :class:`dlmctl.generation.Generated`). ``oracle``: with ``judge=True``, each control's oracle
    success in [0, 1] (and ``worst_token_nll`` joins ``scores`` where the model has a teacher).
    ``trajectory``: with ``trajectory_every=k``, (step, text) of the sentence as the denoiser saw
    it every k steps, noisiest first. ``fills``: from :meth:`Model.infill`, the words of each blank."""

    text: str
    controls: dict[str, str]
    target_index: int
    sample_index: int
    scores: dict[str, float] = field(default_factory=dict)
    oracle: dict[str, float] = field(default_factory=dict)
    trajectory: list[tuple[int, str]] = field(default_factory=list)
    fills: list[list[str]] | None = None

    def record(self) -> dict[str, Any]:
        """The sample as JSON-ready data (``dlmctl generate --json``, ``dlmctl serve``): what it
        answers and its text, and its scores, oracle results, trajectory and fills where it has them."""
        data: dict[str, Any] = {"target": self.target_index, "sample": self.sample_index,
                                "controls": self.controls, "text": self.text}
        for key in ("scores", "oracle", "trajectory", "fills"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class ControlInfo:
    """What a user needs to know about an installed control."""

    name: str
    plugin: str
    distribution: str
    description: str
    target_syntax: str
    example: str
    default_weight: float | None    # None: steers without a gradient term, no λ
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
        ``guide_lr``, ``guide_every`` (the classifiers' gradient computed every n-th guided step,
        reused between), ``guide_norm`` ("coordinate" or "sentence": what the steps' Adagrad
        accumulator sums over; these four None: as the controls ask, else the defaults),
        ``guided_share``, ``tail_stride`` (after the guided share, every n-th step of the chain
        only), ``temperature``, ``word_temperature`` (0: each step takes the best word; τ > 0: draws it
        from softmax(scores / τ); None: 0.5 for a model that predicts words, else 0), ``repel`` (how
        hard the samples of one request push each other apart in the guided share; 0: drawn
        independently; None: as the controls ask, else 0), ``teacher_weight`` (in the second half
        of the chain, how much the model's teacher LM weighs in each step's choice of words; 0: not
        at all; None: as the controls ask, else 1), ``repair`` (rounds of sampling again the words of a
        finished sentence that the teachers find least likely; 0: none; None: as the controls ask,
        else 2),
        ``candidates`` (None: the controls' default),
        ``prune_at`` and ``survivors`` (after that share of the chain only that many candidates per
        sentence go on; None: halfway where classifier controls guide, else never), ``weights``
        ({control: λ}),
        ``batch_size``, ``show_progress``, ``trajectory_every`` (k > 0: keep the sentence every k
        steps in :attr:`Sample.trajectory`), ``judge`` (fill :attr:`Sample.oracle`), ``on_step`` (with
        ``trajectory_every``: called as sampling goes, ``on_step(step, {sample position: text})``, the
        positions those of the returned list)."""
        return self.generate_batch([controls or {}], samples_per_target=n, seed=seed, **options)

    def generate_batch(self, targets: Sequence[Mapping[str, Any]], *, samples_per_target: int = 1,
                       seed: int = 0, **options: Any) -> list[Sample]:
        """``samples_per_target`` sentences for each request of ``targets``, in order (target 0's
        samples first); options as for :meth:`generate`."""
        from dlmctl.generation import generate
        from dlmctl.sampling import SamplerConfig

        settings = _settings(options, GENERATE_OPTIONS)
        if samples_per_target < 1 or settings["batch_size"] < 1:
            raise UsageError("samples per target and the batch size must be at least 1")
        if settings["on_step"] is not None and not settings["trajectory_every"]:
            raise UsageError("on_step is called every trajectory_every steps: give trajectory_every too")
        check_counts(len(targets) * samples_per_target, settings["candidates"], seed)
        check_sampling(self.lm, settings["steps"], settings["temperature"], settings["guide_steps"] or 0,
                       settings["word_temperature"])
        check_guidance(settings["guide_lr"], settings["guide_norm"], settings["repel"], settings["teacher_weight"],
                       settings["repair"])
        requests = [_request(target) for target in targets]
        rows = [(i, k, r) for i, r in enumerate(requests) for k in range(samples_per_target)]
        if settings["guided_share"] is not None and not defaults.is_share(settings["guided_share"]):
            raise UsageError(f"--guided-share must be in [0, 1], got {settings['guided_share']!r}")
        for name in ("tail_stride", "guide_every"):
            value = settings[name]
            if value is None and name == "guide_every":
                continue
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise UsageError(f"--{name.replace('_', '-')} must be a whole number, 1 (every step) or more, "
                                 f"got {value!r}")
        sampler = SamplerConfig(steps=settings["steps"], guide_steps=settings["guide_steps"],
                                guide_lr=settings["guide_lr"], guided_share=settings["guided_share"],
                                temperature=settings["temperature"], tail_stride=settings["tail_stride"],
                                word_temperature=settings["word_temperature"],
                                guide_every=settings["guide_every"], guide_norm=settings["guide_norm"],
                                repel=settings["repel"], teacher_weight=settings["teacher_weight"],
                                repair=settings["repair"])
        results = generate(self.lm, [r for _, _, r in rows], weights=settings["weights"], sampler=sampler,
                           seed=seed, batch_size=settings["batch_size"], show_progress=settings["show_progress"],
                           host=self.host, candidates=settings["candidates"], survivors=settings["survivors"],
                           prune_at=settings["prune_at"], trajectory_every=settings["trajectory_every"],
                           on_step=settings["on_step"])
        samples = [Sample(g.text, request, i, k, scores=g.scores, trajectory=g.trajectory)
                   for (i, k, request), g in zip(rows, results)]
        return self.judge(samples) if settings["judge"] else samples

    def infill(self, template: str, *, n: int = 1, seed: int = 0, controls: Mapping[str, Any] | None = None,
               **options: Any) -> list[Sample]:
        """``n`` fillings of a template with blanks (``___`` one word, ``[n]`` n words, ``[a-b]``,
        ``[*]``; needs the dlmctl-infill plugin), every known word kept verbatim; ``controls`` (e.g.
        ``{"length": 12}``) apply too. ``options``: ``steps``, ``temperature``, ``mbr`` (keep the
        consensus of that many samples; the plugin's default unless ``candidates`` is given),
        ``candidates`` (keep the one of that many the model finds most likely), ``weights``, ``batch_size``,
        ``show_progress``, ``judge``. Each sample's ``controls["infill"]`` is the template with the
        blank sizes it was drawn with."""
        if "infill" not in self.host.controls():
            raise PluginError("infilling needs the dlmctl-infill plugin: dlmctl install dlmctl-infill")
        settings = _settings(options, INFILL_OPTIONS)
        check_counts(n, settings["candidates"], seed)
        check_sampling(self.lm, settings["steps"], settings["temperature"])
        others = _request(controls or {})
        filled = self.host.control("infill").fill(
            self.lm, template, n, seed=seed, controls=others, mbr=settings["mbr"], candidates=settings["candidates"],
            weights=settings["weights"], steps=settings["steps"], temperature=settings["temperature"],
            batch_size=settings["batch_size"], show_progress=settings["show_progress"], host=self.host)
        samples = [Sample(f.text, {"infill": f.layout, **others}, 0, k, fills=f.fills) for k, f in enumerate(filled)]
        return self.judge(samples) if settings["judge"] else samples

    def judge(self, samples: Sequence[Sample]) -> list[Sample]:
        """``samples`` with :attr:`Sample.oracle` filled by each control's oracle, and the teacher's
        ``worst_token_nll`` in :attr:`Sample.scores` where the model has a teacher."""
        from dlmctl.fluency import sentence_scores
        from dlmctl.generation import prepare_controls
        from dlmctl.teacher import model_teacher
        from dlmctl.vocab import tokenize

        prepared = prepare_controls(self.lm, [s.controls for s in samples], host=self.host)
        for sample, targets in zip(samples, prepared.targets):
            sample.oracle = {name: float(prepared.controls[name].score(sample.text, target))
                             for name, target in targets.items()}
        unscored = [s for s in samples if "worst_token_nll" not in s.scores]   # selection scored the others
        teacher = model_teacher(self.lm)
        if teacher is not None and unscored:
            worst_nlls = sentence_scores(teacher, [tokenize(s.text) for s in unscored]).tolist()
            for sample, worst in zip(unscored, worst_nlls):
                sample.scores["worst_token_nll"] = worst
        return list(samples)


def _settings(options: Mapping[str, Any], known: Mapping[str, Any]) -> dict[str, Any]:
    """``known`` updated by ``options``; an unknown option is a usage error naming the known ones."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise UsageError(f"unknown option '{unknown[0]}' (options: {', '.join(known)})")
    return {**known, **options}


def _request(controls: Mapping[str, Any]) -> dict[str, str]:
    """A request with its targets as strings (``{"length": 12}`` → ``{"length": "12"}``)."""
    return {str(name): str(target) for name, target in controls.items()}


#: most sentences one call may ask for (requests × samples), and most candidates per sentence
MAX_SENTENCES, MAX_CANDIDATES = 1_000_000, 1024
MAX_SEED = 2 ** 63 - 1


def check_counts(sentences: int, candidates: int | None, seed: int) -> None:
    """Usage errors for a number of sentences, candidates per sentence or a seed out of range
    (before any model is loaded: a huge request would otherwise fail only after long work)."""
    if sentences > MAX_SENTENCES:
        raise UsageError(f"{sentences:,} sentences in one call; at most {MAX_SENTENCES:,}: split the targets "
                         "over several calls")
    if candidates is not None and not 1 <= candidates <= MAX_CANDIDATES:
        raise UsageError(f"candidates must be between 1 and {MAX_CANDIDATES}, got {candidates}")
    if not 0 <= seed <= MAX_SEED:
        raise UsageError(f"seed must be a whole number from 0 to 2^63 - 1, got {seed}")


def check_guidance(guide_lr: float | None, guide_norm: str | None, repel: float | None = None,
                   teacher_weight: float | None = None, repair: int | None = None) -> None:
    """Usage errors for guidance settings (None: as the controls ask), before any model is loaded."""
    if repair is not None and not (defaults.is_rounds(repair) and repair <= MAX_REPAIR):
        raise UsageError(f"--repair must be a whole number of rounds from 0 (none) to {MAX_REPAIR}, got {repair!r}")
    if repel is not None and not defaults.is_weight(repel):
        raise UsageError(f"--repel must be a number, 0 (samples drawn independently) or more, got {repel!r}")
    if teacher_weight is not None and not defaults.is_weight(teacher_weight):
        raise UsageError(f"--teacher-weight must be a number, 0 (the teacher takes no part) or more, "
                         f"got {teacher_weight!r}")
    if guide_lr is not None and not 0 < guide_lr < float("inf"):
        raise UsageError(f"--guide-lr must be a positive number, got {guide_lr}")
    if guide_norm not in (None, *defaults.GUIDE_NORMS):
        raise UsageError(f"--guide-norm must be {' or '.join(defaults.GUIDE_NORMS)}, got {guide_norm!r}")


def check_sampling(lm, steps: int, temperature: float, guide_steps: int = 0,
                   word_temperature: float | None = defaults.WORD_TEMPERATURE) -> None:
    """Usage errors for sampling settings the model cannot run."""
    if guide_steps < 0:
        raise UsageError(f"--guide-steps must be 0 or more, got {guide_steps}")
    if not 1 <= steps <= lm.config.diffusion_steps:
        raise UsageError(f"--steps must be between 1 and the model's {lm.config.diffusion_steps} diffusion steps")
    if not 0 < temperature <= 2:
        raise UsageError(f"--temperature must be in (0, 2], got {temperature} (1 is the exact sampler)")
    number = isinstance(word_temperature, (int, float)) and not isinstance(word_temperature, bool)
    if word_temperature is not None and not (number and 0 <= word_temperature <= MAX_WORD_TEMPERATURE):
        raise UsageError(f"--word-temperature must be in [0, {MAX_WORD_TEMPERATURE:g}], got {word_temperature} "
                         "(0 takes the best word, 1 draws as the model scores)")


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


def controls(host=None) -> dict[str, ControlInfo]:
    """Every installed control by name (``host``: a :class:`dlmctl.plugins.PluginHost` other than
    the process-wide one, e.g. a model's)."""
    host = host or get_host()
    return {name: ControlInfo(name, *host.control_origin(name), control.description, control.target_help,
                              control.example_target, control.default_weight, control.needs_classifier)
            for name, control in host.controls().items()}
