"""Annotators: the part-of-speech taggers and constituency parsers that label training corpora and
judge generated text (the oracles). Backends are plugins (``register_annotators`` hook); dlmctl's own
``spacy`` and ``stanza`` backends come in through dlmctl's entry points like any third-party one.

Input texts are space-separated words, as dlmctl writes them; every output is aligned one-to-one with
:func:`dlmctl.vocab.tokenize` of the text, because classifiers are trained on those words.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

from dlmctl.errors import DlmctlError
from dlmctl.upos import UPOS_TAGS

if TYPE_CHECKING:
    from dlmctl.trees import Tree

__all__ = ["DEFAULT_ANNOTATOR", "UPOS_TAGS", "Annotator", "AnnotatorUnavailable", "get_annotator"]

DEFAULT_ANNOTATOR = "spacy"


class AnnotatorUnavailable(DlmctlError):
    """A backend whose library or models are not installed here."""


class Annotator(ABC):
    """A tagger and constituency parser. Subclasses set ``name`` and implement both methods;
    they load their models on first use (and keep them), never at import or registration."""

    name: str
    #: one line for ``dlmctl annotators list``
    description: str = ""

    @abstractmethod
    def tag(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        """(word, UPOS) for every word of every text, aligned with ``tokenize(text)``."""

    @abstractmethod
    def parse(self, texts: list[str]) -> list["Tree"]:
        """One constituency tree per text, its leaves equal to ``tokenize(text)`` and its
        preterminals labelled with UPOS tags."""

    def check(self) -> None:
        """Raise :class:`AnnotatorUnavailable` (one line: what is missing and how to get it) unless
        the backend can run here; loads the models."""

    def download(self) -> None:
        """Fetch the backend's models (needs a network)."""
        raise AnnotatorUnavailable(f"annotator '{self.name}' has nothing to download")


def get_annotator(name: str = DEFAULT_ANNOTATOR) -> Annotator:
    """The installed backend ``name``, checked to be runnable (models present)."""
    from dlmctl.plugins import get_host

    annotator = get_host().annotator(name)
    annotator.check()
    return annotator
