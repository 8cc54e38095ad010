"""Scratch: pos samples of one target pushed apart at the clamp. At every clamping step each chain's
word scores lose ALPHA nats times the share of the other chains of its target whose best word at
that position is that word (WREPEL_ALPHA)."""
import os, sys
import torch
sys.path.insert(0, "benchmarks")
from dlmctl_pos import PosControl

ALPHA = float(os.environ.get("WREPEL_ALPHA", "1"))
original = PosControl.guidance


def guidance(self, model, targets):
    g = original(self, model, targets)
    keys = [t.tags if t else None for t in targets]
    same = torch.tensor([[a is not None and a == b and i != j for j, b in enumerate(keys)]
                         for i, a in enumerate(keys)], dtype=torch.float32, device=model.device)
    share = same / same.sum(1, keepdim=True).clamp(min=1)             # (B, B), rows sum to 1 or 0

    def push(scores):
        picks = torch.nn.functional.one_hot(scores.argmax(-1), scores.shape[-1]).float()   # (B, L, V)
        return -ALPHA * torch.einsum("bc,clv->blv", share, picks)

    g.word_bias = push
    return g


PosControl.guidance = guidance
import controls
controls.main()
