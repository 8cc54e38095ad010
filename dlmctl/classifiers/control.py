"""The base class of classifier-guided controls: loading the model's classifier once, and training
it from the labels a control gives its corpus. Imports torch only when a method needs it."""

from __future__ import annotations

import weakref
from abc import abstractmethod
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from dlmctl.annotators import DEFAULT_ANNOTATOR
from dlmctl.control import Control
from dlmctl.errors import UsageError

if TYPE_CHECKING:
    import torch
    from torch import nn

    from dlmctl.classifiers.network import LatentClassifier
    from dlmctl.model import DiffusionLM


@dataclass
class TrainingData:
    """A labelled training corpus: word ids (N, L), labels (N, …) of the shape the head predicts
    (``IGNORE`` where an item carries no loss), and what the saved json must hold for the head and
    for later targets (label tables, …). Its entries go into the json last, so they may also replace
    the ``control`` and ``annotator`` entries :meth:`ClassifierControl.train` writes (a classifier
    that serves two controls, labels that come from the corpus)."""

    ids: torch.Tensor
    labels: torch.Tensor
    meta: dict[str, Any] = field(default_factory=dict)


class ClassifierControl(Control):
    """A control guided by a noisy-latent classifier stored as ``controls/<classifier_name>.*``.

    Subclasses implement :meth:`build_head` and :meth:`training_data` (and the methods of every
    :class:`~dlmctl.control.Control`); ``train`` is done for them."""

    needs_classifier = True
    #: file name of the classifier under ``controls/`` (controls may share one)
    classifier_name: ClassVar[str]
    #: width and depth of a new classifier's encoder (``dlmctl train-control --hidden/--layers``)
    hidden: ClassVar[int] = 128
    layers: ClassVar[int] = 3
    #: a label most items carry ("null", "none"): accuracy is also reported without those items
    background_label: ClassVar[int | None] = None
    #: whether the labels come from an annotator (``--annotator``); else from the corpus itself
    uses_annotator: ClassVar[bool] = True

    def __init__(self) -> None:
        self._loaded: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()

    @abstractmethod
    def build_head(self, meta: dict[str, Any]) -> nn.Module:
        """The head for a classifier described by ``meta``: its json, or for a new classifier
        ``{"encoder": …, **TrainingData.meta}``; maps states (B, L, H) to logits (B, …, C)."""

    def training_data(self, model: DiffusionLM, data: str, annotator: str, saved: dict[str, Any] | None,
                      show_progress: bool) -> TrainingData:
        """Labels for the corpus ``data`` (a CSV path). ``saved``: the json of the classifier that
        training goes on from (``--warm-start``), whose label tables must be kept; else None. (A
        control that overrides :meth:`train` itself need not implement it.)"""
        raise NotImplementedError(f"control '{self.name}' gives no training data: implement training_data")

    def classifier(self, model: DiffusionLM) -> tuple[LatentClassifier, dict[str, Any]]:
        """The model's classifier for this control and its metadata (loaded once per model)."""
        from dlmctl.classifiers.storage import load_classifier

        if model not in self._loaded:
            self._loaded[model] = load_classifier(model, self.classifier_name, self.name, self.build_head)
        return self._loaded[model]

    def warm_start(self, model: DiffusionLM, annotator: str | None = None) -> tuple[LatentClassifier, dict[str, Any]]:
        """A trainable copy of the model's saved classifier for this control and its metadata, to
        continue training from (``dlmctl train-control --warm-start``); its labels must come from
        the same ``annotator``."""
        from dlmctl.classifiers.storage import load_classifier

        net, meta = load_classifier(model, self.classifier_name, self.name, self.build_head)
        if annotator is not None and meta.get("annotator") != annotator:
            raise UsageError(f"the saved '{self.name}' classifier learnt {meta.get('annotator')}'s labels, not "
                             f"{annotator}'s: train without --warm-start, or pick that annotator")
        return net.train().requires_grad_(True), meta

    def forget(self, model: DiffusionLM) -> None:
        """Drop the cached classifier of ``model`` (after retraining it)."""
        self._loaded.pop(model, None)

    def train(self, model: DiffusionLM, model_dir: Path, *, data: str, steps: int = 3000, batch_size: int = 64,
              hidden: int | None = None, layers: int | None = None, annotator: str = DEFAULT_ANNOTATOR,
              seed: int = 0, lr: float | None = None, warm_start: bool = False, show_progress: bool = True,
              **_: Any) -> dict:
        """Label the corpus, train a new classifier (or go on training the saved one) and save it
        as ``controls/<classifier_name>.*``; returns the training metrics."""
        from dlmctl.classifiers.network import LatentClassifier, encoder_config
        from dlmctl.classifiers.storage import save_classifier
        from dlmctl.classifiers.training import TrainOptions, continued, train_classifier

        start = self.warm_start(model, annotator if self.uses_annotator else None) if warm_start else None
        examples = self.training_data(model, data, annotator, start[1] if start else None, show_progress)
        if start:
            net = start[0]
        else:
            cfg = encoder_config(model, hidden=hidden or self.hidden, layers=layers or self.layers)
            net = LatentClassifier(cfg, self.build_head({"encoder": asdict(cfg), **examples.meta})).to(model.device)
        options = TrainOptions(steps=steps, batch_size=batch_size, seed=seed, lr=lr, background=self.background_label)
        metrics = train_classifier(model, net, examples.ids.to(model.device), examples.labels.to(model.device),
                                   options, show_progress, label=f"training {self.classifier_name} classifier")
        meta = {"control": self.name, **({"annotator": annotator} if self.uses_annotator else {}),
                "data": Path(data).name, **examples.meta, "metrics": continued(metrics, start[1] if start else None)}
        save_classifier(model, model_dir, self.classifier_name, net, meta)
        self.forget(model)
        return metrics
