import json

import pytest
import torch

from dlmctl.checkpoint import load_model
from dlmctl.corpus import prepare
from dlmctl.diffusion import Diffusion
from dlmctl.model import Denoiser, ModelConfig
from dlmctl.sampling import Sampler, SamplerConfig
from dlmctl.testing import TINY_MODEL
from dlmctl import defaults, training
from dlmctl.training import TrainConfig, evaluate, train


@pytest.fixture(scope="module")
def encoded(small_corpus):
    return prepare(str(small_corpus), "human_reference", TINY_MODEL["seq_len"], 2)


def test_training_lowers_held_out_loss(tiny_model, encoded):
    ids, _ = encoded
    held_out = ids[-128:]
    diffusion = Diffusion.sqrt(tiny_model.config.diffusion_steps)
    torch.manual_seed(0)
    untrained = evaluate(Denoiser(tiny_model.config), diffusion, held_out)
    trained = evaluate(tiny_model.denoiser, diffusion, held_out)
    assert trained["loss"] < 0.6 * untrained["loss"]
    assert trained["rounding_acc"] > untrained["rounding_acc"] + 0.2


def test_interrupted_training_resumes_exactly(tmp_path, encoded, monkeypatch):
    ids, vocab = encoded
    cfg = ModelConfig(vocab_size=len(vocab), diffusion_steps=100, **{**TINY_MODEL, "layers": 1, "hidden": 32})
    tc = dict(batch_size=16, lr=1e-3, ema=0.9, save_every=5)
    cpu = torch.device("cpu")
    train(ids, vocab, tmp_path / "straight", cfg, TrainConfig(steps=10, **tc), cpu, show_progress=False)
    real_noise = training.batch_noise

    def interrupt_at_step_7(*args):
        if args[4] == 7:
            raise KeyboardInterrupt
        return real_noise(*args)

    monkeypatch.setattr(training, "batch_noise", interrupt_at_step_7)
    with pytest.raises(KeyboardInterrupt):
        train(ids, vocab, tmp_path / "split", cfg, TrainConfig(steps=10, **tc), cpu, show_progress=False)
    monkeypatch.setattr(training, "batch_noise", real_noise)
    assert json.loads((tmp_path / "split" / "config.json").read_text())["training"]["steps_done"] == 7
    train(ids, vocab, tmp_path / "split", cfg, TrainConfig(steps=10, **tc), cpu, resume=True, show_progress=False)
    a = load_model(tmp_path / "straight").denoiser.state_dict()
    b = load_model(tmp_path / "split").denoiser.state_dict()
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    config = json.loads((tmp_path / "split" / "config.json").read_text())
    assert config["training"]["steps_done"] == 10
    assert not list((tmp_path / "split").glob("*.tmp"))


def test_frozen_embeddings_stay_put_while_the_denoiser_learns(tmp_path, encoded):
    ids, vocab = encoded
    cfg = ModelConfig(vocab_size=len(vocab), diffusion_steps=100, **{**TINY_MODEL, "layers": 1, "hidden": 32})
    cpu = torch.device("cpu")
    tc = dict(batch_size=16, lr=1e-2, ema=0.9, save_every=4)
    train(ids, vocab, tmp_path, cfg, TrainConfig(steps=4, **tc), cpu, show_progress=False)
    before = load_model(tmp_path).denoiser.state_dict()
    train(ids, vocab, tmp_path, cfg, TrainConfig(steps=8, freeze_embeddings=True, **tc), cpu,
          resume=True, show_progress=False)
    after = load_model(tmp_path).denoiser.state_dict()
    raw = torch.load(tmp_path / "train_state.pt", weights_only=True)["model"]["embed.weight"]
    assert torch.equal(after["embed.weight"], raw)  # the sampling (EMA) embeddings are the frozen ones
    assert not torch.allclose(before["input_up.0.weight"], after["input_up.0.weight"])


def test_warm_start_adds_self_conditioning_without_changing_the_network(tiny_model):
    cfg = ModelConfig(**{**tiny_model.config.to_dict(), "self_condition": True})
    grown = Denoiser(cfg)
    training.warm_start(grown, tiny_model.denoiser.state_dict())
    grown.eval()
    x, t = torch.randn(3, cfg.seq_len, cfg.embed_dim), torch.tensor([0, 50, 199])
    expected = tiny_model.denoiser(x, t)
    assert torch.allclose(grown(x, t), expected, atol=1e-6)
    assert torch.allclose(grown(x, t, torch.randn_like(x)), expected, atol=1e-6)  # new inputs start at zero
    with pytest.raises(training.UsageError, match="input_up.0.weight"):
        training.warm_start(Denoiser(tiny_model.config), grown.state_dict())


def test_a_model_grown_deeper_starts_as_the_trained_one_and_trains_its_new_layers(tmp_path, encoded, tiny_model):
    ids, vocab = encoded
    cfg = ModelConfig(**{**tiny_model.config.to_dict(), "layers": tiny_model.config.layers + 2})
    grown = Denoiser(cfg)
    training.warm_start(grown, tiny_model.denoiser.state_dict())
    grown.eval()
    x, t = torch.randn(3, cfg.seq_len, cfg.embed_dim), torch.tensor([0, 50, 199])
    assert torch.allclose(grown(x, t), tiny_model.denoiser(x, t), atol=1e-6)
    tc = TrainConfig(steps=10, batch_size=32, lr=1e-3, ema=0.9, save_every=10)
    train(ids[:-128], vocab, tmp_path, cfg, tc, torch.device("cpu"), init_state=tiny_model.denoiser.state_dict(),
          show_progress=False)
    top = load_model(tmp_path).denoiser.encoder.layers[-1]
    assert top.linear2.weight.abs().sum() > 0 and top.self_attn.out_proj.weight.abs().sum() > 0


def test_self_conditioned_model_trains_and_sampling_feeds_back_its_estimate(tmp_path, encoded, tiny_model):
    ids, vocab = encoded
    cfg = ModelConfig(**{**tiny_model.config.to_dict(), "self_condition": True})
    tc = TrainConfig(steps=20, batch_size=32, lr=1e-3, ema=0.9, save_every=20, freeze_embeddings=True)
    train(ids[:-128], vocab, tmp_path, cfg, tc, torch.device("cpu"), init_state=tiny_model.denoiser.state_dict(),
          show_progress=False)
    model = load_model(tmp_path)
    assert model.config.self_condition
    grown = model.denoiser.input_up[0].weight[:, cfg.embed_dim:]
    assert grown.abs().sum() > 0                                    # the x̂0_prev inputs were trained

    seen = []
    model.denoiser.register_forward_hook(lambda module, args, out: seen.append((args[2:], out[0])))
    list(Sampler(model, SamplerConfig(steps=5)).steps(2))
    assert seen[0][0] == (None,)                                    # nothing to read at the first step
    for (prev_args, _), (_, prev_out) in zip(seen[1:], seen):
        assert torch.equal(prev_args[0], prev_out)                  # then the previous step's x̂0


def test_a_model_warm_started_to_predict_words_first_picks_the_words_it_clamped_to(tiny_model):
    cfg = ModelConfig(**{**tiny_model.config.to_dict(), "predict": "words"})
    words = Denoiser(cfg)
    training.warm_start(words, tiny_model.denoiser.state_dict())
    words.eval()
    x, t = torch.randn(4, cfg.seq_len, cfg.embed_dim), torch.tensor([0, 50, 120, 199])
    old_x0, old_scores = tiny_model.denoiser.predict(x, t)
    x0, scores = words.predict(x, t)
    assert scores.shape == (4, cfg.seq_len, cfg.vocab_size)
    assert torch.equal(scores.argmax(-1), old_scores.argmax(-1))    # the clamp takes the same words
    assert torch.allclose(x0, scores.softmax(-1) @ words.embed.weight, atol=1e-6)
    with pytest.raises(training.UsageError, match="output_down.3"):
        training.warm_start(Denoiser(tiny_model.config), words.state_dict())


def test_a_model_that_predicts_words_learns_them_and_samples(tmp_path, encoded, tiny_model):
    ids, vocab = encoded
    cfg = ModelConfig(**{**tiny_model.config.to_dict(), "predict": "words"})
    tc = TrainConfig(steps=30, batch_size=32, lr=1e-3, ema=0.9, save_every=30, freeze_embeddings=True)
    start = Denoiser(cfg)
    training.warm_start(start, tiny_model.denoiser.state_dict())
    before = evaluate(start, tiny_model.diffusion, ids[-128:])
    train(ids[:-128], vocab, tmp_path, cfg, tc, torch.device("cpu"), init_state=tiny_model.denoiser.state_dict(),
          valid_ids=ids[-128:], show_progress=False)
    model = load_model(tmp_path)
    assert model.config.predict == "words"
    after = json.loads((tmp_path / "config.json").read_text())["training"]["valid"]
    assert after["words"] < before["words"]                        # the cross-entropy term is trained
    sampler = Sampler(model, SamplerConfig(steps=5))
    assert sampler.config.word_temperature == defaults.WORDS_MODEL_TEMPERATURE   # it draws its words by default
    assert Sampler(tiny_model, SamplerConfig(steps=5)).config.word_temperature == 0   # an x̂0 model takes the nearest
    step = list(sampler.steps(3))[-1]
    assert torch.equal(step.x, model.embeddings[step.tokens])     # the last step lands on the words it chose


def test_evaluate_leaves_a_sampling_model_in_eval_mode(tiny_model, encoded):
    ids, _ = encoded
    tiny_model.denoiser.eval()
    evaluate(tiny_model.denoiser, tiny_model.diffusion, ids[:32])
    assert not tiny_model.denoiser.training   # dropout must stay off for sampling after an evaluation
