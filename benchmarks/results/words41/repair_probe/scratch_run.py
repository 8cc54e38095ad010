"""Scratch: repair each finished chain's least likely words by sampling them again. After a batch's
last step, a chain whose words the teachers find unlikely (worst forward-teacher NLL above
REPAIR_ABOVE nats) has the window of ±REPAIR_WIDTH words around its worst word (forward + backward
teacher NLL) noised again with the rest of the sentence held by a token bias, and samples the last
REPAIR_SHARE of the chain again, guided as before; the new words are kept if the sentence's worst
forward + backward NLL went down. REPAIR_ROUNDS rounds. Then runs benchmarks/controls.py."""
import os, sys
sys.path.insert(0, "benchmarks")
import torch
from dlmctl import generation
from dlmctl.control import Guidance
from dlmctl.sampling import Step
from dlmctl.teacher import model_teacher

ABOVE = float(os.environ.get("REPAIR_ABOVE", "4.5"))
WIDTH = int(os.environ.get("REPAIR_WIDTH", "1"))
SHARE = float(os.environ.get("REPAIR_SHARE", "0.3"))
BAN = os.environ.get("REPAIR_BAN", "0") == "1"           # the worst word may not come back
KEEP_TARGET = os.environ.get("REPAIR_KEEP_TARGET", "0") == "1"   # and the classifiers find it as on target
SLACK = float(os.environ.get("REPAIR_SLACK", "0"))   # nats of the classifiers' log-prob a repair may lose
LAMBDA = 3e-3                                         # pos's λ: on_target is Σ log p / λ
ROUNDS = int(os.environ.get("REPAIR_ROUNDS", "1"))
STATS = {"chains": 0, "tried": 0, "kept": 0}


def word_nlls(model, tokens):
    """Per chain: (forward NLL per word position 1..n, backward NLL per word position 1..n)."""
    fwd, rev = model_teacher(model), model_teacher(model, reverse=True)
    words = [model.vocab.decode(row) for row in tokens.tolist()]
    nf, nb = fwd.word_nlls(words), rev.word_nlls(words)
    return [(f[:-1], b[:-1].flip(0), f.max().item(), b.max().item()) for f, b in zip(nf, nb)]


def build(job, targets):
    """The controls' guidance for chains with these targets (as SamplingJob.sample_batch builds it)."""
    guidance = []
    for name, control in job.prepared.controls.items():
        column = [row.get(name) for row in targets]
        if any(t is not None for t in column):
            guidance.append(generation.weighted(control, control.guidance(job.model, column), job.prepared.weights[name]))
    return guidance


real_sample_batch = generation.SamplingJob.sample_batch
def sample_batch(self, phase, chains, resume, seed, advance):
    out = real_sample_batch(self, phase, chains, resume, seed, advance)
    if phase.stop != 0:
        return out
    model, run, prepared = self.model, self.run, self.prepared
    targets = [prepared.targets[c // phase.group] for c in chains]
    guidance = build(self, targets)
    tokens = out.last.tokens.clone()
    generator = torch.Generator().manual_seed(seed + 1)
    STATS["chains"] += len(chains)
    r = run.index_after(1 - SHARE)
    for _ in range(ROUNDS):
        scored = word_nlls(model, tokens)
        rows = [b for b, (f, _, wf, _) in enumerate(scored) if wf > ABOVE and len(f)]
        if not rows:
            break
        STATS["tried"] += len(rows)
        sub = tokens[rows]
        fix = torch.zeros(len(rows), sub.shape[1], len(model.vocab.words))
        fix.scatter_(2, sub[..., None], 0.0)
        held = torch.ones(sub.shape, dtype=torch.bool)
        for k, b in enumerate(rows):
            f, bk, _, _ = scored[b]
            p = int((f + bk).argmax()) + 1                      # word positions start at 1
            held[k, max(1, p - WIDTH):p + WIDTH + 1] = False
        fix = torch.where(held[..., None], torch.full_like(fix, -float("inf")), fix)
        fix.scatter_(2, sub[..., None], 0.0)
        fix[~held] = 0.0
        if BAN:
            for k, b in enumerate(rows):
                f, bk, _, _ = scored[b]
                p = int((f + bk).argmax()) + 1
                fix[k, p, sub[k, p]] = -float("inf")
        sub_guidance = build(self, [targets[b] for b in rows])
        sub_guidance.append(generation.WeightedGuidance(Guidance(token_bias=fix), None))
        clean = model.embeddings[sub]
        idx = torch.full((len(rows),), r, dtype=torch.long)
        x = run.chain.q_sample(clean, idx, torch.randn(clean.shape, generator=generator))
        start = Step(r + 1, x, clean, sub, None)
        for step in run.steps(len(rows), sub_guidance, generator, start, 0):
            pass
        new = word_nlls(model, step.tokens)
        if KEEP_TARGET:
            on_before = generation.target_log_prob(model, build(self, [targets[b] for b in rows]), sub)
            on_after = generation.target_log_prob(model, build(self, [targets[b] for b in rows]), step.tokens)
        for k, b in enumerate(rows):
            before = scored[b][2] + scored[b][3]
            after = new[k][2] + new[k][3]
            if os.environ.get("REPAIR_DEBUG"):
                print(f"{before:.1f} -> {after:.1f}", " ".join(model.vocab.decode(tokens[b].tolist())), "||",
                      " ".join(model.vocab.decode(step.tokens[k].tolist())), file=sys.stderr)
            if after < before and (not KEEP_TARGET or (on_after[k] - on_before[k]) * LAMBDA >= -SLACK):
                tokens[b] = step.tokens[k]
                STATS["kept"] += 1
    out.last.tokens = tokens
    out.texts = generation.decode(model, tokens)
    if self.judged:
        out.on_target = generation.target_log_prob(model, guidance, tokens)
    return out
generation.SamplingJob.sample_batch = sample_batch

import atexit
atexit.register(lambda: print("repair:", STATS, file=sys.stderr))
import controls
controls.main()
