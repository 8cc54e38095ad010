import torch

from dlmctl.diffusion import Diffusion, sqrt_alpha_bar


def test_sqrt_schedule_matches_the_formula():
    d = Diffusion.sqrt(2000)
    assert d.betas.max() <= 0.999
    # ᾱ_t follows 1 − √(t/T + 1e-4) up to the clipping of the last β
    for i in (0, 10, 500, 1500):
        expected = sqrt_alpha_bar((i + 1) / 2000) / sqrt_alpha_bar(0)
        assert abs(d.alphas_cumprod[i].item() - expected) < 1e-9
    assert torch.all(d.alphas_cumprod[1:] < d.alphas_cumprod[:-1])


def test_respacing_keeps_alpha_bar_at_kept_steps():
    d = Diffusion.sqrt(2000)
    r = d.respaced(200)
    assert r.num_steps == 200
    assert r.timesteps[0] == 0 and r.timesteps[-1] == 1999
    assert torch.allclose(r.alphas_cumprod, d.alphas_cumprod[r.timesteps])


def test_posterior_at_first_step_returns_x0():
    r = Diffusion.sqrt(2000).respaced(50)
    x0, xt = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    mean, _ = r.posterior(x0, xt, torch.zeros(2, dtype=torch.long))
    assert torch.allclose(mean, x0, atol=1e-6)


def test_a_chain_of_one_step_returns_x0():
    """``--steps 1``: the one step is the last, its posterior mean x̂0 itself."""
    r = Diffusion.sqrt(2000).respaced(1)
    x0, xt = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    mean, std = r.posterior(x0, xt, torch.zeros(2, dtype=torch.long))
    assert r.num_steps == 1 and torch.allclose(mean, x0, atol=1e-6) and torch.isfinite(std).all()
