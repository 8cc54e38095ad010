"""Annotator backends: exact tags and trees of the spacy backend, the dependency → constituency
conversion, alignment with dlmctl's tokenisation, registration and missing-model errors."""

import pytest

from dlmctl.annotators import UPOS_TAGS, AnnotatorUnavailable, get_annotator
from dlmctl.annotators.dep2tree import DepToken, projectivize, sentence_tree
from dlmctl.errors import PluginError, UsageError
from dlmctl.plugins import PluginHost
from dlmctl.trees import Tree
from dlmctl.vocab import tokenize


@pytest.fixture(scope="module")
def spacy_annotator():
    try:
        return get_annotator("spacy")
    except AnnotatorUnavailable as exc:
        pytest.skip(str(exc))


def test_upos_tags_are_the_17_universal_tags():
    assert len(UPOS_TAGS) == len(set(UPOS_TAGS)) == 17
    assert {"NOUN", "PROPN", "AUX", "PUNCT", "X"} <= set(UPOS_TAGS)


def test_builtin_backends_come_through_dlmctls_own_entry_points():
    infos = {i.name: i for i in PluginHost().plugin_infos()}
    assert infos["spacy-annotator"].distribution == "dlmctl"
    assert infos["spacy-annotator"].annotators == ["spacy"]
    assert infos["stanza-annotator"].annotators == ["stanza"]


def test_unknown_backend_names_the_available_ones():
    with pytest.raises(PluginError, match="unknown annotator backend 'nope'.*spacy"):
        get_annotator("nope")


def test_spacy_tags_exactly(spacy_annotator):
    tagged = spacy_annotator.tag(["The Eagle is a cheap pub near the river ."])
    assert tagged == [[("The", "DET"), ("Eagle", "PROPN"), ("is", "AUX"), ("a", "DET"), ("cheap", "ADJ"),
                       ("pub", "NOUN"), ("near", "ADP"), ("the", "DET"), ("river", "NOUN"), (".", "PUNCT")]]


def test_spacy_trees_exactly(spacy_annotator):
    trees = spacy_annotator.parse(["The Eagle is a cheap pub near the river .",
                                   "Located in the city centre , The Mill is a coffee shop because it is cheap ."])
    assert trees[0].to_bracketed() == (
        "(S (NP (DET The) (PROPN Eagle)) (VP (AUX is) (NP (NP (DET a) (ADJ cheap) (NOUN pub)) "
        "(PP (ADP near) (NP (DET the) (NOUN river))))) (PUNCT .))")
    assert trees[1].to_bracketed() == (
        "(S (VP (VERB Located) (PP (ADP in) (NP (DET the) (NOUN city) (NOUN centre)))) (PUNCT ,) "
        "(NP (DET The) (PROPN Mill)) (VP (AUX is) (NP (DET a) (NOUN coffee) (NOUN shop)) "
        "(SBAR (SCONJ because) (S (NP (PRON it)) (VP (AUX is) (ADJP (ADJ cheap)))))) (PUNCT .))")


def test_outputs_align_with_dlmctl_tokens(spacy_annotator):
    texts = ["It's a family-friendly pub, isn't it?", "Cheap food . Near the river .", ""]
    tags, trees = spacy_annotator.tag(texts), spacy_annotator.parse(texts)
    for text, tagged, tree in zip(texts, tags, trees):
        assert [w for w, _ in tagged] == tokenize(text) == tree.leaves()
        assert [t for _, t in tagged] == tree.preterminals()
        assert all(t in UPOS_TAGS for _, t in tagged)
    assert tags[2] == [] and trees[2].spans() == []
    # two sentences are joined under one S
    assert trees[1].to_bracketed() == ("(S (NP (ADJ Cheap) (NOUN food) (PUNCT .)) "
                                       "(PP (ADP Near) (NP (DET the) (NOUN river)) (PUNCT .)))")


def test_repeated_annotation_is_cached_and_safe_to_mutate():
    from dlmctl.annotators.spacy_backend import SpacyAnnotator

    annotator = SpacyAnnotator(cache_size=2)
    try:
        annotator.check()
    except AnnotatorUnavailable as exc:
        pytest.skip(str(exc))
    first = annotator.parse(["The Eagle is a pub ."])[0]
    first.children.clear()                           # callers may edit what they get
    again = annotator.parse(["The Eagle is a pub .", "It is cheap .", "Yes"])
    assert again[0].num_words == 6 and again[2].to_bracketed() == "(INTJ (INTJ Yes))"
    assert annotator.tag(["Yes", "The Eagle is a pub ."])[0] == [("Yes", "INTJ")]
    assert len(annotator._cache) == 2


def test_every_tree_spans_its_words_and_reparses(spacy_annotator):
    texts = ["Yes", "There is a pub called The Eagle that serves French food in the city centre ."]
    for text, tree in zip(texts, spacy_annotator.parse(texts)):
        assert tree.spans()[0] == (0, len(tokenize(text)) - 1, tree.label)
        assert Tree.from_bracketed(tree.to_bracketed()) == tree


def test_projectivize_lifts_a_crossing_arc():
    # 0 ← 2 (root), 1 → 3, 3 → 2: the arc 3→1 crosses 2, which 3 does not dominate → lift 1 to 2
    assert projectivize([2, 3, 2, 2]) == [2, 2, 2, 2]
    assert projectivize([1, 1, 1]) == [1, 1, 1]


def test_conversion_rules_on_a_hand_built_parse():
    # "because it is cheap": mark + subject + copula + adjective
    tokens = [DepToken("because", "SCONJ", "mark", 2), DepToken("it", "PRON", "nsubj", 2),
              DepToken("is", "AUX", "ROOT", 2), DepToken("cheap", "ADJ", "acomp", 2)]
    assert sentence_tree(tokens).to_bracketed() == (
        "(SBAR (SCONJ because) (S (NP (PRON it)) (VP (AUX is) (ADJP (ADJ cheap)))))")
    assert sentence_tree([DepToken("Yes", "INTJ", "ROOT", 0)]).to_bracketed() == "(INTJ (INTJ Yes))"


def test_auxiliaries_and_post_modifiers_nest():
    # "It will be found near the river": aux chain → nested VPs; "pub near …" → NP over NP + PP
    tokens = [DepToken("It", "PRON", "nsubjpass", 3), DepToken("will", "AUX", "aux", 3),
              DepToken("be", "AUX", "auxpass", 3), DepToken("found", "VERB", "ROOT", 3),
              DepToken("near", "ADP", "prep", 3), DepToken("the", "DET", "det", 6),
              DepToken("river", "NOUN", "pobj", 4)]
    assert sentence_tree(tokens).to_bracketed() == (
        "(S (NP (PRON It)) (VP (AUX will) (VP (AUX be) (VP (VERB found) (PP (ADP near) "
        "(NP (DET the) (NOUN river)))))))")
    pub = [DepToken("a", "DET", "det", 1), DepToken("pub", "NOUN", "ROOT", 1), DepToken("near", "ADP", "prep", 1),
           DepToken("it", "PRON", "pobj", 2)]
    assert sentence_tree(pub).to_bracketed() == "(NP (NP (DET a) (NOUN pub)) (PP (ADP near) (NP (PRON it))))"


def test_stanza_missing_models_say_how_to_get_them(tmp_path, monkeypatch):
    pytest.importorskip("stanza")
    from dlmctl.annotators.stanza_backend import StanzaAnnotator

    monkeypatch.setenv("STANZA_RESOURCES_DIR", str(tmp_path))
    with pytest.raises(AnnotatorUnavailable, match="dlmctl annotators download stanza"):
        StanzaAnnotator().check()


def test_stanza_parses_when_its_models_are_installed():
    pytest.importorskip("stanza")
    try:
        annotator = get_annotator("stanza")
    except AnnotatorUnavailable as exc:
        pytest.skip(str(exc))
    text = "The Eagle is a pub near the river ."
    tree = annotator.parse([text])[0]
    assert tree.leaves() == tokenize(text)
    assert all(tag in UPOS_TAGS for tag in tree.preterminals())


def test_annotate_command(spacy_annotator):
    from typer.testing import CliRunner

    from dlmctl.cli import _register_commands, app

    _register_commands()
    runner = CliRunner()
    spans = runner.invoke(app, ["annotate", "The Eagle is a pub.", "--as", "spans"])
    assert spans.exit_code == 0, spans.output
    assert spans.stdout.splitlines() == ["0,5,S\tThe Eagle is a pub .", "0,1,NP\tThe Eagle",
                                         "2,4,VP\tis a pub", "3,4,NP\ta pub"]
    pos = runner.invoke(app, ["annotate", "The Eagle is a pub.", "--as", "pos"])
    assert pos.stdout == "DET PROPN AUX DET NOUN PUNCT\n"
    empty = runner.invoke(app, ["annotate", "  ", "--as", "tree"])
    assert isinstance(empty.exception, UsageError) and "TEXT has no words" in str(empty.exception)
