"""A per-sentence fluency score that sees single words: the teacher LM's surprisal at the least likely
token of a sentence.

A corpus-mean lm-score hides a broken sentence among fluent ones; one word the teacher finds very
unlikely ("It is is", "a English", a name cut off before its end) does not hide. A sentence counts as
*fluent* when its worst token's NLL is at most a threshold (nats); ``dlmctl evaluate`` reports the
share of fluent samples beside that of human references. A teacher LM reading left to right often
finds a repeat likely ("food food", "in the high price range in the high price range"), which
readers almost never pass: a repeated word counts as at least :data:`REPEAT_NLL` nats.

The same teacher also weighs in while the words settle: :func:`next_word_bias` gives the clamping
step its next-word log-probabilities, and a teacher that reads right to left its previous-word ones
(:func:`previous_word_bias`; docs/method.md, "The teacher in the clamp").
"""

from __future__ import annotations

from typing import Sequence

import torch

from dlmctl import defaults
from dlmctl.teacher import Teacher

#: Worst-token NLL (nats) at or below which a sentence counts as fluent: 6 means every token has a
#: probability of at least e^-6 ≈ 1/400 (chosen against the blind readings, docs/evaluation.md)
DEFAULT_THRESHOLD = defaults.FLUENCY_THRESHOLD
#: NLL (nats) a word counts as at least where it repeats (:func:`repeats`; chosen against the blind
#: readings, docs/evaluation.md)
REPEAT_NLL = defaults.REPEAT_NLL


def repeats(words: Sequence[str]) -> list[bool]:
    """Per word of a sentence: whether it is said twice in a row (the second "food" of "food food")
    or belongs to a trigram of words without punctuation that the sentence said before (the second
    "Raja Indian Cuisine" of "… near Raja Indian Cuisine near Raja Indian Cuisine"; ". It is … . It is"
    is fine)."""
    flags = [i > 0 and word == words[i - 1] for i, word in enumerate(words)]
    seen: set[tuple[str, ...]] = set()
    for i in range(2, len(words)):
        trigram = tuple(words[i - 2:i + 1])
        if trigram in seen and all(any(ch.isalnum() for ch in word) for word in trigram):
            flags[i - 2:i + 1] = [True] * 3
        seen.add(trigram)
    return flags


def floor_repeats(nlls: torch.Tensor, words: Sequence[str]) -> torch.Tensor:
    """The token NLLs ``nlls`` (n + 1,) of a sentence of n ``words`` (END last; fewer where the
    teacher cut a long sentence), each repeated word's raised to at least :data:`REPEAT_NLL`."""
    floor = [REPEAT_NLL if flag else 0.0 for flag in repeats(words)] + [0.0]
    return torch.maximum(nlls, torch.tensor(floor[:len(nlls)], dtype=nlls.dtype))


def sentence_scores(teacher: Teacher, sentences: Sequence[Sequence[str]]) -> torch.Tensor:
    """(N,) NLL of each sentence's least likely token under ``teacher`` (words and END; a repeated
    word at least :data:`REPEAT_NLL`), the sentences given as words (:func:`dlmctl.vocab.tokenize`);
    higher is worse."""
    rows = teacher.word_nlls(sentences)
    return torch.stack([floor_repeats(row, words).max() for row, words in zip(rows, sentences)]) if rows \
        else torch.zeros(0)


def fluent(scores: torch.Tensor, threshold: float = DEFAULT_THRESHOLD) -> torch.Tensor:
    """(N,) bool: which :func:`sentence_scores` count as fluent."""
    return scores <= threshold


@torch.no_grad()
def next_word_bias(teacher: Teacher, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L, V) log p_teacher(word at i | tokens before i) for each position i of ``tokens`` (B, L),
    sentences as the diffusion model lays them out (START, words, END, PAD…) in the teacher's own
    vocabulary: 0 at START and after the first END; PAD before it scores as END (the teacher never
    predicts PAD, and a PAD there ends the sentence just as END does). The teacher reads only the
    columns before the batch's last first END (it is causal: what follows changes nothing before)."""
    vocab = teacher.vocab
    batch, length = tokens.shape
    ends = (tokens == vocab.end).int()
    first_end = torch.where(ends.any(1), ends.argmax(1), length - 1)                 # (B,)
    read = max(int(first_end.max()), 1)
    log_probs = teacher.net(tokens[:, :read]).float().log_softmax(-1)                # (B, read, V): the word after each
    log_probs[..., vocab.pad] = log_probs[..., vocab.end]
    bias = log_probs.new_zeros((batch, length, log_probs.shape[-1]))
    bias[:, 1:read + 1] = log_probs
    bias[(ends.cumsum(1) - ends) > 0] = 0
    return bias


@torch.no_grad()
def previous_word_bias(teacher: Teacher, tokens: torch.Tensor) -> torch.Tensor:
    """(B, L, V) log p_teacher(word at i | the sentence's words after i) for each word position i of
    ``tokens`` (B, L), laid out as for :func:`next_word_bias`, from a ``reverse`` teacher; 0 at
    START, at the sentence's end (its first END or PAD) and after it. The teacher reads only the
    reversed columns the longest sentence needs."""
    vocab = teacher.vocab
    batch, length = tokens.shape
    position = torch.arange(length, device=tokens.device).expand(batch, length)
    stops = ((tokens == vocab.end) | (tokens == vocab.pad)) & (position > 0)
    n = torch.where(stops.any(1), stops.int().argmax(1), length) - 1               # (B,) words per sentence
    words = (position >= 1) & (position <= n[:, None])
    reversed_tokens = torch.full_like(tokens, vocab.pad)                           # START w_n … w_1 END PAD…
    reversed_tokens[:, 0] = vocab.start
    mirror = (n[:, None] + 1 - position).clamp(0, length - 1)                      # its k-th reads position n+1−k
    reversed_tokens[words] = tokens.gather(1, mirror)[words]
    reversed_tokens[position == n[:, None] + 1] = vocab.end
    read = max(int(n.max()), 1)
    log_probs = teacher.net(reversed_tokens[:, :read]).float().log_softmax(-1)     # (B, read, V): the word after each
    # position i is the reversed sentence's (n+1−i)-th word, predicted at its (n−i)-th position
    read_at = (n[:, None] - position).clamp(0, read - 1)
    bias = log_probs.gather(1, read_at[..., None].expand(-1, -1, log_probs.shape[-1]))
    return bias * words[..., None]
