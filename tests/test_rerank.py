"""Choosing among candidates: the model's own ranking of finished sentences, ranks with the
classifiers and the teacher, and no repeats among the samples of one request."""

import csv
import random

import pytest
import torch

from dlmctl import defaults
from dlmctl.diversity import bigram_jaccard
from dlmctl.errors import UsageError
from dlmctl.generation import (DEFAULT_CANDIDATES, MAX_OVERLAP, REDRAW_TEMPERATURE, chooses_fluent_first,
                               default_candidates, default_prune_at, exact_repeats, generate, pruning_plan,
                               ranks_by_classifier, request_key)
from dlmctl.plugins import PluginHost
from dlmctl.rerank import denoising_loss, pick_distinct, selection_keys
from dlmctl.sampling import Sampler, SamplerConfig
from dlmctl.testing import generate_texts
from dlmctl.vocab import tokenize


def test_denoising_loss_prefers_real_sentences_over_shuffled_ones(tiny_model, small_corpus):
    with open(small_corpus, newline="") as f:
        rows = [tokenize(r["human_reference"]) for r in csv.DictReader(f)]
    seq_len = tiny_model.config.seq_len
    real = [w for w in rows if len(w) <= seq_len - 2 and all(x in tiny_model.vocab for x in w)][:16]
    rng = random.Random(0)
    shuffled = [rng.sample(w, len(w)) for w in real]
    loss = [denoising_loss(tiny_model, tiny_model.vocab.encode_batch(s, seq_len)) for s in (real, shuffled)]
    assert (loss[0] < loss[1]).sum() >= 14


def test_generate_keeps_the_best_of_its_candidates_and_no_repeats(tiny_model):
    """Rows with one request share their candidates: the best by loss first, then the best that
    does not repeat it (the tiny model has no teacher, so the loss alone ranks)."""
    sampler = SamplerConfig(steps=10)
    pool = generate_texts(tiny_model, [{}] * 8, sampler=sampler, seed=5, show_progress=False)
    best = generate_texts(tiny_model, [{}] * 2, sampler=sampler, seed=5, show_progress=False, candidates=4)
    ids = tiny_model.vocab.encode_batch([tokenize(t) for t in pool], tiny_model.config.seq_len)
    order = denoising_loss(tiny_model, ids).argsort(stable=True).tolist()
    assert best == [pool[i] for i in pick_distinct(order, pool, 2, MAX_OVERLAP)]
    assert best[0] == pool[order[0]] and bigram_jaccard(*best) <= MAX_OVERLAP
    assert generate_texts(tiny_model, [{}] * 2, sampler=sampler, seed=5, show_progress=False, candidates=4) == best
    with pytest.raises(UsageError, match="--candidates 0"):
        generate_texts(tiny_model, [{}], sampler=sampler, show_progress=False, candidates=0)


def test_selection_keys_want_fluent_and_on_target_candidates():
    loss = torch.tensor([1.0, 2.0, 3.0])
    assert selection_keys(loss).argmin() == 0
    assert selection_keys(loss, on_target=torch.tensor([-9.0, -1.0, -5.0])).argmin() == 1   # best is off target
    assert selection_keys(loss, on_target=torch.tensor([-1.0, -5.0, -9.0])).argmin() == 0
    assert selection_keys(loss, on_target=torch.full((3,), -2.0)).argmin() == 0              # no preference
    least_fluent_most_on = torch.tensor([-9.0, -5.0, -1.0])
    assert selection_keys(loss, least_fluent_most_on).argmin() == 0                          # ranks tie: loss
    assert selection_keys(loss, least_fluent_most_on, classifier_first=True).argmin() == 2
    assert selection_keys(loss, least_fluent_most_on, fluency=torch.tensor([9.0, 2.0, 3.0])).argmin() == 1


def test_selection_keys_put_every_fluent_candidate_first():
    """A candidate whose worst token the teacher finds likely enough beats any that has a word it does
    not, however the other measures rank them; within each group the rank sum decides."""
    loss, on_target = torch.tensor([1.0, 2.0, 3.0, 4.0]), torch.tensor([-1.0, -2.0, -3.0, -4.0])
    limit = defaults.FLUENCY_THRESHOLD
    fluency = torch.tensor([limit + 0.5, limit + 3.0, limit, 2.0])
    for classifier_first in (False, True):
        keys = selection_keys(loss, on_target, classifier_first, fluency)
        assert keys.argsort().tolist() == [2, 3, 0, 1]
    unfluent = torch.full((4,), limit + 1.0)
    assert selection_keys(loss, on_target, fluency=unfluent).argsort().tolist() == [0, 1, 2, 3]


def test_selection_keys_put_candidates_without_flaws_first_among_the_fluent_and_among_the_rest():
    """Only where the request chooses fluent first."""
    loss, limit = torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), defaults.FLUENCY_THRESHOLD
    fluency = torch.tensor([2.0, 2.0, limit + 1.0, 2.0, limit + 1.0])
    flawed = torch.tensor([True, False, False, True, True])
    assert selection_keys(loss, fluency=fluency, flawed=flawed).argsort().tolist() == [1, 0, 3, 2, 4]
    assert selection_keys(loss, fluency=fluency, fluent_first=False, flawed=flawed).argsort().tolist() == \
        [0, 1, 3, 2, 4]
    assert selection_keys(loss, flawed=flawed).argsort().tolist() == [1, 2, 0, 3, 4]


class ShortIsFlawed:
    """A critic that finds every sentence of fewer than ``words`` words flawed."""
    name = "short"

    def __init__(self, words: int):
        self.words = words

    def flaws(self, model, texts):
        return [["too short"] if len(t.split()) < self.words else [] for t in texts]


def test_generate_keeps_a_candidate_a_critic_finds_no_flaw_in(tiny_model, use_critics):
    sampler = SamplerConfig(steps=10)
    pool = generate_texts(tiny_model, [{}] * 8, sampler=sampler, seed=5, show_progress=False)
    lengths = sorted(len(t.split()) for t in pool)
    use_critics(ShortIsFlawed(lengths[-1]))        # only the longest candidates are not flawed
    [kept] = generate_texts(tiny_model, [{}], sampler=sampler, seed=5, show_progress=False, candidates=8)
    assert kept in pool and len(kept.split()) == lengths[-1]


def test_a_failing_critic_is_a_warning_and_the_run_finishes(tiny_model, use_critics):
    class Broken:
        name = "broken"

        def flaws(self, model, texts):
            raise RuntimeError("no")

    use_critics(Broken())
    with pytest.warns(UserWarning, match="critic 'broken' failed"):
        texts = generate_texts(tiny_model, [{}] * 2, sampler=SamplerConfig(steps=10), seed=5, show_progress=False,
                               candidates=2)
    assert len(texts) == 2


def test_pick_distinct_skips_repeats_while_others_remain():
    texts = ["the pub is cheap .", "the pub is cheap .", "a cheap pub by the river .", "the pub is cheap !"]
    assert pick_distinct([0, 1, 2, 3], texts, 2, 0.5) == [0, 2]
    assert pick_distinct([0, 1, 2, 3], texts, 3, 0.5) == [0, 2, 3]     # 3 is the least like those kept
    assert pick_distinct([1, 0], texts, 2, 0.5) == [1, 0]               # nothing else: a repeat


def test_a_request_ranks_by_classifier_only_if_all_its_classifier_controls_ask():
    controls = PluginHost().controls()
    assert controls["span"].rank_by_classifier and not controls["pos"].rank_by_classifier
    assert ranks_by_classifier(controls, {"span": object()})
    assert ranks_by_classifier(controls, {"span": object(), "length": 12})     # length has no classifier
    assert not ranks_by_classifier(controls, {"span": object(), "pos": object()})
    assert not ranks_by_classifier(controls, {"length": 12}) and not ranks_by_classifier(controls, {})


def test_a_request_chooses_fluent_first_unless_one_of_its_controls_opts_out():
    controls = PluginHost().controls()
    assert all(control.fluent_first for control in controls.values())      # every bundled control
    lax = type("LaxControl", (type(controls["keywords"]),), {"name": "lax", "fluent_first": False})()
    controls["lax"] = lax
    assert chooses_fluent_first(controls, {}) and chooses_fluent_first(controls, {"pos": object()})
    assert not chooses_fluent_first(controls, {"lax": object(), "pos": object()})


def test_unset_candidates_follow_the_controls_that_ask_for_more(tiny_model):
    """``candidates=None`` (the CLI without --candidates) draws DEFAULT_CANDIDATES samples per
    sentence, or as many as a used control asks for (span asks for 8)."""
    controls = PluginHost().controls()
    assert default_candidates([]) == DEFAULT_CANDIDATES == 4
    assert default_candidates([controls["pos"], controls["length"]]) == 4
    assert default_candidates([controls["pos"], controls["span"]]) == controls["span"].default_candidates == 8
    sampler = SamplerConfig(steps=5)
    requests = [{"length": "6"}] * 3
    unset = generate_texts(tiny_model, requests, sampler=sampler, candidates=None, show_progress=False)
    assert unset == generate_texts(tiny_model, requests, sampler=sampler, candidates=4, show_progress=False)
    assert unset != generate_texts(tiny_model, requests, sampler=sampler, candidates=1, show_progress=False)


def test_pruned_candidates_stop_early_and_the_survivors_finish(tiny_model, monkeypatch):
    """After the first half of the chain only one candidate per sentence goes on: 4 chains per
    sentence sample 5 steps, then 1 per sentence the other 5, strided to 3; each sample's path
    covers the chain."""
    rows_per_step = []
    steps = Sampler.steps

    def counted(self, batch_size, *args, **kwargs):
        for step in steps(self, batch_size, *args, **kwargs):
            rows_per_step.append(batch_size)
            yield step

    monkeypatch.setattr(Sampler, "steps", counted)
    samples = generate(tiny_model, [{"length": "6"}] * 2, sampler=SamplerConfig(steps=10, tail_stride=2),
                       seed=3, show_progress=False, candidates=4, prune_at=0.5, survivors=1, trajectory_every=1)
    assert rows_per_step == [8] * 5 + [2] * 3
    assert [len(s.text.split()) for s in samples] == [6, 6]
    for sample in samples:
        assert [index for index, _ in sample.trajectory] == list(range(7, -1, -1))
        assert sample.trajectory[-1][1] == sample.text and set(sample.scores) >= {"loss"}


def test_pruning_plans_every_candidate_for_its_share_then_the_survivors():
    assert pruning_plan(50, 4, 1) == [(4, 50), (1, 0)]
    assert pruning_plan(70, 8, 2) == [(8, 70), (2, 0)]
    assert pruning_plan(0, 4, 1) == pruning_plan(50, 4, 4) == [(4, 0)]     # nothing to prune


def test_candidates_are_pruned_by_default_where_classifiers_guide():
    host = PluginHost()
    assert default_prune_at([]) == default_prune_at([host.control("length")]) == 1.0
    assert default_prune_at([host.control("pos"), host.control("length")]) == defaults.PRUNE_AT < 1
    assert default_prune_at([host.control("pos"), host.control("span")]) == 1.0      # span asks not to prune


def test_pruning_needs_fewer_survivors_than_candidates_and_a_share_of_the_chain(tiny_model):
    sampler = SamplerConfig(steps=10)
    whole = generate_texts(tiny_model, [{}] * 2, sampler=sampler, seed=5, show_progress=False, candidates=4,
                           prune_at=1.0)
    assert generate_texts(tiny_model, [{}] * 2, sampler=sampler, seed=5, show_progress=False, candidates=4,
                          prune_at=0.3, survivors=4) == whole
    for options, message in (({"prune_at": 0.0}, "--prune-at 0.0"), ({"prune_at": 1.5}, "--prune-at 1.5"),
                             ({"survivors": 0}, "--survivors 0")):
        with pytest.raises(UsageError, match=message):
            generate_texts(tiny_model, [{}], sampler=sampler, show_progress=False, candidates=4, **options)


def test_exact_repeats_are_the_rows_that_copy_an_earlier_sample_of_their_request():
    requests = [{"length": "5"}] * 3 + [{"length": "6"}]
    assert exact_repeats(requests, ["a b", "c d", "a b", "a b"]) == [2]
    assert pick_distinct([0, 1], ["a b c d", "e f g h"], 1, 0.5, avoid=["a b c d"]) == [1]


def test_a_sample_that_came_out_as_an_exact_copy_is_drawn_again(tiny_model, monkeypatch):
    """When a pool holds nothing but copies (here: the first choice keeps one candidate for every
    row), the copies are drawn again, with more noise, choosing apart from the sample kept."""
    import dlmctl.generation as generation

    real, calls, temperatures = generation.choose, [], []
    sample_batch = generation.SamplingJob.sample_batch

    def copying(*args, **kwargs):
        calls.append(kwargs.get("avoid"))
        chosen, measures = real(*args, **kwargs)
        return ([chosen[0]] * len(chosen) if len(calls) == 1 else chosen), measures

    def noted(self, *args, **kwargs):
        temperatures.append(self.run.config.temperature)
        return sample_batch(self, *args, **kwargs)

    monkeypatch.setattr(generation, "choose", copying)
    monkeypatch.setattr(generation.SamplingJob, "sample_batch", noted)
    texts = [s.text for s in generate(tiny_model, [{}] * 3, sampler=SamplerConfig(steps=5), seed=2, candidates=2,
                                      show_progress=False)]
    assert calls[1] == {request_key({}): [texts[0]]}
    assert texts[0] not in texts[1:] and len(calls) >= 2
    assert temperatures[0] == defaults.TEMPERATURE and set(temperatures[1:]) == {REDRAW_TEMPERATURE}
