"""The model's own ranking of finished sentences and best-of-N generation."""

import csv
import random

import pytest
import torch

from dlmctl.errors import UsageError
from dlmctl.generation import DEFAULT_CANDIDATES, default_candidates, generate, ranks_by_classifier
from dlmctl.plugins import PluginHost
from dlmctl.rerank import best_of, denoising_loss
from dlmctl.sampling import SamplerConfig
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


def test_best_of_picks_the_lowest_loss_in_each_group(tiny_model, small_corpus):
    with open(small_corpus, newline="") as f:
        rows = [tokenize(r["human_reference"]) for r in csv.DictReader(f)][:6]
    ids = tiny_model.vocab.encode_batch(rows, tiny_model.config.seq_len)
    loss = denoising_loss(tiny_model, ids)
    chosen = best_of(tiny_model, ids, 3).tolist()
    assert chosen == [int(loss[:3].argmin()), 3 + int(loss[3:].argmin())]


def test_generate_keeps_the_best_of_its_candidates(tiny_model):
    sampler = SamplerConfig(steps=10)
    pool = generate(tiny_model, [{}] * 8, sampler=sampler, seed=5, show_progress=False)
    best = generate(tiny_model, [{}] * 2, sampler=sampler, seed=5, show_progress=False, candidates=4)
    ids = tiny_model.vocab.encode_batch([tokenize(t) for t in pool], tiny_model.config.seq_len)
    loss = denoising_loss(tiny_model, ids).view(2, 4)
    assert best == [pool[int(loss[0].argmin())], pool[4 + int(loss[1].argmin())]]
    assert generate(tiny_model, [{}] * 2, sampler=sampler, seed=5, show_progress=False, candidates=4) == best
    with pytest.raises(UsageError, match="--candidates 0"):
        generate(tiny_model, [{}], sampler=sampler, show_progress=False, candidates=0)


def test_best_of_with_target_log_prob_wants_both_fluent_and_on_target(tiny_model, small_corpus):
    with open(small_corpus, newline="") as f:
        rows = [tokenize(r["human_reference"]) for r in csv.DictReader(f)][:3]
    ids = tiny_model.vocab.encode_batch(rows, tiny_model.config.seq_len)
    by_loss = denoising_loss(tiny_model, ids).argsort().tolist()     # best, second, worst
    on_target = torch.zeros(3)
    on_target[by_loss] = torch.tensor([-9.0, -1.0, -5.0])          # the most fluent is off target
    assert best_of(tiny_model, ids, 3, on_target).tolist() == [by_loss[1]]
    on_target[by_loss] = torch.tensor([-1.0, -5.0, -9.0])          # the most fluent is also on target
    assert best_of(tiny_model, ids, 3, on_target).tolist() == [by_loss[0]]
    on_target[:] = -2.0                                             # no preference: the loss decides
    assert best_of(tiny_model, ids, 3, on_target).tolist() == [by_loss[0]]
    yes = torch.tensor([True])
    on_target[by_loss] = torch.tensor([-9.0, -5.0, -1.0])          # the least fluent is the most on target
    assert best_of(tiny_model, ids, 3, on_target).tolist() == [by_loss[0]]     # rank sums tie: loss decides
    assert best_of(tiny_model, ids, 3, on_target, classifier_first=yes).tolist() == [by_loss[2]]
    on_target[:] = -2.0                                             # classifier first, ties to the loss
    assert best_of(tiny_model, ids, 3, on_target, classifier_first=yes).tolist() == [by_loss[0]]


def test_a_request_ranks_by_classifier_only_if_all_its_classifier_controls_ask():
    controls = PluginHost().controls()
    assert controls["span"].rank_by_classifier and not controls["pos"].rank_by_classifier
    assert ranks_by_classifier(controls, {"span": object()})
    assert ranks_by_classifier(controls, {"span": object(), "length": 12})     # length has no classifier
    assert not ranks_by_classifier(controls, {"span": object(), "pos": object()})
    assert not ranks_by_classifier(controls, {"length": 12}) and not ranks_by_classifier(controls, {})


def test_unset_candidates_follow_the_controls_that_ask_for_more(tiny_model):
    """``candidates=None`` (the CLI without --candidates) draws DEFAULT_CANDIDATES samples per
    sentence, or as many as a used control asks for (span asks for 8)."""
    controls = PluginHost().controls()
    assert default_candidates([]) == DEFAULT_CANDIDATES == 4
    assert default_candidates([controls["pos"], controls["length"]]) == 4
    assert default_candidates([controls["pos"], controls["span"]]) == controls["span"].default_candidates == 8
    sampler = SamplerConfig(steps=5)
    requests = [{"length": "6"}] * 3
    unset = generate(tiny_model, requests, sampler=sampler, candidates=None, show_progress=False)
    assert unset == generate(tiny_model, requests, sampler=sampler, candidates=4, show_progress=False)
    assert unset != generate(tiny_model, requests, sampler=sampler, candidates=1, show_progress=False)
