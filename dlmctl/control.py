"""The interface every control implements, and the guidance terms controls hand to the sampler.

A control turns a target string into a target object (``parse_target``), turns a batch of targets
into a :class:`Guidance` for the sampler (``guidance``), and judges generated text with an oracle
(``score``). Controls that need a classifier on noisy latents also implement ``train``.

Guided sampling minimises, for every sample, after each denoising step (docs/method.md)::

    loss(x) = Σ_c −log p_c(target_c | x, t) / λ_c  +  Σ (μ − x)² / σ

which is the paper's ``Σ_c −log p_c + λ · fluency`` for one control (Adagrad is scale-invariant),
with each control's λ (``default_weight``, ``--weight NAME=λ``) applying to its own term.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Mapping, Sequence

if TYPE_CHECKING:
    import torch

    from dlmctl.model import DiffusionLM

#: ``f(x, t) -> (B,)``: see :attr:`Guidance.log_prob`
LogProbFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]
#: ``f(scores) -> (B, L, V)``: see :attr:`Guidance.word_bias`
WordBiasFn = Callable[["torch.Tensor"], "torch.Tensor"]


@dataclass
class Guidance:
    """What one control contributes to sampling one batch.

    :param log_prob: ``f(x, t) -> (B,)``: differentiable log p(target | x, t) for latents
        ``x`` of shape (B, L, d) at timesteps ``t`` (B,), in the model's original step indices.
        Rows without a target for this control return 0.
    :param token_bias: (B, L, V) additive scores used whenever latents are snapped to words
        (clamping each step and the final rounding); ``-inf`` forbids a word at a position.
    :param word_bias: ``f(scores) -> (B, L, V)``: additive scores computed at every clamping step
        from the model's word scores (B, L, V) at that step (its log-probabilities up to a
        constant per position), every control's ``token_bias`` already added; e.g. holding a word
        where the model finds it most plausible now.
    """

    log_prob: LogProbFn | None = None
    token_bias: torch.Tensor | None = None
    word_bias: WordBiasFn | None = None


class Control(ABC):
    """Base class for controls. Subclasses set the class attributes and implement the methods."""

    name: ClassVar[str]
    #: one line shown by ``dlmctl plugins`` and in error messages
    description: ClassVar[str] = ""
    #: the expected target form, quoted in every target error
    target_help: ClassVar[str] = ""
    #: a target this control accepts on the bundled model (``dlmctl controls``, the examples a user
    #: starts from); empty when there is none to show
    example_target: ClassVar[str] = ""
    #: λ: weight of the fluency term relative to this control's −log p (paper's per-task λ); None
    #: for a control that steers by token or word biases alone (no ``log_prob``): it has no λ, and
    #: ``--weight`` for it is refused
    default_weight: ClassVar[float | None] = 0.01
    #: samples drawn per sentence when the user gives no ``--candidates``: a run gets the most any
    #: control it uses asks for, and at least ``dlmctl.generation.DEFAULT_CANDIDATES`` (None: no wish)
    default_candidates: ClassVar[int | None] = None
    #: with ``--candidates``, rank this control's samples by its classifier alone (the model's loss
    #: breaks ties) instead of by loss and classifier together: for a control whose guided samples
    #: stay fluent and whose classifier judges better; a request ranks so if all its classifier controls ask
    rank_by_classifier: ClassVar[bool] = False
    #: with ``--candidates``, every candidate the teacher finds fluent comes before every one it does
    #: not (:func:`dlmctl.rerank.selection_keys`); False for a control whose target the fluent
    #: candidates often miss; a request chooses so if all its controls ask
    fluent_first: ClassVar[bool] = True
    #: whether ``train`` must run (``dlmctl train-control NAME``) before the control can be used
    needs_classifier: ClassVar[bool] = False
    #: for a classifier control, the share of the chain every candidate samples before the weak
    #: ones are dropped, when the user gives no ``--prune-at``: a run gets the latest any of its
    #: classifier controls asks for, and at least ``dlmctl.defaults.PRUNE_AT`` (None: no wish)
    prune_at: ClassVar[float | None] = None
    #: settings tuned for this control (``dlmctl.sampling.SCHEDULE_SETTINGS``: ``guide_steps``,
    #: ``guide_lr``, ``guide_every``, ``guide_norm``, ``guided_share``, ``repel``,
    #: ``teacher_weight``, ``repair``), e.g. ``{"guide_every": 2}``: a run uses them where the user
    #: sets none and its classifier controls all ask for the same one (a run without classifier
    #: controls: its controls that ask for a schedule); else the defaults (``dlmctl.defaults``)
    guidance_schedule: ClassVar[Mapping[str, int | float | str]] = {}

    @abstractmethod
    def parse_target(self, text: str, model: "DiffusionLM") -> Any:
        """Parse and validate a target string for ``model``; raise ``TargetError`` naming
        ``target_help`` when it is malformed or does not fit (e.g. longer than the sequence)."""

    @abstractmethod
    def guidance(self, model: "DiffusionLM", targets: Sequence[Any | None]) -> Guidance:
        """Build the guidance for a batch; ``targets[i]`` is row i's parsed target or None."""

    @abstractmethod
    def score(self, text: str, target: Any) -> float:
        """Oracle success of generated ``text`` (space-separated words) for ``target``, in [0, 1]."""

    def sentence_length(self, target: Any) -> int | None:
        """The number of words ``target`` fixes, if it fixes one (a length, a tag sequence); None
        by default. Requests whose controls fix different lengths are refused before sampling."""
        return None

    def metrics(self, text: str, target: Any) -> dict[str, float]:
        """Extra oracle measures of ``text`` for ``dlmctl evaluate``, besides ``score`` (e.g. length
        within ±2); each is averaged like success. None by default."""
        return {}

    def train(self, model: "DiffusionLM", model_dir: Path, **options: Any) -> dict:
        """Train this control's classifier for ``model`` and save it under ``model_dir``.
        Returns metrics (e.g. held-out accuracy per noise level). Only for ``needs_classifier``."""
        raise NotImplementedError(f"control '{self.name}' has no classifier to train")
