"""Tests of the keywords control, against the tiny model of ``dlmctl.testing``."""

from __future__ import annotations

import pytest
import torch

from dlmctl.errors import TargetError
from dlmctl.plugins import PluginHost

from dlmctl_keywords import KeywordsControl, register_controls
from dlmctl.biases import HOLD, hold_phrases
from dlmctl_keywords.terms import keyword_log_prob, pack_targets

control = KeywordsControl()


def host(*plugins) -> PluginHost:
    """A host with this plugin module (and ``plugins``) registered, no entry points."""
    h = PluginHost(entry_points=False)
    for i, plugin in enumerate(plugins):
        h.register(plugin, f"extra-{i}")
    import dlmctl_keywords

    h.register(dlmctl_keywords, "keywords", "dlmctl-keywords")
    return h


def test_plugin_registers_the_keywords_control():
    assert isinstance(host().control("keywords"), KeywordsControl)
    found = []
    register_controls(found.append)
    assert [c.name for c in found] == ["keywords"]


def test_keywords_ask_for_no_guidance_schedule_and_choose_from_eight_candidates():
    from dlmctl.generation import default_candidates, guidance_schedule

    controls = PluginHost().controls()           # as users' runs find them: through the entry points
    keywords = controls["keywords"]
    assert guidance_schedule([keywords]) == {}
    assert guidance_schedule([keywords, controls["pos"]]) == guidance_schedule([controls["pos"]])
    assert default_candidates([keywords]) == 8 and keywords.fluent_first


def test_parse_target_matches_words_up_to_case(tiny_model):
    vocab = tiny_model.vocab
    target = control.parse_target(" riverside ,, Coffee shop ", tiny_model)
    assert target.phrases == (("riverside",), ("coffee", "shop"))
    for phrase, ids in zip(target.phrases, target.ids):
        for word, variants in zip(phrase, ids):
            assert {vocab.words[i].lower() for i in variants} == {word}
            assert len(variants) == sum(w.lower() == word for w in vocab.words)


def test_unknown_keywords_are_listed_in_one_error(tiny_model):
    with pytest.raises(TargetError) as error:
        control.parse_target("riverside, zzyzx, qwertyuiop", tiny_model)
    message = str(error.value)
    assert "'qwertyuiop', 'zzyzx'" in message and "'riverside'" not in message
    assert 'keywords="riverside, cheap"' in message


@pytest.mark.parametrize("text", ["", " , ,"])
def test_empty_target_is_an_error(tiny_model, text):
    with pytest.raises(TargetError, match="no keywords"):
        control.parse_target(text, tiny_model)


def test_too_many_keyword_words_do_not_fit(tiny_model):
    with pytest.raises(TargetError, match="do not fit"):
        control.parse_target(", ".join(["riverside"] * tiny_model.config.seq_len), tiny_model)


def test_oracle_needs_every_keyword_as_consecutive_words(tiny_model):
    target = control.parse_target("riverside, coffee shop", tiny_model)
    assert control.score("A Coffee Shop by the Riverside .", target) == 1.0
    assert control.score("A coffee house and a shop by the riverside .", target) == 0.0
    assert control.score("A coffee shop in the city centre .", target) == 0.0


def brute_force(log_probs: torch.Tensor, target) -> float:
    """log p(keywords) of one row (L, V) by explicit loops."""
    total = 0.0
    length = log_probs.shape[0]
    for ids in target.ids:
        starts = [sum(log_probs[s + j, list(variants)].logsumexp(0) for j, variants in enumerate(ids))
                  for s in range(length - len(ids) + 1)]
        total += torch.stack(starts).logsumexp(0).item()
    return total


def test_log_prob_matches_explicit_loops_and_ignores_rows_without_target(tiny_model):
    targets = [control.parse_target("riverside, coffee shop", tiny_model), None,
               control.parse_target("cheap", tiny_model)]
    log_probs = torch.randn(3, 10, len(tiny_model.vocab), dtype=torch.float64).log_softmax(-1)
    got = keyword_log_prob(log_probs, *pack_targets(targets))
    assert got[1].item() == 0.0
    for row in (0, 2):
        assert got[row].item() == pytest.approx(brute_force(log_probs[row], targets[row]), abs=1e-4)


def test_each_keyword_is_held_at_its_most_plausible_free_start(tiny_model):
    """Keyword by keyword, the start with the highest phrase log p among those whose words miss the
    positions an earlier keyword holds, on its likeliest case variant; rows without keywords get 0."""
    targets = [control.parse_target("coffee shop, riverside", tiny_model), None]
    index, valid, used = pack_targets(targets)
    vocab = tiny_model.vocab
    coffee, shop = targets[0].ids[0][0][0], targets[0].ids[0][1][0]
    riverside = targets[0].ids[1][0]
    scores = torch.zeros(2, 10, len(vocab))
    scores[0, 4, coffee] = scores[0, 5, shop] = 5.0           # "coffee shop" fits best at 4
    scores[0, 5, riverside[-1]] = 9.0                          # riverside's best: 5, held by "shop"
    scores[0, 7, riverside[-1]] = 3.0                          # its best free start
    bias = hold_phrases(scores, index, valid, used)
    held = (bias[0] == HOLD).nonzero().tolist()
    assert held == sorted([[4, coffee], [5, shop], [7, riverside[-1]]])
    assert not bias[1].any()


def test_guided_samples_always_contain_their_keywords(tiny_model):
    from dlmctl.sampling import SamplerConfig
    from dlmctl.testing import generate_texts

    rows = [{"keywords": "riverside, cheap"}] * 8
    target = control.parse_target("riverside, cheap", tiny_model)
    sampler = SamplerConfig(steps=40)
    guided = generate_texts(tiny_model, rows, sampler=sampler, host=host(), show_progress=False)
    unguided = generate_texts(tiny_model, [{}] * 8, sampler=sampler, host=host(), show_progress=False)
    success = lambda texts: sum(control.score(t, target) for t in texts) / len(texts)
    assert success(guided) == 1.0 > success(unguided)


def test_composes_with_the_length_control(tiny_model):
    from dlmctl.sampling import SamplerConfig
    from dlmctl.testing import generate_texts
    from dlmctl.vocab import tokenize

    dlmctl_length = pytest.importorskip("dlmctl_length")
    rows = [{"keywords": "riverside", "length": "10"}] * 6
    texts = generate_texts(tiny_model, rows, sampler=SamplerConfig(steps=40), host=host(dlmctl_length),
                           show_progress=False)
    target = control.parse_target("riverside", tiny_model)
    assert all(len(tokenize(t)) == 10 and control.score(t, target) == 1.0 for t in texts)
