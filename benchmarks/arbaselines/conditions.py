"""Control targets as condition tokens, and the oracle rules on stored annotations.

A target parsed by its dlmctl control (``Control.parse_target``) becomes a short token sequence:

- pos ``PROPN AUX`` → ``<pos> pos:PROPN pos:AUX``;
- tree → ``<tree> (S (NP * * ) (VP * ) )``: brackets and labels, every word a ``*`` (the tree's words
  and part-of-speech tags are not part of the condition, as they are not of the diffusion control's);
- span ``2,5,NP`` → ``<span> #2 #5 label:NP``;
- semantic ``food=Italian`` → ``<semantic> sem:food=Italian``;
- length ``12`` → ``<length> #12``.

A composition is the blocks of its controls in name order.
"""

from __future__ import annotations

from typing import Any

from dlmctl.trees import Tree, bracket_f1, span_in
from dlmctl_semantic.meaning import mentions

CONTROLS = ("length", "pos", "semantic", "span", "tree")
PAD, UNKNOWN = "<none>", "<unknown>"     # ids 0 and 1 of every condition vocabulary


class UnsupportedControl(ValueError):
    """A control the autoregressive baselines have no condition form for."""


def tree_tokens(tree: Tree) -> list[str]:
    """``(S (NP (DET The) (NOUN pub)))`` → ``(S (NP * * ) )``: labels and brackets, words as ``*``."""
    if tree.is_preterminal():
        return ["*"]
    out = [f"({tree.label}"]
    for child in tree.children:
        out.extend(["*"] if isinstance(child, str) else tree_tokens(child))
    return out + [")"]


def condition_tokens(name: str, target: Any) -> list[str]:
    """The condition tokens of one control's parsed target."""
    if name == "pos":
        return ["<pos>", *(f"pos:{tag}" for tag in target.tags)]
    if name == "tree":
        return ["<tree>", *tree_tokens(target.tree)]
    if name == "span":
        i, j, label = target.span
        return ["<span>", f"#{i}", f"#{j}", f"label:{label}"]
    if name == "semantic":
        return ["<semantic>", *(f"sem:{field}={value}" for field, value in target)]
    if name == "length":
        return ["<length>", f"#{target}"]
    raise UnsupportedControl(f"the autoregressive baselines know no control '{name}' "
                             f"(they condition on {', '.join(CONTROLS)})")


def request_tokens(parsed: dict[str, Any]) -> list[str]:
    """Condition tokens of a request ``{control: parsed target}``: its blocks in name order."""
    return [token for name in sorted(parsed) for token in condition_tokens(name, parsed[name])]


def meets(name: str, target: Any, sentence: dict[str, Any]) -> bool:
    """Whether an annotated corpus sentence (:func:`.corpus.annotate`: its
    ``text``, ``tags`` and ``tree``) meets ``target`` fully, by the rule of the control's oracle."""
    if name == "pos":
        return tuple(sentence["tags"]) == tuple(target.tags)
    if name == "tree":
        return bracket_f1(sentence["tree"], target.tree) == 1.0
    if name == "span":
        return span_in(sentence["tree"], target.span)
    if name == "semantic":
        return all(mentions(sentence["text"], field, value) for field, value in target)
    if name == "length":
        return len(sentence["tags"]) == target
    raise UnsupportedControl(f"the autoregressive baselines know no control '{name}'")


class ConditionVocab:
    """Condition token ↔ id; id 0 pads, id 1 stands for a token never seen in training."""

    def __init__(self, tokens: list[str]):
        self.tokens = [PAD, UNKNOWN, *(t for t in tokens if t not in (PAD, UNKNOWN))]
        self.index = {t: i for i, t in enumerate(self.tokens)}

    def __len__(self) -> int:
        return len(self.tokens)

    def encode(self, tokens: list[str]) -> list[int]:
        return [self.index.get(t, 1) for t in tokens]
