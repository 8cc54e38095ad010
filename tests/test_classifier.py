"""Classifier-guided controls (pos, tree, span, semantic) on the tiny model: classifier training,
target validation, guidance and discovery through entry points."""

import json
import shutil
import subprocess
import sys

import pytest
import torch

from dlmctl import defaults
from dlmctl.checkpoint import load_model
from dlmctl.classifiers.network import LatentClassifier, encoder_config
from dlmctl.classifiers.training import (TrainOptions, loss_and_correct, model_times, noise_levels, noisy_latents,
                                         sample_times, train_classifier)
from dlmctl.errors import ModelError, PluginError, TargetError, UsageError
from dlmctl.generation import guidance_schedule
from dlmctl.hookspecs import hookimpl
from dlmctl.plugins import PluginHost
from dlmctl.sampling import Sampler, SamplerConfig
from dlmctl.testing import generate_texts
from dlmctl.vocab import tokenize

SMALL = dict(steps=100, batch_size=32, hidden=32, layers=1, show_progress=False)


@pytest.fixture(scope="session")
def controls():
    host = PluginHost()
    return host.controls()


@pytest.fixture(scope="session")
def trained(tiny_model_dir, small_corpus, controls, tmp_path_factory):
    """A copy of the tiny model with small pos, syntax and semantic classifiers."""
    model_dir = tmp_path_factory.mktemp("tiny-with-controls") / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    model = load_model(model_dir)
    metrics = {name: controls[name].train(model, model_dir, data=str(small_corpus), **SMALL)
               for name in ("semantic", "pos", "tree")}
    return model, metrics


def test_controls_are_discovered_through_entry_points():
    host = PluginHost()
    controls = host.controls()
    for name in ("pos", "tree", "span", "semantic"):
        assert name in controls and controls[name].needs_classifier
    distributions = {c: i.distribution for i in host.plugin_infos() for c in i.controls}
    assert distributions["pos"] == "dlmctl-pos"
    assert distributions["tree"] == distributions["span"] == "dlmctl-syntax"
    assert distributions["semantic"] == "dlmctl-semantic"
    assert "contradiction" in host.critics()
    assert {c: i.distribution for i in host.plugin_infos() for c in i.critics}["contradiction"] == "dlmctl-semantic"


def test_missing_classifier_names_the_command_to_run(tiny_model_dir, controls, tmp_path):
    shutil.copytree(tiny_model_dir, tmp_path / "m")
    model = load_model(tmp_path / "m")
    with pytest.raises(ModelError, match=r"no classifier for control 'span'.*dlmctl train-control span --model"):
        controls["span"].parse_target("0,1,NP", model)


def test_classifier_loss_goes_down_on_noisy_latents(tiny_model, small_corpus):
    from dlmctl_semantic import FIELDS
    from dlmctl_semantic.head import FieldHead
    from dlmctl_semantic.meaning import read_corpus

    rows = read_corpus(small_corpus)
    values = {f: ["none", *sorted({mr[f] for _, mr in rows if f in mr})] for f in FIELDS}
    ids = tiny_model.vocab.encode_batch([tokenize(text) for text, _ in rows], tiny_model.config.seq_len)
    labels = torch.tensor([[values[f].index(mr.get(f, "none")) for f in FIELDS] for _, mr in rows])
    cfg = encoder_config(tiny_model, hidden=32, layers=1)
    net = LatentClassifier(cfg, FieldHead(32, [len(values[f]) for f in FIELDS]))
    gen = torch.Generator().manual_seed(0)
    t = sample_times(noise_levels(tiny_model), len(ids), 1.0, gen)     # clean inputs
    x = noisy_latents(tiny_model, ids, t, gen)
    before, _, _ = loss_and_correct(net(x, model_times(t)), labels)
    metrics = train_classifier(tiny_model, net, ids, labels, TrainOptions(steps=150, batch_size=64),
                               show_progress=False)
    after, _, _ = loss_and_correct(net(x, model_times(t)), labels)
    assert after < 0.7 * before
    assert metrics["accuracy"]["clean"] > metrics["accuracy"]["t=199"]


def test_training_reports_accuracy_per_noise_level(trained):
    model, metrics = trained
    for name, m in metrics.items():
        levels = list(m["accuracy"])
        assert levels[0] == "clean" and len(levels) >= 4, name
        # nearly clean latents are easier to classify than pure noise
        assert m["accuracy"]["clean"] >= m["accuracy"][levels[-1]], name
    # null chart cells dominate: constituents alone are harder than all cells
    assert metrics["tree"]["accuracy_labelled"]["clean"] < metrics["tree"]["accuracy"]["clean"]
    assert "accuracy_labelled" in metrics["semantic"] and "accuracy_labelled" not in metrics["pos"]
    files = sorted(p.name for p in (model.model_dir / "controls").iterdir())
    assert files == ["pos.json", "pos.safetensors", "semantic.json", "semantic.safetensors",
                     "syntax.json", "syntax.safetensors"]


@pytest.mark.parametrize("name, target, message", [
    ("pos", "DET FOO NOUN", r"unknown tag 'FOO'.*PROPN"),
    ("pos", "", r"empty tag sequence"),
    ("pos", " ".join(["NOUN"] * 40), r"40 tags do not fit"),
    ("tree", "(S (NP (DET a) (NOUN pub))", r"unbalanced brackets.*bracketed tree"),
    ("tree", "(S (QQ (DET a) (NOUN pub)))", r"unknown constituent label 'QQ'"),
    ("span", "3,40,NP", r"beyond the sentence.*at most 30 words"),
    ("span", "3-4 NP", r"not a span; expected i,j,LABEL"),
    ("span", "4,2,NP", r"need 0 ≤ i ≤ j"),
    ("semantic", "cuisine=Italian", r"unknown field 'cuisine'; known fields: name, eatType"),
    ("semantic", "food=Martian", r"unknown value 'Martian' for food; known values: Chinese, English"),
    ("semantic", "Italian", r"not field=value"),
])
def test_bad_targets_name_the_expected_form(trained, controls, name, target, message):
    model, _ = trained
    with pytest.raises(TargetError, match=message):
        controls[name].parse_target(target, model)


def test_targets_parse(trained, controls):
    model, _ = trained
    assert controls["semantic"].parse_target("customer rating=HIGH; food=chinese", model) == (
        ("customer rating", "high"), ("food", "Chinese"))
    assert controls["span"].parse_target("1, 3, NP", model).span == (1, 3, "NP")
    assert controls["pos"].parse_target("DET NOUN PUNCT", model).tags == ("DET", "NOUN", "PUNCT")


class _OnePlugin:
    def __init__(self, control):
        self.control = control

    @hookimpl
    def register_controls(self, register):
        register(self.control)


def _target_log_prob(control, model, targets, texts):
    """The classifier's log p(target | clean latents of the generated words) per text."""
    net, _ = control.classifier(model)
    guidance = control.guidance(model, targets)
    ids = model.vocab.encode_batch([t.split() for t in texts], model.config.seq_len)
    t = torch.zeros(len(texts), dtype=torch.long)
    return guidance.log_prob(model.embeddings.detach()[ids], t)


@pytest.mark.parametrize("name, target", [("pos", "DET NOUN AUX ADJ PUNCT")])
def test_guidance_moves_samples_toward_the_target(trained, controls, name, target):
    model, _ = trained
    control = type(controls[name])(**({"length_bias": False} if name == "pos" else {}))
    host = PluginHost(entry_points=False)
    host.register(_OnePlugin(control), "test-plugin")
    sampler = SamplerConfig(steps=40)
    n = 12
    parsed = [control.parse_target(target, model)] * n
    guided = generate_texts(model, [{name: target}] * n, sampler=sampler, weights={name: 1e-3}, host=host,
                            show_progress=False)
    plain = generate_texts(model, [{}] * n, sampler=sampler, host=host, show_progress=False)
    gain = _target_log_prob(control, model, parsed, guided).mean() - _target_log_prob(control, model, parsed, plain).mean()
    assert gain > 1.0


def test_a_run_takes_the_guidance_schedule_all_its_classifier_controls_ask_for(trained, controls, monkeypatch):
    """Guidance settings left unset follow the schedule the run's classifier controls agree on
    (pos asks for a fresh gradient every 2nd guided step, guided to the end, semantic for
    sentence-normalised steps, tree for no teacher), else the defaults, not a mix; a run without
    classifier controls follows the others' (length: one round of repair); an explicit setting wins."""
    pos, semantic = controls["pos"], controls["semantic"]
    assert guidance_schedule([]) == guidance_schedule([controls["keywords"]]) == {}
    assert guidance_schedule([controls["length"]]) == guidance_schedule([controls["length"], controls["keywords"]]) \
        == {"repair": 1}
    assert guidance_schedule([pos, controls["length"]]) == {"guide_every": 2, "guided_share": 1.0}
    assert guidance_schedule([semantic]) == {"guide_norm": "sentence"}
    assert guidance_schedule([controls["tree"]]) == {"teacher_weight": 0.0}
    assert guidance_schedule([pos, semantic]) == guidance_schedule([pos, controls["tree"]]) == {}
    assert SamplerConfig(guide_steps=3).filled({"guide_steps": 2, "guide_every": 2}) == SamplerConfig(
        guide_steps=3, guide_lr=defaults.GUIDE_LR, guide_every=2, guide_norm=defaults.GUIDE_NORM,
        guided_share=defaults.GUIDED_SHARE, repel=defaults.REPEL, teacher_weight=defaults.TEACHER_WEIGHT,
        repair=defaults.REPAIR)
    model, _ = trained
    computed = []
    gradient = Sampler.classifier_gradient
    monkeypatch.setattr(Sampler, "classifier_gradient", staticmethod(
        lambda *args: computed.append(1) or gradient(*args)))
    calls, texts = {}, {}
    for every in (None, 2, 1):
        computed.clear()
        texts[every] = generate_texts(model, [{"pos": "DET NOUN AUX ADJ PUNCT"}] * 2, seed=1, candidates=1,
                                      sampler=SamplerConfig(steps=10, guide_every=every), show_progress=False)
        calls[every] = len(computed)
    assert calls == {None: 5, 2: 5, 1: 9}           # pos guides chain steps 9..1; every 2nd: 9, 7, 5, 3, 1
    assert texts[None] == texts[2]


def test_a_control_asking_for_an_unknown_guidance_setting_is_named(controls):
    class Odd(type(controls["pos"])):
        guidance_schedule = {"guide_step": 2}

    class Odder(type(controls["pos"])):
        guidance_schedule = {"guide_norm": "row"}

    with pytest.raises(PluginError, match="control 'pos' asks for an unknown guidance setting 'guide_step'"):
        guidance_schedule([Odd()])
    with pytest.raises(PluginError, match="control 'pos' asks for guide_norm 'row' \\(one of: coordinate, sentence\\)"):
        guidance_schedule([Odder()])
    for bad in (-1, "far", float("nan")):
        class Pushy(type(controls["pos"])):
            guidance_schedule = {"repel": bad}

        with pytest.raises(PluginError, match="control 'pos' asks for repel .* \\(a number, 0 or more\\)"):
            guidance_schedule([Pushy()])

        class Wordy(type(controls["pos"])):
            guidance_schedule = {"teacher_weight": bad}

        with pytest.raises(PluginError, match="control 'pos' asks for teacher_weight .* \\(a number, 0 or more\\)"):
            guidance_schedule([Wordy()])

        class Mending(type(controls["pos"])):
            guidance_schedule = {"repair": bad}

        with pytest.raises(PluginError, match="control 'pos' asks for repair .* \\(a whole number of rounds, 0 or more\\)"):
            guidance_schedule([Mending()])

        class Endless(type(controls["pos"])):
            guidance_schedule = {"guided_share": bad}

        with pytest.raises(PluginError, match="control 'pos' asks for guided_share .* \\(a number from 0 to 1\\)"):
            guidance_schedule([Endless()])


def test_train_control_rejects_a_control_without_classifier(tiny_model_dir, small_corpus):
    result = subprocess.run([sys.executable, "-c", "from dlmctl.cli import main; main()", "train-control",
                             "length", "--model", str(tiny_model_dir), "--data", str(small_corpus)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "control 'length' has no classifier to train" in result.stderr


@pytest.mark.parametrize("name, target", [("semantic", "area=riverside"), ("tree", "(S (NP (DET *) (NOUN *)) (VP (AUX *)))"),
                                          ("span", "0,1,NP"), ("pos", "DET NOUN")])
def test_guidance_pushes_only_rows_with_a_target(trained, controls, name, target):
    model, _ = trained
    control = controls[name]
    guidance = control.guidance(model, [control.parse_target(target, model), None])
    x = torch.randn(2, model.config.seq_len, model.config.embed_dim, requires_grad=True)
    t = torch.tensor([100, 100])
    log_prob = guidance.log_prob(x, t)
    assert log_prob.shape == (2,) and log_prob[0] < 0 and log_prob[1] == 0
    log_prob.sum().backward()
    assert x.grad[0].abs().sum() > 0 and x.grad[1].abs().sum() == 0


def test_semantic_holds_the_words_of_each_value_but_leaves_family_friendly_to_its_classifier(trained, controls):
    from dlmctl_semantic import SemanticControl
    from dlmctl_semantic.meaning import mentions, value_words

    assert value_words("near", "Raja Indian Cuisine") == ["raja", "indian", "cuisine"]
    assert value_words("priceRange", "moderate") == ["moderate", "price", "range"]   # the price, not any "moderate"
    assert value_words("familyFriendly", "yes") is None
    assert all(mentions(" ".join(value_words(f, v)), f, v) for f, v in
               [("priceRange", "moderate"), ("customer rating", "high"), ("priceRange", "less than £20")])
    model, _ = trained
    control = controls["semantic"]
    targets = [control.parse_target("area=riverside; familyFriendly=yes", model), None]
    guidance = control.guidance(model, targets)
    scores = torch.zeros(2, model.config.seq_len, len(model.vocab))
    held = guidance.word_bias(scores)
    riverside = [i for i, w in enumerate(model.vocab.words) if w.lower() == "riverside"]
    assert held[0].nonzero()[:, 1].tolist() in ([i] for i in riverside) and not held[1].any()
    assert SemanticControl(hold_values=False).guidance(model, targets).word_bias is None


def _pushed_where_every_chain_takes(guidance, model, rows: int, position: int, word: int) -> torch.Tensor:
    """The guidance's word bias (rows, L, V) for scores where every chain's best word at
    ``position`` is ``word``."""
    words = torch.zeros(rows, model.config.seq_len, len(model.vocab))
    words[:, position, word] = 5.0
    return guidance.word_bias(words)


def test_pos_keeps_the_chains_of_one_target_apart_at_the_clamp(trained, controls):
    """A word loses push_apart nats times the share of the chain's siblings (other chains of the same
    tag sequence) whose best word there it is; chains of other targets and rows without one are
    left alone."""
    from dlmctl.biases import apart_from_siblings, sibling_share
    from dlmctl_pos import PosControl

    share = sibling_share(["a", "a", "b", None, "a"])
    assert share.tolist()[0] == [0, 0.5, 0, 0, 0.5] and not share[2:4].any()
    scores = torch.zeros(5, 2, 4)
    scores[[0, 1, 4], 0, 3] = 1.0           # chains 0, 1, 4 (target "a") all take word 3 at position 0
    scores[2, 0, 3] = 1.0
    bias = apart_from_siblings(scores, share, 2.0)
    assert bias[0, 0].tolist() == [0, 0, 0, -2.0] and bias[1, 0, 3] == -2.0
    assert not bias[2:4].any()              # target "b" has no siblings, None none
    assert bias[0, 1].tolist() == [-2.0, 0, 0, 0]   # position 1: both siblings take word 0 (argmax of zeros)

    model, _ = trained
    target = controls["pos"].parse_target("DET NOUN PUNCT", model)
    pushed = _pushed_where_every_chain_takes(controls["pos"].guidance(model, [target, target, None]), model, 3, 1, 7)
    assert pushed[0, 1, 7] == pushed[1, 1, 7] == -controls["pos"].push_apart and not pushed[2].any()
    assert PosControl(push_apart=0).guidance(model, [target, target]).word_bias is None


def test_tree_keeps_the_chains_of_one_tree_apart_and_span_does_not(trained, controls):
    from dlmctl_syntax import TreeControl

    model, _ = trained
    tree = controls["tree"].parse_target("(S (NP (DET The) (NOUN pub)) (PUNCT .))", model)
    other = controls["tree"].parse_target("(S (NP (NOUN pub)) (PUNCT .))", model)
    pushed = _pushed_where_every_chain_takes(controls["tree"].guidance(model, [tree, tree, other]), model, 3, 2, 5)
    assert pushed[0, 2, 5] == pushed[1, 2, 5] == -controls["tree"].push_apart and not pushed[2].any()
    assert TreeControl(push_apart=0).guidance(model, [tree, tree]).word_bias is None
    assert controls["span"].guidance(model, [controls["span"].parse_target("0,1,NP", model)] * 2).word_bias is None


def test_semantic_samples_mention_a_held_value(trained):
    from dlmctl_semantic.meaning import mentions

    model, _ = trained
    texts = generate_texts(model, [{"semantic": "area=riverside"}] * 4, sampler=SamplerConfig(steps=20),
                           show_progress=False)
    assert all(mentions(text, "area", "riverside") for text in texts)


def test_classifier_is_refused_for_retrained_embeddings_but_not_for_rounding_drift(trained, controls):
    model, _ = trained
    drifted = load_model(model.model_dir)
    drifted.denoiser.embed.weight.data += 1e-6           # what an EMA of frozen weights adds
    assert controls["pos"].parse_target("DET NOUN", drifted).tags == ("DET", "NOUN")
    retrained = load_model(model.model_dir)
    retrained.denoiser.embed.weight.data += 0.02 * torch.randn_like(retrained.embeddings)
    with pytest.raises(ModelError, match="trained for other embeddings.*dlmctl train-control pos"):
        controls["pos"].parse_target("DET NOUN", retrained)


def test_span_samples_reach_past_the_span_unless_a_length_is_given(trained, controls):
    """A span target over words i..j needs a sentence of at least j + 1 words: the span control
    draws such a size for each sample (even at a λ too weak to move the classifier); an explicit
    length control overrides it."""
    model, _ = trained
    sampler = SamplerConfig(steps=20)
    texts = generate_texts(model, [{"span": "14,16,NP"}] * 6, sampler=sampler, weights={"span": 1e6},
                           show_progress=False)
    sizes = [len(tokenize(text)) for text in texts]
    assert min(sizes) >= 17 and len(set(sizes)) > 1
    plain = generate_texts(model, [{}] * 6, sampler=sampler, show_progress=False)
    assert any(len(tokenize(text)) < 17 for text in plain)   # else the assertion above proves nothing
    both = generate_texts(model, [{"span": "14,16,NP", "length": "20"}] * 3, sampler=sampler, show_progress=False)
    assert [len(tokenize(text)) for text in both] == [20] * 3


def test_crossing_spans_are_exactly_those_that_cannot_coexist_with_the_target():
    from dlmctl_syntax import crossing_spans

    i, j, size = 2, 4, 8
    crossing = set(crossing_spans((i, j, "NP"), size))
    for a in range(size):
        for b in range(a, size):
            nested = (i <= a and b <= j) or (a <= i and j <= b) or b < i or a > j
            assert ((a, b) in crossing) == (not nested), (a, b)


@pytest.mark.parametrize("name, target", [("pos", "DET NOUN AUX ADJ PUNCT"), ("span", "1,2,NP")])
def test_candidates_are_chosen_by_loss_and_by_the_control_classifier(trained, name, target):
    """``generate`` keeps what the selection keys pick from the same pool of finished candidates
    (``prune_at=1``): by the rank sum for pos, by the classifier first for span
    (``rank_by_classifier``), without repeats."""
    from dlmctl.generation import MAX_OVERLAP, prepare_controls, target_log_prob
    from dlmctl.rerank import denoising_loss, pick_distinct, selection_keys
    from dlmctl.sampling import WeightedGuidance
    model, _ = trained
    sampler = SamplerConfig(steps=20)
    request = {name: target}
    pool = generate_texts(model, [request] * 24, sampler=sampler, seed=3, show_progress=False)
    chosen = generate_texts(model, [request] * 6, sampler=sampler, seed=3, show_progress=False, candidates=4,
                            prune_at=1.0)
    prepared = prepare_controls(model, [request] * 24)
    control = prepared.controls[name]
    guidance = [WeightedGuidance(control.guidance(model, [row[name] for row in prepared.targets]),
                                 prepared.weights[name])]
    ids = model.vocab.encode_batch([tokenize(t) for t in pool], model.config.seq_len)
    on_target = target_log_prob(model, guidance, ids)
    loss = denoising_loss(model, ids)
    order = selection_keys(loss, on_target, control.rank_by_classifier).argsort(stable=True).tolist()
    picked = pick_distinct(order, pool, 6, MAX_OVERLAP)
    assert chosen == [pool[i] for i in picked]
    assert on_target[picked].mean() >= on_target.mean()


def test_warm_start_goes_on_from_the_saved_classifier(trained, controls, small_corpus, tmp_path):
    """``--warm-start`` trains the saved weights further (a few more steps keep what the first run
    learnt, where as many steps from scratch do not) and records the steps it had had."""
    model, metrics = trained
    shutil.copytree(model.model_dir, tmp_path / "m")
    copy = load_model(tmp_path / "m")
    pos = controls["pos"]
    net, meta = pos.warm_start(copy)
    saved, _ = pos.classifier(copy)
    assert all(p.requires_grad for p in net.parameters()) and net.training
    assert all(torch.equal(a, b) for a, b in zip(net.state_dict().values(), saved.state_dict().values()))
    few = dict(SMALL, steps=10, lr=1e-4)
    warm = pos.train(copy, tmp_path / "m", data=str(small_corpus), warm_start=True, **few)
    fresh = pos.train(load_model(tmp_path / "m"), tmp_path / "m", data=str(small_corpus), **few)
    assert warm["accuracy"]["clean"] > fresh["accuracy"]["clean"] + 0.1
    assert warm["accuracy"]["clean"] >= metrics["pos"]["accuracy"]["clean"] - 0.05
    pos.train(copy, tmp_path / "m", data=str(small_corpus), warm_start=True, **few)
    recorded = json.loads((tmp_path / "m" / "controls" / "pos.json").read_text())["metrics"]
    assert recorded["steps"] == 10 and recorded["earlier_steps"] == 10     # went on from the fresh run
    with pytest.raises(UsageError, match="learnt spacy's labels, not stanza's"):
        pos.train(copy, tmp_path / "m", data=str(small_corpus), warm_start=True, annotator="stanza", **few)


def test_train_control_warm_start_keeps_the_saved_size(trained, small_corpus):
    model, _ = trained
    result = subprocess.run([sys.executable, "-c", "from dlmctl.cli import main; main()", "train-control",
                             "pos", "--model", str(model.model_dir), "--data", str(small_corpus),
                             "--warm-start", "--hidden", "64"], capture_output=True, text=True)
    assert result.returncode == 2
    assert "--warm-start goes on with the saved classifier's size" in result.stderr


def test_the_old_classifier_module_still_imports_with_a_deprecation_warning():
    import importlib
    import sys

    sys.modules.pop("dlmctl.classifier", None)
    with pytest.warns(DeprecationWarning, match="dlmctl.classifier is deprecated"):
        old = importlib.import_module("dlmctl.classifier")
    from dlmctl.classifiers import ClassifierControl

    assert old.ClassifierControl is ClassifierControl and callable(old.train_classifier)


def test_contradictions_are_two_values_of_one_field_or_friendly_both_ways():
    from dlmctl_semantic.meaning import contradictions, value_phrases

    phrases = value_phrases({"name": ["none", "The Punter", "The Mill"], "near": ["none", "Raja Indian Cuisine"],
                             "food": ["none", "Indian", "Chinese"], "area": ["none", "riverside", "city centre"],
                             "priceRange": ["none", "cheap", "high"], "familyFriendly": ["none", "yes", "no"]})
    assert contradictions("The Punter is in riverside . It is in the city centre .", phrases) == \
        ["area: riverside, city centre"]
    assert contradictions("The Punter , near Raja Indian Cuisine , serves Chinese food .", phrases) == []
    assert contradictions("The Mill is cheap and in the high price range .", phrases) == ["priceRange: cheap, high"]
    assert contradictions("The Mill serves Indian food . The Punter is near Raja Indian Cuisine .", phrases) == \
        ["name: The Mill, The Punter"]
    assert contradictions("It is kid friendly and not family - friendly .", phrases) == ["familyFriendly: yes, no"]
    assert contradictions("It is not family - friendly .", phrases) == []


def test_the_contradiction_critic_judges_a_model_with_a_semantic_classifier_only(trained, tiny_model):
    """It reads each field's values from the model's semantic classifier; without one it finds nothing."""
    from dlmctl_semantic.meaning import FIELDS

    model, _ = trained
    critic = PluginHost().critics()["contradiction"]
    values = critic.phrases(model)
    assert values and {field for _, field, _ in values} <= set(FIELDS)
    area = sorted({value for _, field, value in values if field == "area"})
    assert len(area) == 2, "the small corpus names both areas"
    texts = [f"It is in the {area[0]} . It is in the {area[1]} .", f"It is in the {area[0]} ."]
    flaws = critic.flaws(model, texts)
    assert len(flaws[0]) == 1 and flaws[0][0].startswith("area: ") and flaws[1] == []
    assert critic.flaws(tiny_model, texts) == [[], []]
