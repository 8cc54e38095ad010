import shutil

import pytest
import torch

from dlmctl import sampling
from dlmctl.fluency import next_word_bias, previous_word_bias
from dlmctl.testing import generate_texts
from dlmctl.sampling import Sampler, SamplerConfig
from dlmctl.teacher import model_teacher
from dlmctl.vocab import tokenize

FAST = SamplerConfig(steps=40)


def test_sampling_is_deterministic_per_seed(tiny_model):
    a = generate_texts(tiny_model, [{}] * 4, sampler=FAST, seed=1, show_progress=False)
    b = generate_texts(tiny_model, [{}] * 4, sampler=FAST, seed=1, show_progress=False)
    c = generate_texts(tiny_model, [{}] * 4, sampler=FAST, seed=2, show_progress=False)
    assert a == b
    assert a != c


def test_clamped_steps_stay_in_vocabulary(tiny_model):
    sampler = Sampler(tiny_model, FAST)
    steps = list(sampler.steps(3, generator=torch.Generator().manual_seed(0)))
    assert [s.index for s in steps] == list(range(sampler.chain.num_steps - 1, -1, -1))
    for step in steps:
        assert step.tokens.shape == (3, tiny_model.config.seq_len)
        assert int(step.tokens.min()) >= 0 and int(step.tokens.max()) < len(tiny_model.vocab)
    # the last latents are exactly the embeddings of the last clamped words
    assert torch.allclose(steps[-1].x, tiny_model.embeddings[steps[-1].tokens], atol=1e-5)


def test_length_control_hits_its_target_far_more_often_than_unguided(tiny_model):
    n, target = 24, 9
    guided = generate_texts(tiny_model, [{"length": str(target)}] * n, sampler=FAST, show_progress=False)
    unguided = generate_texts(tiny_model, [{}] * n, sampler=FAST, show_progress=False)
    hit = lambda texts: sum(len(tokenize(t)) == target for t in texts) / n
    assert hit(guided) == 1.0
    assert hit(unguided) < 0.5
    assert all("<pad>" not in t and "</s>" not in t for t in guided)


def test_temperature_scales_the_noise_added_per_step(tiny_model):
    """x_{t-1} = μ + τσε: with the same seed the first step's latents are linear in τ."""
    first = {}
    for tau in (1.0, 0.75, 0.5):
        steps = Sampler(tiny_model, SamplerConfig(steps=10, temperature=tau)).steps(2, generator=torch.Generator().manual_seed(0))
        first[tau] = next(steps).x
    assert torch.allclose(first[1.0] - first[0.75], first[0.75] - first[0.5], atol=1e-5)
    assert not torch.allclose(first[1.0], first[0.5])


def test_self_conditioning_reads_the_words_a_token_bias_imposed(tiny_model):
    """Where the bias overrules the model's nearest word, the next step's self-conditioning input is
    that word's embedding; elsewhere it is the model's own estimate."""
    sampler = Sampler(tiny_model, FAST)
    x0 = torch.randn(2, tiny_model.config.seq_len, tiny_model.config.embed_dim)
    free = sampler.snap(x0, None)
    bias = torch.zeros(2, tiny_model.config.seq_len, len(tiny_model.vocab))
    bias[0, 3, free[0, 3]] = float("-inf")                     # row 0, position 3: not the nearest word
    tokens = sampler.snap(x0, bias)
    out = sampler.constrained(x0, tokens, tiny_model.embeddings[tokens])
    assert tokens[0, 3] != free[0, 3]
    assert torch.equal(out[0, 3], tiny_model.embeddings[tokens[0, 3]])
    keep = torch.ones(2, tiny_model.config.seq_len, dtype=torch.bool)
    keep[0, 3] = False
    assert torch.equal(out[keep], x0[keep])


def test_a_word_bias_sees_each_steps_scores_with_the_token_biases_and_the_clamp_obeys_it(tiny_model):
    """Every step calls ``word_bias`` with that step's word scores plus the fixed token bias; what
    it returns is added before the clamp takes its word."""
    from dlmctl.control import Guidance
    from dlmctl.sampling import WeightedGuidance

    length, vocab = tiny_model.config.seq_len, len(tiny_model.vocab)
    forbidden, held = 5, 7
    fixed = torch.zeros(2, length, vocab)
    fixed[:, :, forbidden] = float("-inf")
    seen = []

    def word_bias(scores):
        seen.append(scores)
        bias = torch.zeros_like(scores)
        bias[:, 2, held] = 1e4
        return bias

    terms = [WeightedGuidance(Guidance(token_bias=fixed), 1.0), WeightedGuidance(Guidance(word_bias=word_bias), 1.0)]
    sampler = Sampler(tiny_model, FAST)
    steps = list(sampler.steps(2, terms, torch.Generator().manual_seed(0)))
    assert len(seen) == len(steps)
    assert all(torch.isinf(scores[:, :, forbidden]).all() for scores in seen)
    assert all((step.tokens[:, 2] == held).all() and (step.tokens != forbidden).all() for step in steps)


def test_the_chain_keeps_its_guided_share_whole_and_strides_the_rest(tiny_model):
    even = tiny_model.diffusion.respaced(20).timesteps
    for stride, kept in ((1, list(range(20))), (2, [0, 2, 4, 6, 8, *range(10, 20)]),
                         (4, [0, 4, 8, *range(10, 20)])):
        sampler = Sampler(tiny_model, SamplerConfig(steps=20, guided_share=0.5, tail_stride=stride))
        assert torch.equal(sampler.chain.timesteps, even[kept]), stride
        # the same ᾱ at every kept step as on the even chain
        assert torch.allclose(sampler.chain.alphas_cumprod, tiny_model.diffusion.respaced(20).alphas_cumprod[kept])
    everything = Sampler(tiny_model, SamplerConfig(steps=20, guided_share=1.0, tail_stride=4))
    assert torch.equal(everything.chain.timesteps, even)


def test_a_share_of_the_chain_ends_at_the_same_step_however_the_tail_is_strided(tiny_model):
    even = Sampler(tiny_model, SamplerConfig(steps=20, guided_share=0.5, tail_stride=1))
    strided = Sampler(tiny_model, SamplerConfig(steps=20, guided_share=0.5, tail_stride=4))   # kept: 0 4 8 10…19
    assert [even.index_after(s) for s in (0.3, 0.5, 0.7, 1.0)] == [14, 10, 6, 0]
    assert [strided.index_after(s) for s in (0.3, 0.5, 0.7, 1.0)] == [7, 3, 2, 0]      # 0.7: step 6 is not kept, 8 is
    for s in (0.3, 0.5):
        assert strided.chain.timesteps[strided.index_after(s)] == even.chain.timesteps[even.index_after(s)]


def test_a_strided_tail_samples_fewer_steps_to_the_same_end(tiny_model):
    sampler = Sampler(tiny_model, SamplerConfig(steps=20, guided_share=0.5, tail_stride=2))
    steps = list(sampler.steps(2, generator=torch.Generator().manual_seed(0)))
    assert len(steps) == 15 and steps[-1].index == 0
    assert torch.allclose(steps[-1].x, tiny_model.embeddings[steps[-1].tokens], atol=1e-5)


def test_guidance_runs_in_the_guided_share_of_the_chain_only(tiny_model):
    from dlmctl.control import Guidance
    from dlmctl.sampling import WeightedGuidance

    calls = []

    def log_prob(x, t):
        calls.append(int(t[0]))
        return -(x ** 2).sum((1, 2))

    term = [WeightedGuidance(Guidance(log_prob=log_prob), 1.0)]
    for share, stride, guided in ((0.5, 1, 5), (0.5, 2, 5), (1.0, 2, 9), (0.0, 1, 0)):
        calls.clear()
        sampler = Sampler(tiny_model, SamplerConfig(steps=10, guide_steps=2, guided_share=share, tail_stride=stride,
                                                    guide_every=1))
        list(sampler.steps(2, term, torch.Generator().manual_seed(0)))
        assert len(calls) == 2 * guided, share        # K = 2 gradient steps per guided denoising step


def test_the_classifiers_gradient_is_reused_between_the_steps_that_compute_it(tiny_model):
    from dlmctl.control import Guidance
    from dlmctl.sampling import WeightedGuidance

    times = []

    def log_prob(x, t):
        times.append(int(t[0]))
        return -((x - 1) ** 2).sum((1, 2))

    term = [WeightedGuidance(Guidance(log_prob=log_prob), 1.0)]
    chains = {}
    for every in (1, 3):
        times.clear()
        sampler = Sampler(tiny_model, SamplerConfig(steps=10, guided_share=0.6, tail_stride=1, guide_every=every))
        chains[every] = list(sampler.steps(2, term, torch.Generator().manual_seed(0)))
        guided = sampler.chain.model_time(torch.arange(8, 2, -1)).tolist()     # chain steps 9..4 guide, at t − 1
        assert times == (guided if every == 1 else guided[::3]), every
    # a reused gradient still pulls: the latents differ from an unguided chain's from the first step on
    plain = list(Sampler(tiny_model, SamplerConfig(steps=10, guided_share=0.6, tail_stride=1)).steps(
        2, (), torch.Generator().manual_seed(0)))
    assert not torch.allclose(chains[3][1].x, plain[1].x)
    assert not torch.allclose(chains[3][1].x, chains[1][1].x)       # step 8 reused step 9's gradient


def test_a_sentence_wide_accumulator_keeps_the_gradients_direction(tiny_model):
    """One guidance step: per coordinate (Adagrad) every coordinate moves by the learning rate,
    whatever its gradient; per sentence the step is the gradient scaled to that root mean square."""
    from dlmctl.control import Guidance
    from dlmctl.sampling import WeightedGuidance

    shape = (2, tiny_model.config.seq_len, tiny_model.config.embed_dim)
    pull = torch.randn(shape, generator=torch.Generator().manual_seed(0))
    term = [WeightedGuidance(Guidance(log_prob=lambda x, t: (x * pull).sum((1, 2))), 1.0)]
    x = mean = torch.zeros(shape)
    std, t = torch.ones(2, 1, 1), torch.tensor([5, 5])
    moved = {}
    for norm in ("coordinate", "sentence"):
        sampler = Sampler(tiny_model, SamplerConfig(steps=10, guide_steps=1, guide_lr=0.1, guide_norm=norm))
        moved[norm], _ = sampler._guide(x, mean, std, t, term, None)
    assert torch.allclose(moved["coordinate"], 0.1 * pull.sign())
    scale = 0.1 / pull.pow(2).mean((1, 2), keepdim=True).sqrt()
    assert torch.allclose(moved["sentence"], scale * pull, atol=1e-6)


def test_a_guided_chain_resumed_from_any_step_ends_where_the_unbroken_chain_ends(tiny_model):
    from dlmctl.control import Guidance
    from dlmctl.sampling import WeightedGuidance

    term = [WeightedGuidance(Guidance(log_prob=lambda x, t: -((x - 1) ** 2).sum((1, 2))), 1.0)]
    sampler = Sampler(tiny_model, SamplerConfig(steps=10, guided_share=0.8, guide_every=3))
    whole = list(sampler.steps(2, term, torch.Generator().manual_seed(0)))
    generator = torch.Generator().manual_seed(0)
    first = list(sampler.steps(2, term, generator, stop=5))          # stops between two computed gradients
    rest = list(sampler.steps(2, term, generator, resume=first[-1]))
    assert torch.equal(rest[-1].x, whole[-1].x) and torch.equal(rest[-1].tokens, whole[-1].tokens)


def test_a_chain_stopped_and_resumed_ends_where_the_unbroken_chain_ends(tiny_model):
    sampler = Sampler(tiny_model, SamplerConfig(steps=10, tail_stride=1))
    whole = list(sampler.steps(3, generator=torch.Generator().manual_seed(0)))
    generator = torch.Generator().manual_seed(0)
    first = list(sampler.steps(3, generator=generator, stop=6))
    rest = list(sampler.steps(2, generator=generator, resume=first[-1].select([0, 2]), stop=0))
    assert [s.index for s in first] == list(range(9, 5, -1)) and [s.index for s in rest] == list(range(5, -1, -1))
    assert torch.equal(first[-1].x, whole[3].x) and first[-1].index == whole[3].index
    assert rest[-1].tokens.shape == (2, tiny_model.config.seq_len)


def test_the_clamp_takes_the_best_word_or_draws_one_as_scored(tiny_model):
    scores = torch.full((1, 2, 4), -30.0)
    scores[0, 0, :2] = 0.0                                    # position 0: words 0 and 1 equally likely
    scores[0, 1, 3] = 0.0                                     # position 1: word 3 only
    scores[0, 0, 0] = torch.finfo(torch.float32).min          # a token bias forbids word 0 at position 0
    best = Sampler(tiny_model, SamplerConfig(word_temperature=0)).clamp_words(scores, None)
    assert best.tolist() == [[1, 3]]
    scores[0, 0, 0] = 0.0
    generator = torch.Generator().manual_seed(0)
    drawn = torch.cat([Sampler(tiny_model, SamplerConfig(word_temperature=1)).clamp_words(scores, generator)
                       for _ in range(400)])                  # (400, 2)
    assert 0.4 < (drawn[:, 0] == 0).float().mean() < 0.6 and set(drawn[:, 0].tolist()) == {0, 1}
    assert (drawn[:, 1] == 3).all()


def test_a_negative_word_temperature_is_refused(tiny_model):
    with pytest.raises(ValueError, match="word_temperature"):
        Sampler(tiny_model, SamplerConfig(word_temperature=-1))


@pytest.fixture(scope="module")
def taught_model(tiny_model_dir, small_corpus, tmp_path_factory):
    """The tiny model with a tiny teacher LM in its directory, trained on the same sentences and
    vocabulary (a few seconds)."""
    from dlmctl.checkpoint import load_model
    from dlmctl.corpus import tokenized
    from dlmctl.teacher import TEACHER_SUBDIR, TeacherConfig, TeacherTrainConfig, train_teacher

    out = tmp_path_factory.mktemp("taught") / "model"
    shutil.copytree(tiny_model_dir, out)
    model = load_model(out)
    torch.set_num_threads(1)
    train_teacher(tokenized(str(small_corpus), "human_reference"), model.vocab, out / TEACHER_SUBDIR,
                  TeacherConfig(len(model.vocab), seq_len=32, hidden=32, layers=1, heads=2, dropout=0.0),
                  TeacherTrainConfig(steps=200, batch_size=32, lr=5e-3, warmup=20, eval_every=200),
                  torch.device("cpu"), show_progress=False)
    return load_model(out)


def test_the_teachers_next_word_bias_lines_up_with_the_models_positions(taught_model):
    teacher = model_teacher(taught_model)
    vocab = taught_model.vocab
    tokens = torch.tensor([vocab.encode("The Eagle is a pub .".split(), 12),
                           vocab.encode("The Eagle".split(), 12)])
    tokens[1, 3:6] = torch.tensor([vocab.pad, vocab.pad, vocab.end])   # PADs before the first END
    bias = next_word_bias(teacher, tokens)
    log_probs = teacher.net(tokens).log_softmax(-1)
    assert bias.shape == (2, 12, len(vocab))
    assert (bias[:, 0] == 0).all()
    for i in range(1, 8):               # START + 6 words + END
        assert torch.allclose(bias[0, i, :vocab.pad], log_probs[0, i - 1, :vocab.pad], atol=1e-5)
        assert bias[0, i, vocab.pad] == pytest.approx(log_probs[0, i - 1, vocab.end].item(), abs=1e-5)
    assert (bias[0, 8:] == 0).all()                                 # after END
    assert (bias[1, 6:] == 0).all() and bias[1, 5].abs().sum() > 0  # after the first END only
    assert bias[1, 3, vocab.pad] == pytest.approx(log_probs[1, 2, vocab.end].item(), abs=1e-5)  # PAD as END


def test_the_teacher_weighs_in_in_the_second_half_of_the_chain_only(taught_model, monkeypatch):
    """However much of the chain is guided (pos guides all of it)."""
    seen = []
    real = sampling.next_word_bias
    monkeypatch.setattr(sampling, "next_word_bias", lambda teacher, tokens: seen.append(tokens) or real(teacher, tokens))
    for weight, share in ((0.0, 0.5), (1.0, 0.5), (1.0, 1.0)):
        seen.clear()
        sampler = Sampler(taught_model, SamplerConfig(steps=40, teacher_weight=weight, guided_share=share))
        steps = list(sampler.steps(3, generator=torch.Generator().manual_seed(0)))
        halfway = sampler.even.timesteps[20]
        second_half = [s for s in steps if sampler.chain.timesteps[s.index] < halfway]
        assert len(seen) == (len(second_half) if weight else 0) and 0 < len(second_half) < len(steps)
    assert Sampler(taught_model, SamplerConfig(steps=40, teacher_weight=0.0, repair=0)).teacher is None


def test_a_heavier_teacher_writes_sentences_the_teacher_finds_likelier(taught_model):
    teacher = model_teacher(taught_model)

    def mean_nll(weight: float) -> float:
        texts = generate_texts(taught_model, [{}] * 32, sampler=SamplerConfig(steps=40, teacher_weight=weight),
                               candidates=1, seed=3, show_progress=False)
        total, count = teacher.nll(texts)
        return (total / count).mean().item()

    assert mean_nll(3.0) < mean_nll(1.0) < mean_nll(0.0)


@pytest.fixture(scope="module")
def two_way_model(taught_model, small_corpus, tmp_path_factory):
    """The taught model with a right-to-left teacher too, in ``teacher-reverse/``."""
    from dlmctl.checkpoint import load_model
    from dlmctl.corpus import tokenized
    from dlmctl.teacher import REVERSE_TEACHER_SUBDIR, TeacherConfig, TeacherTrainConfig, train_teacher

    out = tmp_path_factory.mktemp("two-way") / "model"
    shutil.copytree(taught_model.model_dir, out)
    train_teacher(tokenized(str(small_corpus), "human_reference"), taught_model.vocab, out / REVERSE_TEACHER_SUBDIR,
                  TeacherConfig(len(taught_model.vocab), seq_len=32, hidden=32, layers=1, heads=2, dropout=0.0,
                                reverse=True),
                  TeacherTrainConfig(steps=200, batch_size=32, lr=5e-3, warmup=20, eval_every=200),
                  torch.device("cpu"), show_progress=False)
    return load_model(out)


def test_the_reverse_teachers_previous_word_bias_lines_up_with_the_models_positions(two_way_model):
    teacher = model_teacher(two_way_model, reverse=True)
    vocab = two_way_model.vocab
    sentences = ["The Eagle is a pub .".split(), "It is cheap".split()]
    tokens = torch.tensor([vocab.encode(words, 12) for words in sentences])
    tokens[1, 4:7] = torch.tensor([vocab.pad, vocab.end, tokens[0, 1]])   # a PAD ends it; a word after
    bias = previous_word_bias(teacher, tokens)
    assert bias.shape == (2, 12, len(vocab))
    for row, words in enumerate(sentences):
        n = len(words)
        nlls = teacher.word_nlls([words])[0]          # reading order: the last word first
        for i in range(1, n + 1):
            assert bias[row, i, tokens[row, i]].item() == pytest.approx(-nlls[n - i].item(), abs=1e-4)
        assert (bias[row, 0] == 0).all() and (bias[row, n + 1:] == 0).all()


def test_both_teachers_read_a_sentence_that_fills_every_position(two_way_model):
    """No END and no PAD: the model wrote a word at every position (the teachers must not stop early)."""
    vocab = two_way_model.vocab
    words = ("The Eagle is a pub . " * 2).split()[:11]
    tokens = torch.tensor([vocab.encode(words, 13)[:12]])                    # (1, 12): START w1 … w11
    forward = next_word_bias(model_teacher(two_way_model), tokens)
    log_probs = model_teacher(two_way_model).net(tokens).log_softmax(-1)
    assert torch.allclose(forward[0, 1:, :vocab.pad], log_probs[0, :-1, :vocab.pad], atol=1e-5)
    backward = previous_word_bias(model_teacher(two_way_model, reverse=True), tokens)
    nlls = model_teacher(two_way_model, reverse=True).word_nlls([words])[0]
    for i in range(1, 12):
        assert backward[0, i, tokens[0, i]].item() == pytest.approx(-nlls[11 - i].item(), abs=1e-4)


def test_the_clamp_asks_the_reverse_teacher_beside_the_forward_one(two_way_model, monkeypatch):
    calls = []
    real = sampling.previous_word_bias
    monkeypatch.setattr(sampling, "previous_word_bias", lambda teacher, tokens: calls.append(teacher) or real(teacher, tokens))
    sampler = Sampler(two_way_model, SamplerConfig(steps=40))
    list(sampler.steps(2, generator=torch.Generator().manual_seed(0)))
    assert sampler.reverse_teacher is model_teacher(two_way_model, reverse=True)
    assert calls and all(t is sampler.reverse_teacher for t in calls)
    assert Sampler(two_way_model, SamplerConfig(steps=40, teacher_weight=0.0, repair=0)).reverse_teacher is None


def test_a_forward_teacher_in_the_reverse_place_is_not_used(taught_model, tmp_path):
    from dlmctl.checkpoint import load_model
    from dlmctl.teacher import REVERSE_TEACHER_SUBDIR, TEACHER_SUBDIR

    shutil.copytree(taught_model.model_dir, tmp_path / "model")
    shutil.copytree(tmp_path / "model" / TEACHER_SUBDIR, tmp_path / "model" / REVERSE_TEACHER_SUBDIR)
    sampler = Sampler(load_model(tmp_path / "model"), SamplerConfig(steps=40))
    assert sampler.teacher is not None and sampler.reverse_teacher is None


def test_a_teacher_of_another_vocabulary_is_not_used_in_the_clamp(taught_model):
    taught_model.vocab.words.append("zyzzyva")       # the model's vocabulary no longer the teacher's
    try:
        assert Sampler(taught_model, SamplerConfig(teacher_weight=1.0)).teacher is None
    finally:
        taught_model.vocab.words.pop()


def test_a_repair_window_is_free_its_centre_word_forbidden_and_the_rest_held():
    from dlmctl.repair import HELD, hold_outside

    tokens = torch.tensor([[0, 5, 6, 7, 8, 1], [0, 5, 6, 7, 8, 1]])
    bias = hold_outside(tokens, torch.tensor([3, 1]), width=1, vocab_size=10)
    assert set(bias.unique().tolist()) == {0.0, HELD}
    for row, free in ((0, {2, 3, 4}), (1, {1, 2})):                 # START (position 0) is never free
        centre = 3 if row == 0 else 1
        for i in range(6):
            allowed = set((bias[row, i] == 0).nonzero()[:, 0].tolist())
            if i not in free:
                assert allowed == {tokens[row, i].item()}
            else:
                assert allowed == set(range(10)) - ({tokens[row, i].item()} if i == centre else set())


def test_repair_resamples_the_least_likely_words_and_keeps_them_only_where_the_sentence_got_likelier(two_way_model):
    from dlmctl.repair import least_likely, repair, repeated, surprisal, word_nlls

    vocab = two_way_model.vocab
    run = Sampler(two_way_model, SamplerConfig(steps=40))
    sentences = ["The Eagle is is a pub near the river .", "The Mill is a cheap pub .",
                 "a Eagle pub pub the is .", "It is a pub ."]
    tokens = torch.tensor([vocab.encode(s.split(), two_way_model.config.seq_len) for s in sentences])
    _, centres = least_likely(tokens, *word_nlls(run, tokens), vocab)
    fixed = repair(run, tokens, lambda rows: [], torch.Generator().manual_seed(0), rounds=1, share=0.5, above=0.0,
                   width=1)
    before, after = surprisal(*word_nlls(run, tokens)), surprisal(*word_nlls(run, fixed))
    changed = (fixed != tokens).any(1)
    assert changed.any()
    assert (after[~changed] == before[~changed]).all()
    fewer_repeats = repeated(fixed, vocab).sum(1) < repeated(tokens, vocab).sum(1)
    assert ((after < before) | ((after == before) & fewer_repeats))[changed].all()
    for row in changed.nonzero()[:, 0].tolist():     # one round changes the window around the worst word only
        moved = (fixed[row] != tokens[row]).nonzero()[:, 0]
        assert ((moved - centres[row]).abs() <= 1).all()
    assert torch.equal(repair(run, tokens, lambda rows: [], None, rounds=1, share=0.5, above=1e9, width=1), tokens)


def test_repair_counts_a_repeated_word_as_a_very_unlikely_one(two_way_model):
    from dlmctl.fluency import REPEAT_NLL
    from dlmctl.repair import least_likely, repeated, word_nlls

    vocab = two_way_model.vocab
    run = Sampler(two_way_model, SamplerConfig(steps=40))
    tokens = torch.tensor([vocab.encode(s.split(), two_way_model.config.seq_len)
                           for s in ["The Mill is a pub pub .", "The Mill is a pub ."]])
    flags = repeated(tokens, vocab)
    assert flags[0].nonzero()[:, 0].tolist() == [6] and not flags[1].any()     # START is position 0
    forward, backward = word_nlls(run, tokens)
    assert forward[0, 6] >= REPEAT_NLL
    worst, centres = least_likely(tokens, forward, backward, vocab)
    assert worst[0] >= REPEAT_NLL and centres[0] == 6


def test_generation_repairs_the_finished_chains_only_and_only_with_a_teacher(two_way_model, tiny_model, monkeypatch):
    from dlmctl import generation

    calls = []
    real = generation.repair
    monkeypatch.setattr(generation, "repair", lambda run, tokens, *args: calls.append(len(tokens)) or real(run, tokens, *args))
    generate_texts(two_way_model, [{}] * 3, sampler=SamplerConfig(steps=20), candidates=4, survivors=2, prune_at=0.5,
                   seed=0, show_progress=False)
    assert calls == [3 * 2]                          # the survivors, once they finish
    monkeypatch.setattr(generation, "repair", lambda run, tokens, *args: tokens.flip(1))
    for sample in generation.generate(two_way_model, [{}], sampler=SamplerConfig(steps=20), candidates=1,
                                      trajectory_every=5, show_progress=False):
        assert sample.trajectory[-1] == (0, sample.text)    # the trajectory ends with the repaired sample
    monkeypatch.setattr(generation, "repair", lambda run, tokens, *args: calls.append(len(tokens)) or tokens)
    for model, sampler, repaired in ((two_way_model, SamplerConfig(steps=20, teacher_weight=0.0), [3]),  # tree's
                                     (two_way_model, SamplerConfig(steps=20, repair=0), []),
                                     (tiny_model, SamplerConfig(steps=20), [])):           # no teacher
        calls.clear()
        generate_texts(model, [{}] * 3, sampler=sampler, candidates=1, seed=0, show_progress=False)
        assert calls == repaired
