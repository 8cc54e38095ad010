"""Sampling again the words of a finished sentence that its teachers find least likely (docs/method.md,
"Repairing the least likely words").

A sentence whose worst word the forward teacher finds too unlikely (a repeated word counting as
:data:`~dlmctl.fluency.REPEAT_NLL` at least) has a window of words around the
word both teachers find least likely (forward + backward surprisal) noised again, the rest of the
sentence held by a token bias, and samples the last share of the chain again under the same controls;
the word it had at the window's centre may not come back. The new words are kept where the sentence's
worst forward plus worst backward surprisal went down, or stayed and fewer of its words repeat (a
sentence that says two things twice is mended one repeat at a time).
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch

from dlmctl.control import Guidance
from dlmctl.fluency import REPEAT_NLL, next_word_bias, previous_word_bias, repeats
from dlmctl.sampling import Sampler, Step, WeightedGuidance
from dlmctl.vocab import Vocabulary

#: what a word loses where a repair holds another word or forbids it (nats): finite, so that
#: where a control's own token bias allows only that word (an infilled word), it is still taken
HELD = -1e4
#: ``f(rows) -> guidance``: the controls' guidance for the chains ``rows`` of a batch only
GuidanceFor = Callable[[Sequence[int]], list[WeightedGuidance]]


def word_nlls(run: Sampler, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per position of ``tokens`` (B, L): the forward teacher's NLL of its word given the words before
    it (END included), and the backward teacher's given the words after it (0 where the model has no
    backward teacher); each (B, L), 0 beyond the sentence, and a repeated word's (:func:`repeated`)
    both at least :data:`~dlmctl.fluency.REPEAT_NLL`."""
    forward = -next_word_bias(run.teacher, tokens).gather(2, tokens[..., None])[..., 0]
    backward = torch.zeros_like(forward)
    if run.reverse_teacher is not None:
        backward = -previous_word_bias(run.reverse_teacher, tokens).gather(2, tokens[..., None])[..., 0]
    flags = repeated(tokens, run.model.vocab).to(forward.device)
    return tuple(torch.where(flags, nll.clamp(min=REPEAT_NLL), nll) for nll in (forward, backward))


def repeated(tokens: torch.Tensor, vocab: Vocabulary) -> torch.Tensor:
    """(B, L) bool: the word positions of ``tokens`` (B, L) whose word repeats (:func:`dlmctl.fluency.repeats`),
    each sentence ending at its first END or PAD, as the teachers read it."""
    flags = torch.zeros(tokens.shape, dtype=torch.bool)
    for row, ids in enumerate(tokens.tolist()):
        words = []
        for word_id in ids[1:]:
            if word_id in (vocab.end, vocab.pad):
                break
            words.append(vocab.words[word_id])
        flags[row, 1:len(words) + 1] = torch.tensor(repeats(words), dtype=torch.bool)
    return flags


def surprisal(forward: torch.Tensor, backward: torch.Tensor) -> torch.Tensor:
    """(B,) each sentence's worst forward NLL plus its worst backward one, from :func:`word_nlls`
    (B, L) each; higher is worse: what a repair must lower."""
    return forward.amax(1) + backward.amax(1)


def least_likely(tokens: torch.Tensor, forward: torch.Tensor, backward: torch.Tensor,
                 vocab: Vocabulary) -> tuple[torch.Tensor, torch.Tensor]:
    """(B,) the forward teacher's worst NLL of each sentence of ``tokens`` (B, L) (0 for one without
    words), and (B,) the word position (≥ 1) both teachers find least likely (forward + backward NLL,
    :func:`word_nlls`)."""
    words = (tokens != vocab.end) & (tokens != vocab.pad) & (tokens != vocab.start)
    worst = torch.where(words.any(1), forward.amax(1), torch.zeros_like(forward[:, 0]))
    return worst, (forward + backward).masked_fill(~words, -1.0).argmax(1)


def hold_outside(tokens: torch.Tensor, centres: torch.Tensor, width: int, vocab_size: int) -> torch.Tensor:
    """(B, L, V) token bias that holds every word of ``tokens`` (B, L) outside the window of ``width``
    words each side of ``centres`` (B,) (:data:`HELD` for every other word there), leaves the window
    free, and forbids the word at its centre (:data:`HELD` for it)."""
    batch, length = tokens.shape
    position = torch.arange(length, device=tokens.device).expand(batch, length)
    free = ((position - centres[:, None]).abs() <= width) & (position > 0)
    bias = torch.full((batch, length, vocab_size), HELD, device=tokens.device)
    bias.scatter_(2, tokens[..., None], 0.0)
    bias[free] = 0.0
    rows = torch.arange(batch, device=tokens.device)
    bias[rows, centres, tokens[rows, centres]] = HELD
    return bias


def repair(run: Sampler, tokens: torch.Tensor, guidance_for: GuidanceFor, generator: torch.Generator | None,
           rounds: int, share: float, above: float, width: int) -> torch.Tensor:
    """``tokens`` (B, L) after up to ``rounds`` rounds of sampling again, from the chain index that ends
    the first 1 − ``share`` of ``run``'s chain, the window of ``width`` words each side of the least
    likely word of every sentence whose worst forward-teacher NLL is above ``above`` nats; each
    round keeps the new words where they lower the sentence's :func:`surprisal`, or leave it as it
    was with fewer repeated words (:func:`repeated`; the teachers read each sentence once a round)."""
    model = run.model
    tokens = tokens.clone()
    forward, backward = word_nlls(run, tokens)
    repeat_counts = repeated(tokens, model.vocab).sum(1)
    resume_at = run.index_after(1 - share)
    for _ in range(rounds):
        worst, centres = least_likely(tokens, forward, backward, model.vocab)
        rows = (worst > above).nonzero()[:, 0]
        if len(rows) == 0:
            break
        old = tokens[rows]
        guidance = guidance_for(rows.tolist())
        guidance.append(WeightedGuidance(Guidance(token_bias=hold_outside(old, centres[rows], width,
                                                                          len(model.vocab.words))), None))
        clean = model.embeddings[old]
        index = torch.full((len(rows),), resume_at, dtype=torch.long, device=clean.device)
        noise = torch.randn(clean.shape, generator=generator).to(clean.device)
        start = Step(resume_at + 1, run.chain.q_sample(clean, index, noise), clean, old)
        for step in run.steps(len(rows), guidance, generator, resume=start):
            pass
        new_forward, new_backward = word_nlls(run, step.tokens)
        before, after = surprisal(forward[rows], backward[rows]), surprisal(new_forward, new_backward)
        new_counts = repeated(step.tokens, model.vocab).sum(1)
        better = (after < before) | ((after == before) & (new_counts < repeat_counts[rows]).to(after.device))
        kept = rows[better]
        tokens[kept], forward[kept], backward[kept] = step.tokens[better], new_forward[better], new_backward[better]
        repeat_counts[kept.cpu()] = new_counts[better.cpu()]
    return tokens
