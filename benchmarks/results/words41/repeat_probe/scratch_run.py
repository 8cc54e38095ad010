"""Scratch: every clamping step, a word that would make its position end an immediate repeat of the
REPEAT_MAX (default 4) or fewer words before it ("is is", "It is It is", "on the riverside on the
riverside") loses REPEAT_PENALTY nats, given the words the biased scores put first; then runs
benchmarks/controls.py on the committed sampler."""
import os, sys
sys.path.insert(0, "benchmarks")
import torch
from dlmctl import sampling

MAX_UNIT = int(os.environ.get("REPEAT_MAX", "4"))
PENALTY = float(os.environ.get("REPEAT_PENALTY", "20"))
VOCAB = {}


def repeat_bias(words, vocab_size, end, pad):
    """(B, L, V): −PENALTY at the word w_{i−n} at each position i whose n−1 words before it repeat the
    n−1 before w_{i−n} (n = 1 … MAX_UNIT); 0 elsewhere, and at END/PAD."""
    B, L = words.shape
    bias = torch.zeros(B, L, vocab_size)
    for n in range(1, MAX_UNIT + 1):
        if 2 * n > L - 1:
            break
        same = torch.ones(B, L - 2 * n, dtype=torch.bool)           # positions i = 2n … L−1
        for k in range(1, n):
            same &= words[:, 2 * n - k:L - k] == words[:, n - k:L - n - k]
        banned = words[:, n:L - n]                                   # w_{i−n}
        same &= (banned != end) & (banned != pad)
        b, i = same.nonzero(as_tuple=True)
        bias[b, i + 2 * n, banned[b, i]] = -PENALTY
    return bias


real_step_bias = sampling.step_bias
def step_bias(fixed, word_biases, scores):
    bias = real_step_bias(fixed, word_biases, scores)
    words = (scores if bias is None else scores + bias).argmax(-1)
    v = VOCAB["vocab"]
    extra = repeat_bias(words, scores.shape[-1], v.end, v.pad).to(scores.device)
    return extra if bias is None else bias + extra
sampling.step_bias = step_bias

real_init = sampling.Sampler.__init__
def init(self, model, config=None):
    real_init(self, model, config)
    VOCAB["vocab"] = model.vocab
sampling.Sampler.__init__ = init

import controls
controls.main()
