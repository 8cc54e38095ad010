"""From a dependency parse to a Penn-style constituency tree: the deterministic conversion used by the
``spacy`` backend (and by any backend that has dependencies but no constituency parser).

The conversion, for one sentence:

1. **Projectivise**: a dependent whose arc crosses a word its head does not dominate is re-attached
   to its head's head until no arc crosses (so every constituent is a contiguous run of words).
2. **One constituent per head**: every word is a preterminal labelled with its UPOS tag; a word with
   dependents heads a phrase over itself and its dependents' constituents, in word order. The phrase
   label comes from the head's UPOS: VERB/AUX → VP, NOUN/PROPN/PRON/NUM/DET → NP, ADP → PP,
   ADJ → ADJP, ADV → ADVP, SCONJ → SBAR, INTJ → INTJ, PART → PRT, anything else → X.
3. **Clauses**: a verbal phrase with a subject (nsubj, nsubjpass, csubj, csubjpass, expl) before its
   head becomes ``S`` over [everything up to the last subject, VP, trailing punctuation], the VP
   holding the head and the dependents after the subject. A subject only after the head (inversion)
   gives a flat ``S``. Leading ``mark`` dependents (because, that, if …) become
   ``SBAR`` over [marks, the clause]; a relative clause (``relcl``) with a subject is labelled
   ``SBAR`` instead of ``S``. Inside a VP, each leading auxiliary (aux, auxpass; with a negation
   right after it) takes the rest as a VP complement: ``(VP will (VP be (VP found …)))``.
   A noun phrase with post-modifiers (prep, relcl, acl) nests: ``(NP (NP a pub) (PP near …))``.
4. **One-word phrases**: a word without dependents still gets a phrase, as in the Penn Treebank, when
   it is an argument or adjunct of a verb (NOUN/PROPN/PRON/NUM → NP, ADJ → ADJP, ADV → ADVP) or a
   nominal object of a preposition, a conjunct or an apposition (→ NP).
5. **Root**: a sentence whose root is a lone word is wrapped in its phrase label; several sentences
   are joined under one ``S``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from dlmctl.trees import Tree

SUBJECTS = frozenset({"nsubj", "nsubjpass", "csubj", "csubjpass", "expl"})
_PHRASE = {"VERB": "VP", "AUX": "VP", "NOUN": "NP", "PROPN": "NP", "PRON": "NP", "NUM": "NP", "DET": "NP",
           "ADP": "PP", "ADJ": "ADJP", "ADV": "ADVP", "SCONJ": "SBAR", "INTJ": "INTJ", "PART": "PRT"}
_NOMINAL = frozenset({"NOUN", "PROPN", "PRON", "NUM"})
_ONE_WORD_UNDER_VERB = {"NOUN": "NP", "PROPN": "NP", "PRON": "NP", "NUM": "NP", "ADJ": "ADJP", "ADV": "ADVP"}
_NOMINAL_DEPS = frozenset({"pobj", "conj", "appos"})
_POSTMODIFIERS = frozenset({"prep", "relcl", "acl"})
_AUXILIARIES = frozenset({"aux", "auxpass"})


@dataclass(frozen=True)
class DepToken:
    """One word of a dependency-parsed sentence; ``head`` is an index into the sentence
    (the root is its own head)."""

    word: str
    upos: str
    dep: str
    head: int


def phrase_label(upos: str) -> str:
    return _PHRASE.get(upos, "X")


def _dominates(heads: list[int], top: int, k: int) -> bool:
    while k != top:
        if heads[k] == k:
            return False
        k = heads[k]
    return True


def projectivize(heads: Sequence[int]) -> list[int]:
    """Heads with every crossing arc lifted to the grandparent until none crosses."""
    heads = list(heads)
    while True:
        for d, h in enumerate(heads):
            lo, hi = min(h, d), max(h, d)
            if heads[h] != h and any(not _dominates(heads, h, k) for k in range(lo + 1, hi)):
                heads[d] = heads[h]
                break
        else:
            return heads


def sentence_tree(tokens: Sequence[DepToken]) -> Tree:
    """The constituency tree of one sentence (heads index into ``tokens``)."""
    heads = projectivize([t.head for t in tokens])
    deps: list[list[int]] = [[] for _ in tokens]
    roots = []
    for d, h in enumerate(heads):
        (roots if h == d else deps[h]).append(d)
    if len(roots) != 1:
        raise ValueError(f"a sentence must have exactly one root, got {len(roots)}")

    def build(i: int, parent_upos: str | None) -> Tree:
        tok = tokens[i]
        pre = Tree(tok.upos, [tok.word])
        if not deps[i]:
            return _one_word(pre, tok, parent_upos)
        items = [(j, build(j, tok.upos), tokens[j].dep) for j in deps[i]] + [(i, pre, "")]
        items.sort(key=lambda item: item[0])
        label = phrase_label(tok.upos)
        if label == "VP":
            return _clause(items, i, tok.dep)
        if label == "NP":
            return _noun_phrase(items, i)
        return Tree(label, [node for _, node, _ in items])

    root = build(roots[0], None)
    if root.is_preterminal():
        root = Tree(phrase_label(root.label), [root])
    return root


def _one_word(pre: Tree, tok: DepToken, parent_upos: str | None) -> Tree:
    if parent_upos in ("VERB", "AUX") and tok.upos in _ONE_WORD_UNDER_VERB:
        return Tree(_ONE_WORD_UNDER_VERB[tok.upos], [pre])
    if tok.dep in _NOMINAL_DEPS and tok.upos in _NOMINAL:
        return Tree("NP", [pre])
    return pre


def _noun_phrase(items: list[tuple[int, Tree, str]], head: int) -> Tree:
    """NP; with post-modifiers (PP, relative clause, participle), an inner NP ends at the head."""
    nodes = [node for _, node, _ in items]
    split = next(k for k, (pos, _, _) in enumerate(items) if pos == head) + 1
    if not any(dep in _POSTMODIFIERS for _, _, dep in items[split:]):
        return Tree("NP", nodes)
    return Tree("NP", [Tree("NP", nodes[:split])] + nodes[split:])


def _verb_phrase(items: list[tuple[int, Tree, str]]) -> Tree:
    """VP; each leading auxiliary (with a following negation) takes the rest as a VP complement."""
    if len(items) > 1 and items[0][2] in _AUXILIARIES:
        rest = 1
        while rest < len(items) - 1 and items[rest][2] == "neg":
            rest += 1
        return Tree("VP", [node for _, node, _ in items[:rest]] + [_verb_phrase(items[rest:])])
    return Tree("VP", [node for _, node, _ in items])


def _clause(items: list[tuple[int, Tree, str]], head: int, head_dep: str) -> Tree:
    """Layer a verbal phrase into SBAR / S / VP (steps 3 of the module docstring)."""
    marks = 0
    while marks < len(items) and items[marks][2] == "mark":
        marks += 1
    inner = _subject_clause(items[marks:], head, head_dep)
    if marks and marks < len(items):
        return Tree("SBAR", [node for _, node, _ in items[:marks]] + [inner])
    return inner


def _subject_clause(items: list[tuple[int, Tree, str]], head: int, head_dep: str) -> Tree:
    nodes = [node for _, node, _ in items]
    subjects = [k for k, (pos, _, dep) in enumerate(items) if dep in SUBJECTS]
    if not subjects:
        return _verb_phrase(items)
    clause = "SBAR" if head_dep == "relcl" else "S"
    last = subjects[-1]
    if items[last][0] > head:
        return Tree(clause, nodes)
    end = len(items)
    while end > last + 1 and items[end - 1][2] == "punct":
        end -= 1
    return Tree(clause, nodes[:last + 1] + [_verb_phrase(items[last + 1:end])] + nodes[end:])


def dependency_tree(sentences: Sequence[Sequence[DepToken]]) -> Tree:
    """The tree of a text: one sentence's tree, or several joined under ``S``; an empty text gives
    an empty ``S``."""
    trees = [sentence_tree(s) for s in sentences if s]
    if len(trees) == 1:
        return trees[0]
    return Tree("S", list(trees))
