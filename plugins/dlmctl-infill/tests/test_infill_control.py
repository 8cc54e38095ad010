"""The infill control and ``dlmctl infill`` against the tiny model (``dlmctl.testing``)."""

from __future__ import annotations

import json
import sys

import pytest
import torch

from dlmctl.errors import TargetError
from dlmctl.generation import REDRAW_TEMPERATURE, exact_repeats
from dlmctl.sampling import SamplerConfig
from dlmctl.testing import generate_texts
from dlmctl.vocab import SPECIALS, tokenize
from dlmctl_infill.fill import infill
from dlmctl_infill.layout import layout_bias
from dlmctl_infill import fill as fill_module
from dlmctl_infill.select import mbr_index, mbr_order
from dlmctl_infill.template import Blank, parse_template

FAST = SamplerConfig(steps=20)


def _check_fills(model, fills, sizes):
    assert [len(f) for f in fills] == sizes
    for fill in fills:
        for word in fill:
            assert word in model.vocab and word not in SPECIALS


def test_parse_blanks_and_known_words(tiny_model):
    t = parse_template("The ___ is a [2] near [1-3] [*]", tiny_model.vocab, tiny_model.config.seq_len)
    assert t.segments == ("The", Blank(1, 1), "is", "a", Blank(2, 2), "near", Blank(1, 3), Blank(0, None))
    assert t.free_tail and t.min_words == 8
    assert t.match("The pub is a coffee shop near the river and cheap".split()) is not None
    assert t.match("The pub is a shop near the river".split()) is None          # [2] needs two words


@pytest.mark.parametrize("template, message", [
    ("The pub is cheap .", "has no blank"),
    ("___ [2] [*]", "only blanks"),
    ("The ___ is zzyzx and qwv .", "'zzyzx', 'qwv'"),
    ("The [40] .", "at most 30"),
    ("The [x] .", "not one of ___, [n], [a-b], [*]"),
    ("The [3-1] .", "a ≤ b"),
])
def test_bad_templates_are_rejected(tiny_model, template, message):
    with pytest.raises(TargetError, match="expected|vocabulary|at most") as info:
        parse_template(template, tiny_model.vocab, tiny_model.config.seq_len)
    assert message in str(info.value)


def test_a_middle_star_blank_may_be_empty(tiny_model):
    vocab, seq_len = tiny_model.vocab, tiny_model.config.seq_len
    empty = parse_template("The [*] is a ___ .", vocab, seq_len).with_lengths([0, 1])
    assert empty.text == "The [0] is a ___ ."
    reparsed = parse_template(empty.text, vocab, seq_len)
    assert reparsed.match(["The", "is", "a", "pub", "."]) == [[], ["pub"]]
    allowed = layout_bias(reparsed, vocab, seq_len) == 0
    assert allowed[2].nonzero().flatten().tolist() == [vocab.index["is"]]


def test_layout_bias_pins_known_words_and_frames_the_sentence(tiny_model):
    vocab, seq_len = tiny_model.vocab, tiny_model.config.seq_len
    bias = layout_bias(parse_template("The ___ is [2] .", vocab, seq_len), vocab, seq_len)
    allowed = bias == 0                                                  # (L, V)
    expected = {0: vocab.start, 1: vocab.index["The"], 3: vocab.index["is"], 6: vocab.index["."], 7: vocab.end}
    for position, word in expected.items():
        assert allowed[position].nonzero().flatten().tolist() == [word]
    for position in (2, 4, 5):
        assert not allowed[position, [vocab.start, vocab.end, vocab.unk, vocab.pad]].any()
        assert allowed[position].sum() == len(vocab) - 4
    assert (allowed[8:].nonzero()[:, 1] == vocab.pad).all() and allowed[8:].sum() == seq_len - 8


def test_known_words_are_kept_verbatim(tiny_model):
    template = "The ___ is a [2] near the ___ ."
    [results] = infill(tiny_model, [template], 6, sampler=FAST, show_progress=False)
    parsed = parse_template(template, tiny_model.vocab, tiny_model.config.seq_len)
    assert len(results) == 6
    for result in results:
        assert parsed.match(tokenize(result.text)) is not None, result.text
        _check_fills(tiny_model, result.fills, [1, 2, 1])


def test_variable_blanks_respect_their_ranges(tiny_model):
    [middle, tail] = infill(tiny_model, ["The [1-4] near the [*] .", "The shop is [*]"], 4,
                            candidates=3, sampler=FAST, show_progress=False)
    for result in middle:
        sizes = [len(f) for f in result.fills]
        assert 1 <= sizes[0] <= 4 and sizes[1] <= tiny_model.config.seq_len - 2 - 5
        _check_fills(tiny_model, result.fills, sizes)
        assert len(result.pool) == 3
    for result in tail:
        words = tokenize(result.text)
        assert words[:3] == ["The", "shop", "is"]
        _check_fills(tiny_model, result.fills, [len(words) - 3])


def test_control_composes_with_length_in_generate(tiny_model):
    texts = generate_texts(tiny_model, [{"infill": "The ___ is [*]", "length": "9"}] * 4, sampler=FAST,
                           show_progress=False)
    for text in texts:
        words = tokenize(text)
        assert len(words) == 9 and words[0] == "The" and words[2] == "is", text


def test_rows_without_an_infill_target_are_unconstrained(tiny_model):
    from dlmctl_infill import InfillControl

    target = InfillControl().parse_target("The ___ .", tiny_model)
    guidance = InfillControl().guidance(tiny_model, [target, None])
    assert torch.isinf(guidance.token_bias[0]).any() and not guidance.token_bias[1].any()
    x = torch.randn(2, tiny_model.config.seq_len, tiny_model.config.embed_dim)
    assert guidance.log_prob(x, torch.tensor([5, 5]))[1] == 0


def test_rounding_term_prefers_latents_that_spell_the_template(tiny_model):
    from dlmctl_infill import InfillControl

    control = InfillControl()
    target = control.parse_target("The ___ is a [2] .", tiny_model)
    log_prob = control.guidance(tiny_model, [target, target]).log_prob
    words = ["<s>", "The", "shop", "is", "a", "coffee", "shop", ".", "</s>"]
    ids = tiny_model.vocab.encode_batch([words[1:-1]], tiny_model.config.seq_len)[0]
    clean = tiny_model.embeddings[ids].detach()
    x = torch.stack([clean, torch.randn_like(clean)]).requires_grad_(True)
    value = log_prob(x, torch.tensor([1, 1]))
    assert value[0] > value[1]
    value.sum().backward()
    assert x.grad[1, 2].abs().sum() > 0        # the blank's latent moves too, not only pinned ones


def test_mbr_picks_the_consensus():
    texts = ["the pub is near the river", "a cheap pub near the river", "the pub is near the river .",
             "zebra quantum"]
    assert mbr_index(texts) in (0, 2)
    assert mbr_index(["only one"]) == 0


def test_fillings_of_one_template_are_drawn_again_when_they_copy_each_other(tiny_model, monkeypatch):
    """Every pool's consensus tends to the same sentence: a pool holding only a filling kept
    already is drawn again, with more noise, and keeps a sample no other filling kept."""
    import dlmctl_infill.fill as fill

    real, temperatures = fill._sample, []

    def copying(model, requests, weights, sampler, *args):
        temperatures.append(sampler.temperature)
        texts = real(model, requests, weights, sampler, *args)
        return [texts[0]] * len(texts) if len(temperatures) == 1 else texts

    monkeypatch.setattr(fill, "_sample", copying)
    filled = infill(tiny_model, ["The ___ is [*]"], 3, mbr=2, sampler=FAST, seed=1, show_progress=False)[0]
    texts = [f.text for f in filled]
    assert len(set(texts)) == 3, texts
    assert temperatures[0] == FAST.temperature and set(temperatures[1:]) == {REDRAW_TEMPERATURE}


def test_a_pool_keeps_its_best_sample_that_no_earlier_filling_kept():
    pools = [fill_module.Pool(0, range(0, 2)), fill_module.Pool(0, range(2, 4)), fill_module.Pool(1, range(4, 6))]
    texts = ["a b", "c d", "a b", "e f", "a b", "a b"]
    assert fill_module._kept_by_others(pools, [0, 3, 4], texts, 1) == ["a b"]
    assert exact_repeats([{"infill": ["T0", "T1"][pool.template]} for pool in pools], ["a b", "a b", "a b"]) == [1]
    assert mbr_order(["x y z", "p q r s", "x y z w"])[-1] == 1


def _cli(monkeypatch, capsys, *args):
    from dlmctl.cli import main

    monkeypatch.setattr(sys, "argv", ["dlmctl", *args])
    with pytest.raises(SystemExit) as info:
        main()
    return info.value.code, capsys.readouterr()


@pytest.mark.parametrize("template, message", [
    ("The pub is cheap .", "has no blank"),
    ("___ [*]", "only blanks"),
    ("The ___ is zzyzx .", "'zzyzx'"),
    ("The [45] .", "at most 30"),
])
def test_cli_rejects_bad_templates_with_exit_code_2(tiny_model_dir, monkeypatch, capsys, template, message):
    code, out = _cli(monkeypatch, capsys, "infill", template, "--model", str(tiny_model_dir))
    assert code == 2
    assert message in out.err and out.err.startswith("error: ") and not out.out


def test_cli_fills_and_prints_json(tiny_model_dir, monkeypatch, capsys):
    from dlmctl.cli import main

    monkeypatch.setattr(sys, "argv", ["dlmctl", "infill", "The ___ is a [2] .", "--model", str(tiny_model_dir),
                                      "-n", "3", "--steps", "20", "--mbr", "2", "--json"])
    main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line in lines:
        record = json.loads(line)
        words = tokenize(record["text"])
        assert words[0] == "The" and words[2:4] == ["is", "a"] and words[-1] == "." and len(words) == 7
        assert [len(f) for f in record["fills"]] == [1, 2]


def test_cli_takes_one_way_of_choosing_among_samples(tiny_model_dir, monkeypatch, capsys):
    code, out = _cli(monkeypatch, capsys, "infill", "The ___ is a [2] .", "--model", str(tiny_model_dir),
                     "--mbr", "4", "--candidates", "4")
    assert code == 2 and "give one of them" in out.err
    from dlmctl_infill.fill import selection

    assert selection(None, None) == (4, 1)          # default: MBR over 4 samples
    assert selection(None, 8) == (1, 8)             # --candidates alone: best of 8 by the model's loss
    assert selection(1, None) == (1, 1)             # --mbr 1: one sample
