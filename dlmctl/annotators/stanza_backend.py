"""The ``stanza`` annotator backend: stanza's English pipeline (pretokenized input, UPOS tagger,
constituency parser) from locally installed models. Preterminals are relabelled with the UPOS tags
of the same pipeline and stanza's ``ROOT`` node is dropped, so trees look like the spacy backend's.

Models live in ``$STANZA_RESOURCES_DIR`` (stanza's default cache otherwise); nothing is downloaded
at run time: ``dlmctl annotators download stanza`` fetches them where a network exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from dlmctl.annotators import Annotator, AnnotatorUnavailable
from dlmctl.hookspecs import hookimpl
from dlmctl.trees import Tree
from dlmctl.vocab import tokenize

PROCESSORS = "tokenize,pos,constituency"


def resources_dir() -> Path:
    from stanza.resources.common import DEFAULT_MODEL_DIR

    return Path(os.environ.get("STANZA_RESOURCES_DIR", DEFAULT_MODEL_DIR))


class StanzaAnnotator(Annotator):
    name = "stanza"
    description = "stanza: UPOS tagger and constituency parser (needs downloaded models)"

    def __init__(self) -> None:
        self._nlp = None

    def _missing(self, why: str) -> AnnotatorUnavailable:
        return AnnotatorUnavailable(f"the stanza annotator is unavailable: {why}; run "
                                    "`dlmctl annotators download stanza` where a network is available, "
                                    "or use --parser spacy")

    def _pipeline(self):
        if self._nlp is None:
            try:
                import stanza
            except ImportError:
                raise self._missing("stanza is not installed (pip install stanza)") from None
            where = resources_dir()
            if not (where / "resources.json").is_file() or not (where / "en").is_dir():
                raise self._missing(f"no English stanza models in {where}")
            try:
                self._nlp = stanza.Pipeline("en", dir=str(where), processors=PROCESSORS,
                                            tokenize_pretokenized=True, download_method=None,
                                            logging_level="WARN")
            except Exception as exc:  # stanza raises several types for missing/corrupt files
                raise self._missing(f"its English models in {where} could not be loaded ({exc})") from None
        return self._nlp

    def check(self) -> None:
        self._pipeline()

    def download(self) -> None:
        import stanza

        stanza.download("en", model_dir=str(resources_dir()), processors=PROCESSORS)

    def _sentences(self, texts: list[str]):
        """One stanza sentence per text (empty texts give None)."""
        words = [tokenize(t) for t in texts]
        present = [w for w in words if w]
        sentences = iter(self._pipeline()(present).sentences if present else [])
        return [next(sentences) if w else None for w in words]

    def tag(self, texts: list[str]) -> list[list[tuple[str, str]]]:
        return [[(w.text, w.upos) for w in s.words] if s else [] for s in self._sentences(texts)]

    def parse(self, texts: list[str]) -> list[Tree]:
        trees = []
        for sentence in self._sentences(texts):
            if sentence is None:
                trees.append(Tree("S", []))
                continue
            tags = iter(w.upos for w in sentence.words)
            tree = _convert(sentence.constituency, tags)
            while tree.label == "ROOT" and len(tree.children) == 1 and isinstance(tree.children[0], Tree):
                tree = tree.children[0]
            trees.append(tree)
        return trees


def _convert(node, tags) -> Tree:
    """stanza's tree → ours, preterminal labels replaced by the next UPOS tag."""
    if len(node.children) == 1 and not node.children[0].children:
        return Tree(next(tags), [node.children[0].label])
    return Tree(node.label, [_convert(child, tags) for child in node.children])


@hookimpl
def register_annotators(register):
    register(StanzaAnnotator())
