"""Sampling from an autoregressive LM one word at a time, with a hook that reweights each step.

Every baseline decodes through :func:`sample`: a ``next_scores`` function gives, for the rows still
writing, log-weights over the vocabulary for the next word (the LM's log-probabilities, reweighted
by FUDGE's discriminator, perturbed by PPLM, or conditioned as in FT); :func:`sample` keeps the
``top_k`` best, samples, and stops a row at END or after ``max_words`` words.
"""

from __future__ import annotations

from typing import Callable

import torch

from dlmctl.vocab import Vocabulary, detokenize

#: ``f(ids (R, t), rows (R,)) -> (R, V)`` next-word log-weights of the prefixes ``ids`` of the rows
#: ``rows`` (indices into the batch)
NextScores = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def top_k_log_probs(logits: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` best entries of (R, V) ``logits`` as log-probabilities renormalised over them:
    values (R, k) and their vocabulary indices (R, k)."""
    values, index = logits.topk(min(k, logits.shape[-1]), dim=-1)
    return torch.log_softmax(values, -1), index


def forbid_specials(logits: torch.Tensor, vocab: Vocabulary, words_so_far: int, max_words: int) -> torch.Tensor:
    """START, PAD and UNK are never written; after ``max_words`` words only END is."""
    logits = logits.clone()
    logits[:, [vocab.start, vocab.pad, vocab.unk]] = float("-inf")
    if words_so_far >= max_words:
        end = logits[:, vocab.end].clone()
        logits[:] = float("-inf")
        logits[:, vocab.end] = end.clamp(min=-1e9)
    return logits


def sample(next_scores: NextScores, rows: int, vocab: Vocabulary, *, max_words: int, top_k: int,
           generator: torch.Generator) -> list[str]:
    """``rows`` sentences (space-separated words) drawn word by word from ``next_scores``."""
    ids = torch.full((rows, 1), vocab.start, dtype=torch.long)
    done = torch.zeros(rows, dtype=torch.bool)
    for words_so_far in range(max_words + 1):
        active = (~done).nonzero()[:, 0]
        if len(active) == 0:
            break
        scores = forbid_specials(next_scores(ids[active], active), vocab, words_so_far, max_words)
        log_probs, index = top_k_log_probs(scores, top_k)
        choice = torch.multinomial(log_probs.exp(), 1, generator=generator)
        chosen = index.gather(1, choice)[:, 0]
        step = torch.full((rows,), vocab.pad, dtype=torch.long)
        step[active] = chosen
        done |= step == vocab.end
        ids = torch.cat([ids, step[:, None]], 1)
    return [detokenize(vocab.decode(row)) for row in ids.tolist()]
