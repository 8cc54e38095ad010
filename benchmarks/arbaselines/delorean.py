"""DELOREAN-style infilling (Qin et al. 2020) on the teacher LM: the blank's words are soft tokens
(logits over the vocabulary), started from the teacher's greedy continuation of the left context,
then refined in turns — a backward pass moves them down the gradient of the right context's NLL
given left + soft blank, a forward pass mixes them with the teacher's own next-word logits read
left to right through the soft blank — and finally rounded to words by argmax."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from dlmctl.teacher import Teacher

from .states import causal_states, with_positions


@dataclass
class DeloreanSettings:
    iterations: int = 10
    step_size: float = 3.0        # gradient step on the blank's logits, per unit of gradient norm
    mix: float = 0.5              # weight of the backward-refined logits against the forward ones
    temperature: float = 1.0      # of the soft tokens


def fill(teacher: Teacher, left: list[str], size: int, right: list[str],
         settings: DeloreanSettings = DeloreanSettings()) -> list[str]:
    """``size`` words between ``left`` and ``right``."""
    vocab, net = teacher.vocab, teacher.net
    embed = net.embed.weight
    left_ids = torch.tensor([vocab.start, *(vocab.index.get(w, vocab.unk) for w in left)])
    right_ids = torch.tensor([*(vocab.index.get(w, vocab.unk) for w in right), vocab.end])
    banned = [vocab.start, vocab.end, vocab.unk, vocab.pad]
    if size == 0:
        return []
    with torch.no_grad():                              # greedy continuation of the left context
        ids = left_ids.clone()
        logits = []
        for _ in range(size):
            step = net(ids[None])[0, -1].clone()
            step[banned] = float("-inf")
            logits.append(step.clamp(min=-1e4))
            ids = torch.cat([ids, step.argmax()[None]])
        soft = torch.stack(logits)                     # (size, V)
    forbidden = torch.zeros(len(vocab), dtype=torch.bool)
    forbidden[banned] = True
    for _ in range(settings.iterations):
        soft = soft.detach().requires_grad_()
        blank = torch.softmax(soft / settings.temperature, -1) @ embed
        inputs = torch.cat([embed[left_ids], blank, embed[right_ids[:-1]]])[None]
        out = causal_states(net, with_positions(net, inputs))[0] @ embed.T   # next-word logits
        start = len(left_ids) + size - 1              # logits predicting the first right-context word
        nll = nn.functional.cross_entropy(out[start:start + len(right_ids)], right_ids)
        grad, = torch.autograd.grad(nll, soft)
        with torch.no_grad():
            backward = soft - settings.step_size * grad / (grad.norm() + 1e-10)
            forward = out[len(left_ids) - 1:len(left_ids) - 1 + size].masked_fill(forbidden, -1e4)
            soft = settings.mix * backward + (1 - settings.mix) * forward
    return [vocab.words[i] for i in soft.detach().masked_fill(forbidden, float("-inf")).argmax(-1).tolist()]
