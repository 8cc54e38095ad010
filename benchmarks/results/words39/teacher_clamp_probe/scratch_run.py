"""Scratch probe (session 39): the teacher LM in the clamping step. At each step where it applies,
the teacher reads the denoiser's best words (B, L) and its next-word log-probabilities, times
BETA, are added to the word scores (position i gets log p_T(w | best words before i)); positions
after the first END get none, PAD before it is scored as END. Env: TEACHER_BETA (default 1),
TEACHER_FROM ("all": every step; "tail": after the guided share; a float s: the last s of the
chain). Runs benchmarks/controls.py or default_model.py (first argument) with the patch."""
import os
import sys

import torch

from dlmctl import sampling, teacher as teacher_mod

BETA = float(os.environ.get("TEACHER_BETA", "1"))
FROM = os.environ.get("TEACHER_FROM", "all")
STATE = {"i": None, "n": None, "guided": None, "model": None}

original_steps = sampling.Sampler.steps
original_step_bias = sampling.step_bias


def steps(self, batch_size, guidance=(), generator=None, resume=None, stop=0, groups=None):
    STATE.update(model=self.model, n=self.chain.num_steps, guided=self.guided,
                 i=self.chain.num_steps - 1 if resume is None else resume.index - 1)
    for step in original_steps(self, batch_size, guidance, generator, resume, stop, groups):
        yield step
        STATE["i"] = step.index - 1


def applies() -> bool:
    i, n = STATE["i"], STATE["n"]
    if FROM == "all":
        return True
    if FROM == "tail":
        return i < max(n - STATE["guided"], 1)
    return i < float(FROM) * n


def teacher_bias(scores):
    t = teacher_mod.model_teacher(STATE["model"])
    v = t.vocab
    tokens = scores.argmax(-1)                                         # (B, L)
    with torch.no_grad():
        logp = t.net(tokens).float().log_softmax(-1)                    # (B, L, V): next word
    logp[..., v.pad] = logp[..., v.end]
    bias = torch.zeros_like(scores)
    bias[:, 1:] = BETA * logp[:, :-1]
    is_end = (tokens == v.end).int()
    after_end = (is_end.cumsum(1) - is_end) > 0
    bias[after_end] = 0
    return bias


def step_bias(fixed, word_biases, scores):
    bias = original_step_bias(fixed, word_biases, scores)
    if not applies():
        return bias
    biased = scores if bias is None else scores + bias
    extra = teacher_bias(biased)
    return extra if bias is None else bias + extra


sampling.Sampler.steps = steps
sampling.step_bias = step_bias

if __name__ == "__main__":
    script = sys.argv.pop(1)
    sys.path.insert(0, "benchmarks")
    module = __import__(script)
    module.main()
