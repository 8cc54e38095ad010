"""Scratch: after the last clamping step, polish each chain's words by greedy single-word changes
(iterated conditional modes) that raise  α Σ log softmax(final scores)[w_i] + β (log p_fwd(w) +
log p_rev(w)), each word choosing among its
position's POLISH_K best final scores; then runs benchmarks/controls.py on the committed sampler."""
import os, sys, time
sys.path.insert(0, "benchmarks")
import torch
from dlmctl import sampling, model as model_mod
from dlmctl.teacher import per_token_nll

K = int(os.environ.get("POLISH_K", "4"))
ROUNDS = int(os.environ.get("POLISH_ROUNDS", "6"))
ALPHA = float(os.environ.get("POLISH_ALPHA", "1"))
BETA = float(os.environ.get("POLISH_BETA", "1"))
STATS = {"changes": 0, "seconds": 0.0, "chains": 0}

real_forward = model_mod.Denoiser.forward
def forward(self, *args, **kwargs):
    out = real_forward(self, *args, **kwargs)
    if kwargs.get("with_scores"):
        self.last_scores = out[1]
    return out
model_mod.Denoiser.forward = forward


def lengths(tokens, vocab):
    L = tokens.shape[1]
    pos = torch.arange(L).expand_as(tokens)
    stops = ((tokens == vocab.end) | (tokens == vocab.pad)) & (pos > 0)
    return torch.where(stops.any(1), stops.int().argmax(1), L) - 1       # words per sentence


def sentence_logprob(teacher, tokens, n, reverse):
    """(N,) log p(words, END) of rows tokens (N, L) with n (N,) words each."""
    vocab = teacher.vocab
    N, L = tokens.shape
    width = int(n.max()) + 2
    pos = torch.arange(width).expand(N, width)
    ids = torch.full((N, width), vocab.pad, dtype=torch.long)
    ids[:, 0] = vocab.start
    words = (pos >= 1) & (pos <= n[:, None])
    src = (n[:, None] + 1 - pos).clamp(0, L - 1) if reverse else pos.clamp(max=L - 1)
    ids[words] = tokens.gather(1, src)[words]
    ids[pos == n[:, None] + 1] = vocab.end
    out = []
    for chunk in range(0, N, 1024):
        nll, _ = per_token_nll(teacher.net, ids[chunk:chunk + 1024], vocab.pad)
        out.append(-nll.sum(1))
    return torch.cat(out)


def objective(self, tokens, logp, n, guidance):
    word = logp.gather(2, tokens[..., None])[..., 0]
    mask = torch.arange(tokens.shape[1]).expand_as(tokens) <= n[:, None] + 1
    j = ALPHA * (word * mask).sum(1)
    j = j + BETA * sentence_logprob(self.teacher, tokens, n, False)
    if self.reverse_teacher is not None:
        j = j + BETA * sentence_logprob(self.reverse_teacher, tokens, n, True)
    return j


@torch.no_grad()
def polish(self, tokens, scores, guidance):
    vocab = self.model.vocab
    started = time.time()
    tokens = tokens.clone()
    B, L = tokens.shape
    logp = scores.float().log_softmax(-1)
    special = [vocab.start, vocab.end, vocab.pad, vocab.unk]
    masked = logp.clone()
    masked[..., special] = -float("inf")
    cand = masked.topk(K, -1).indices                              # (B, L, K)
    n = lengths(tokens, vocab)
    for _ in range(ROUNDS):
        base = objective(self, tokens, logp, n, guidance)
        rows, variants = [], []
        for b in range(B):
            for p in range(1, int(n[b]) + 1):
                for c in cand[b, p].tolist():
                    if c != tokens[b, p]:
                        v = tokens[b].clone(); v[p] = c
                        rows.append(b); variants.append(v)
        if not variants:
            break
        rows_t = torch.tensor(rows)
        V = torch.stack(variants)
        j = objective(self, V, logp[rows_t], n[rows_t], guidance) - base[rows_t]
        best = torch.full((B,), 0.0); which = torch.full((B,), -1, dtype=torch.long)
        for i, (b, gain) in enumerate(zip(rows, j.tolist())):
            if gain > best[b] + 1e-4:
                best[b] = gain; which[b] = i
        changed = which >= 0
        if not changed.any():
            break
        for b in changed.nonzero()[:, 0].tolist():
            tokens[b] = V[which[b]]
            STATS["changes"] += 1
    STATS["seconds"] += time.time() - started
    STATS["chains"] += B
    return tokens


real_steps = sampling.Sampler.steps
def steps(self, batch_size, guidance=(), *args, **kwargs):
    for step in real_steps(self, batch_size, guidance, *args, **kwargs):
        if step.index == 0 and self.teacher is not None:
            step.tokens = polish(self, step.tokens, self.model.denoiser.last_scores, guidance)
        yield step
sampling.Sampler.steps = steps

import atexit
atexit.register(lambda: print("polish:", STATS, file=sys.stderr))
import controls
controls.main()
