"""Bracketed trees: parsing, spans (evalb conventions), bracket F1 and errors."""

import re

import pytest

from dlmctl.errors import TargetError
from dlmctl.trees import Tree, bracket_f1, span_in

EAGLE = "(S (NP (DET The) (PROPN Eagle)) (VP (AUX is) (NP (DET a) (NOUN pub))))"
EAGLE_SPANS = [(0, 4, "S"), (0, 1, "NP"), (2, 4, "VP"), (3, 4, "NP")]


def test_parse_print_round_trip_and_accessors():
    tree = Tree.from_bracketed(EAGLE)
    assert tree.to_bracketed() == EAGLE
    assert tree.leaves() == ["The", "Eagle", "is", "a", "pub"]
    assert tree.num_words == 5
    assert tree.preterminals() == ["DET", "PROPN", "AUX", "DET", "NOUN"]
    assert tree.spans() == EAGLE_SPANS


@pytest.mark.parametrize("text", [
    "(S (NP (DET *) (PROPN *)) (VP (AUX *) (NP (DET *) (NOUN *))))",   # words as *
    "(S (NP (DET) (PROPN)) (VP (AUX) (NP (DET) (NOUN))))",             # words left out
    "(S (NP * *) (VP * (NP * *)))",                                     # preterminals left out
    "( (S (NP (DET The) (PROPN Eagle)) (VP (AUX is) (NP (DET a) (NOUN pub)))) )",  # Penn outer pair
])
def test_wordless_and_penn_forms_give_the_same_spans(text):
    tree = Tree.from_bracketed(text)
    assert tree.spans() == EAGLE_SPANS
    assert tree.num_words == 5


def test_one_word_phrase_versus_preterminal():
    # NP is a phrase label: (NP *) is a phrase over one word; (NOUN *) and (X *) are POS nodes
    assert Tree.from_bracketed("(S (NP *) (VP (VERB *)))").spans() == [(0, 1, "S"), (0, 0, "NP"), (1, 1, "VP")]
    assert Tree.from_bracketed("(S (NOUN *) (X *))").spans() == [(0, 1, "S")]


def test_bracket_f1_identity_and_hand_worked_example():
    gold = Tree.from_bracketed(EAGLE)
    assert bracket_f1(gold, gold) == 1.0
    # predicted brackets {S 0-4, NP 0-2, NP 3-4}; gold {S 0-4, NP 0-1, VP 2-4, NP 3-4}:
    # 2 matched, precision 2/3, recall 2/4 → F1 = 2·2/(3+4) = 4/7
    pred = Tree.from_bracketed("(S (NP (DET The) (PROPN Eagle) (AUX is)) (NP (DET a) (NOUN pub)))")
    assert bracket_f1(pred, gold) == pytest.approx(4 / 7)
    assert bracket_f1(gold, pred) == pytest.approx(4 / 7)


def test_bracket_f1_counts_unary_chains_as_a_multiset():
    pred = Tree.from_bracketed("(S (S (NP (PRON it))))")   # S 0-0 twice, NP 0-0
    gold = Tree.from_bracketed("(S (NP (PRON it)))")
    assert bracket_f1(pred, gold) == pytest.approx(2 * 2 / (3 + 2))


def test_span_in():
    tree = Tree.from_bracketed(EAGLE)
    assert span_in(tree, (2, 4, "VP"))
    assert not span_in(tree, (2, 4, "NP"))       # right span, wrong label
    assert not span_in(tree, (1, 1, "PROPN"))    # preterminals are not constituents
    assert not span_in(tree, (3, 9, "NP"))       # out of range


def test_empty_tree_has_no_spans_and_zero_f1():
    empty = Tree("S", [])
    assert empty.spans() == [] and empty.num_words == 0
    assert bracket_f1(empty, Tree.from_bracketed(EAGLE)) == 0.0


@pytest.mark.parametrize("text, message", [
    ("(S (NP x)", "never closed"),
    ("(S (NP x)))", "one ')' too many"),
    ("", "empty tree"),
    ("   ", "empty tree"),
    ("S x", "expected '('"),
    ("(S x) (S y)", "after the tree"),
    ("(S (NP x) ( (DET y)))", "no label"),
    ("((S x) (S y))", "no root label"),
])
def test_malformed_trees_raise_target_errors_naming_the_form(text, message):
    with pytest.raises(TargetError, match=re.escape(message)) as info:
        Tree.from_bracketed(text)
    assert "(S (NP (DET The)" in str(info.value)
