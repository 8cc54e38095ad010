"""Constituency trees: Penn-style bracketed parsing and printing, labelled spans and bracket F1.

A :class:`Tree` has a ``label`` and ``children``; a ``str`` child is a word. A *preterminal* is the
node right above a word (its label is the part of speech). Word-less targets are accepted: words may
be ``*`` (``(S (NP (DET *) (PROPN *)) …)``), preterminals may lose their word (``(DET)``, read as
``(DET *)``), and words may hang straight under a phrase (``(NP * *)``).

Span conventions follow evalb: word indices are 0-based and inclusive, the root counts,
preterminals do not, and brackets are compared as a multiset of ``(i, j, label)``.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Union

from dlmctl.errors import TargetError
from dlmctl.upos import UPOS_TAGS

TREE_HELP = ("a bracketed tree like '(S (NP (DET The) (PROPN Eagle)) (VP (AUX is) (NP (DET a) "
             "(NOUN pub))))'; words may be '*' or left out")
UNKNOWN_WORD = "*"
#: Penn Treebank phrase labels: a one-word node with one of these labels is a phrase whose
#: preterminal was left out (``(NP *)``), not a part-of-speech node. UPOS tags win (``X``).
PHRASE_LABELS = frozenset({
    "ROOT", "S", "SBAR", "SBARQ", "SINV", "SQ", "NP", "VP", "PP", "ADJP", "ADVP", "CONJP", "FRAG",
    "INTJ", "LST", "NAC", "NX", "PRN", "PRT", "QP", "RRC", "UCP", "WHADJP", "WHADVP", "WHNP", "WHPP",
})
_UPOS = frozenset(UPOS_TAGS)
_TOKEN = re.compile(r"\(|\)|[^\s()]+")

Span = tuple[int, int, str]


@dataclass
class Tree:
    """A constituent: ``label`` and ordered ``children`` (subtrees or words)."""

    label: str
    children: list[Union["Tree", str]] = field(default_factory=list)

    @classmethod
    def from_bracketed(cls, text: str) -> "Tree":
        """Parse a Penn-style bracketed tree; ``TargetError`` (naming the expected form) if malformed.
        An unlabelled outer pair, as in the Penn Treebank files ``( (S …) )``, is dropped."""
        tokens = _TOKEN.findall(text)
        if not tokens:
            raise TargetError(f"empty tree; expected {TREE_HELP}")
        tree, end = _parse(tokens, 0)
        if end < len(tokens) and tokens[end] == ")":
            raise TargetError(f"unbalanced brackets: one ')' too many; expected {TREE_HELP}")
        if end != len(tokens):
            raise TargetError(f"unexpected text after the tree: '{' '.join(tokens[end:])[:40]}'; "
                              f"expected one tree, {TREE_HELP}")
        while not tree.label and len(tree.children) == 1 and isinstance(tree.children[0], Tree):
            tree = tree.children[0]
        if not tree.label:
            raise TargetError(f"the tree has no root label; expected {TREE_HELP}")
        return tree

    def to_bracketed(self) -> str:
        """One-line Penn-style text; ``from_bracketed(t.to_bracketed()) == t``."""
        inner = " ".join(c if isinstance(c, str) else c.to_bracketed() for c in self.children)
        return f"({self.label} {inner})" if inner else f"({self.label})"

    def is_preterminal(self) -> bool:
        """True for a part-of-speech node: exactly one child, a word, and not a phrase label."""
        return (len(self.children) == 1 and isinstance(self.children[0], str)
                and (self.label in _UPOS or self.label not in PHRASE_LABELS))

    def leaves(self) -> list[str]:
        """The words, left to right (``*`` where a word-less tree has none)."""
        words: list[str] = []
        for child in self.children:
            words.extend([child] if isinstance(child, str) else child.leaves())
        return words

    @property
    def num_words(self) -> int:
        return len(self.leaves())

    def preterminals(self) -> list[str]:
        """Part-of-speech labels of the words, left to right (``*`` for a word under a phrase)."""
        tags: list[str] = []
        for child in self.children:
            if isinstance(child, str):
                tags.append(UNKNOWN_WORD)
            elif child.is_preterminal():
                tags.append(child.label)
            else:
                tags.extend(child.preterminals())
        return tags

    def spans(self) -> list[Span]:
        """Labelled constituents ``(i, j, label)`` above the preterminals, in pre-order."""
        out: list[Span] = []
        _spans(self, 0, out)
        return out

    def __str__(self) -> str:
        return self.to_bracketed()


def _parse(tokens: list[str], pos: int) -> tuple[Tree, int]:
    """Parse the tree starting at ``tokens[pos] == '('``; returns it and the position after it."""
    if tokens[pos] != "(":
        raise TargetError(f"expected '(' but found '{tokens[pos]}'; expected {TREE_HELP}")
    pos += 1
    label = ""
    if pos < len(tokens) and tokens[pos] not in "()":
        label, pos = tokens[pos], pos + 1
    node = Tree(label)
    while pos < len(tokens) and tokens[pos] != ")":
        if tokens[pos] == "(":
            child, pos = _parse(tokens, pos)
            if not child.label:
                raise TargetError(f"a constituent has no label; expected {TREE_HELP}")
            if not child.children:  # (DET): a preterminal whose word was left out
                child.children.append(UNKNOWN_WORD)
            node.children.append(child)
        else:
            node.children.append(tokens[pos])
            pos += 1
    if pos >= len(tokens):
        raise TargetError(f"unbalanced brackets: a '(' is never closed; expected {TREE_HELP}")
    return node, pos + 1


def _spans(node: Tree, start: int, out: list[Span]) -> int:
    """Append ``node``'s spans (if it is a phrase) starting at word ``start``; returns its width."""
    if node.is_preterminal():
        return 1
    index = len(out)
    width = 0
    for child in node.children:
        width += 1 if isinstance(child, str) else _spans(child, start + width, out)
    if width:
        out.insert(index, (start, start + width - 1, node.label))
    return width


def bracket_f1(predicted: Tree, gold: Tree) -> float:
    """Labelled bracket F1 (evalb-style: multiset of ``(i, j, label)``, root included,
    preterminals excluded). Trees over different numbers of words are compared as they are."""
    pred, ref = Counter(predicted.spans()), Counter(gold.spans())
    total = sum(pred.values()) + sum(ref.values())
    if total == 0:
        return 1.0
    matched = sum((pred & ref).values())
    return 2.0 * matched / total


def span_in(tree: Tree, span: Span) -> bool:
    """Whether ``tree`` has the labelled constituent ``(i, j, label)``."""
    return tuple(span) in set(tree.spans())
