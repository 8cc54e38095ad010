import torch

from dlmctl.repulsion import repulsion
from dlmctl.sampling import Sampler, SamplerConfig
from dlmctl.testing import generate_texts


def test_rows_of_one_group_are_pushed_apart_and_other_groups_play_no_part():
    x0 = torch.randn(5, 6, 4, generator=torch.Generator().manual_seed(0))
    groups = torch.tensor([0, 0, 0, 1, 2])
    push = repulsion(x0, groups)
    assert push.shape == x0.shape
    assert torch.equal(push[4], torch.zeros_like(push[4]))          # alone in its group
    for i, j in ((0, 1), (1, 2), (2, 0)):                            # each moves away from the others
        assert ((push[i] - push[j]) * (x0[i] - x0[j])).sum() > 0
    moved = x0.clone()
    moved[3] += 10.0                                                 # another group's row: no effect on group 0
    assert torch.allclose(repulsion(moved, groups)[:3], push[:3])


def test_without_a_group_to_share_there_is_no_push(tiny_model):
    """Each row alone in its group (or no groups at all) samples what it samples with repel 0."""
    run = lambda repel, groups: [s.tokens for s in Sampler(tiny_model, SamplerConfig(steps=10, repel=repel)).steps(
        3, generator=torch.Generator().manual_seed(0), groups=groups)][-1]
    alone = run(0.0, None)
    assert torch.equal(run(5.0, torch.tensor([0, 1, 2])), alone)
    assert torch.equal(run(5.0, None), alone)
    assert not torch.equal(run(5.0, torch.tensor([0, 0, 0])), alone)


def test_generate_pushes_apart_the_samples_of_one_request_only(tiny_model):
    fast = lambda repel: SamplerConfig(steps=20, repel=repel)
    distinct = [{"length": str(n)} for n in (6, 7, 8, 9)]            # four requests of one sample each
    assert generate_texts(tiny_model, distinct, sampler=fast(5.0), show_progress=False) == \
        generate_texts(tiny_model, distinct, sampler=fast(0.0), show_progress=False)
    same = [{"length": "8"}] * 4
    assert generate_texts(tiny_model, same, sampler=fast(5.0), show_progress=False) != \
        generate_texts(tiny_model, same, sampler=fast(0.0), show_progress=False)
