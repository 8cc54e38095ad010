"""Biases that controls share: fixed token biases (:attr:`dlmctl.control.Guidance.token_bias`),
phrases held where the model finds them most plausible, and the chains of one target kept apart
(:attr:`~dlmctl.control.Guidance.word_bias`).

A *phrase* is a tuple of words, each the tuple of vocabulary ids that may stand for it (its case
variants, say); :func:`pack_phrases` pads the phrases of a batch into tensors."""

from __future__ import annotations

from functools import partial
from typing import Callable, Hashable, Sequence

import torch

from dlmctl.vocab import Vocabulary

Phrase = tuple[tuple[int, ...], ...]
#: stands for log 0 in masked entries; finite, so that gradients through masked rows stay finite
NEG = -1e9
#: the score a held word gets: far above any word score, so the clamp always takes it
HOLD = 1e4


def length_bias(vocab: Vocabulary, seq_len: int, lengths: Sequence[int | None]) -> torch.Tensor:
    """(B, L, V) bias that holds a sentence of exactly ``lengths[b]`` words in row b: START at
    position 0, any word but the specials and UNK at 1..n, END at n + 1 and PAD after (−inf for
    everything else); zeros for rows whose length is None."""
    bias = torch.zeros(len(lengths), seq_len, len(vocab))
    specials = [vocab.start, vocab.end, vocab.pad, vocab.unk]
    for row, n in enumerate(lengths):
        if n is None:
            continue
        bias[row, 1:n + 1, specials] = float("-inf")
        for position, word in ((0, vocab.start), (n + 1, vocab.end)):
            bias[row, position] = float("-inf")
            bias[row, position, word] = 0.0
        bias[row, n + 2:] = float("-inf")
        bias[row, n + 2:, vocab.pad] = 0.0
    return bias


def case_variants(vocab: Vocabulary) -> dict[str, tuple[int, ...]]:
    """Lower-cased word → ids of every vocabulary word with that spelling up to case."""
    variants: dict[str, list[int]] = {}
    for i, word in enumerate(vocab.words):
        variants.setdefault(word.lower(), []).append(i)
    return {w: tuple(ids) for w, ids in variants.items()}


def pack_phrases(rows: Sequence[Sequence[Phrase]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The phrases of each row (none for a row without) as ``index``, ``valid`` (B, K, M, C) and
    ``used`` (B, K, M): K phrases of up to M words, each word up to C ids; which ids are real and
    which phrase words exist."""
    k = max((len(r) for r in rows), default=0) or 1
    m = max((len(p) for r in rows for p in r), default=0) or 1
    c = max((len(w) for r in rows for p in r for w in p), default=0) or 1
    index = torch.zeros(len(rows), k, m, c, dtype=torch.long)
    valid = torch.zeros(len(rows), k, m, c, dtype=torch.bool)
    for b, row in enumerate(rows):
        for kk, phrase in enumerate(row):
            for j, word_ids in enumerate(phrase):
                index[b, kk, j, :len(word_ids)] = torch.tensor(word_ids)
                valid[b, kk, j, :len(word_ids)] = True
    return index, valid, valid.any(-1)


def phrase_starts(word_log_probs: torch.Tensor, index: torch.Tensor, valid: torch.Tensor,
                  used: torch.Tensor) -> torch.Tensor:
    """(B, L, K) log p(phrase k starts at position s) = Σ_j logsumexp over word j's ids of
    log p(id at s+j), from ``word_log_probs`` (B, L, V); NEG-like where the phrase would run past
    the end (the rest as :func:`pack_phrases` gives them)."""
    return _starts(_id_log_probs(word_log_probs, index, valid), used)


def _id_log_probs(word_log_probs: torch.Tensor, index: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """(B, L, K, M, C) log p(id c of word j of phrase k at position s); NEG where ``valid`` is not."""
    b, length, _ = word_log_probs.shape
    gathered = word_log_probs.gather(2, index.reshape(b, 1, -1).expand(b, length, -1))
    return gathered.reshape(b, length, *index.shape[1:]).masked_fill(~valid[:, None], NEG)


def _starts(per_id: torch.Tensor, used: torch.Tensor) -> torch.Tensor:
    """:func:`phrase_starts` from the per-id log-probabilities (B, L, K, M, C) of :func:`_id_log_probs`."""
    b, length, k, m, _ = per_id.shape
    per_word = per_id.logsumexp(-1)                                # (B, L, K, M)
    padded = torch.cat([per_word, per_word.new_full((b, m, k, m), NEG)], dim=1)
    starts = per_word.new_zeros(b, length, k)
    for j in range(m):
        shifted = padded[:, j:j + length, :, j]
        starts = starts + torch.where(used[:, None, :, j], shifted, torch.zeros_like(shifted))
    return starts


def hold_phrases(scores: torch.Tensor, index: torch.Tensor, valid: torch.Tensor, used: torch.Tensor,
                 strength: float = HOLD) -> torch.Tensor:
    """(B, L, V) scores that hold every phrase where the model finds it most plausible now (a
    ``word_bias``).

    From the word scores (B, L, V) of one clamping step, phrase by phrase (in row order), the
    start s whose :func:`phrase_starts` log p is highest among the starts whose words leave the
    positions an earlier phrase holds alone; each of its words gets ``strength`` on its likeliest id
    at s + j. Rows without phrases get 0."""
    b, length, _ = scores.shape
    per_id = _id_log_probs(scores.float().log_softmax(-1), index, valid)   # (B, L, K, M, C)
    starts = _starts(per_id, used)                                 # (B, L, K)
    bias = torch.zeros_like(scores)
    widths = used.sum(-1)                                          # (B, K) words per phrase
    held = torch.zeros(b, length, dtype=torch.bool, device=scores.device)
    rows, positions = torch.arange(b, device=scores.device), torch.arange(length, device=scores.device)
    for k in range(index.shape[1]):
        width = widths[:, k]                                       # (B,)
        covered = torch.zeros_like(held)                           # start s would cover a held position
        for j in range(index.shape[2]):
            covered |= held.roll(-j, dims=1) & (j < width)[:, None]
        blocked = covered | (positions[None] > length - width[:, None])
        start = starts[:, :, k].masked_fill(blocked, float("-inf")).argmax(1)   # (B,)
        for j in range(index.shape[2]):
            active = j < width
            at = (start + j).clamp(max=length - 1)
            word = index[rows, k, j, per_id[rows, at, k, j].argmax(-1)]
            bias[rows[active], at[active], word[active]] = strength
            held[rows[active], at[active]] = True
    return bias


def hold(rows: Sequence[Sequence[Phrase]], device: torch.device | str | None = None
         ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A ``word_bias`` that holds the phrases of each row (:func:`pack_phrases`,
    :func:`hold_phrases`)."""
    index, valid, used = (tensor.to(device) for tensor in pack_phrases(rows))
    return partial(hold_phrases, index=index, valid=valid, used=used)


def sibling_share(keys: Sequence[Hashable | None]) -> torch.Tensor:
    """(B, B): row b spreads a weight of 1 evenly over the other chains whose key equals its own
    (the chains sampled for one target); rows keyed None, or without such chains, are all 0."""
    same = torch.tensor([[a is not None and a == b and i != j for j, b in enumerate(keys)]
                         for i, a in enumerate(keys)], dtype=torch.float32)
    return same / same.sum(1, keepdim=True).clamp(min=1)


def apart_from_siblings(scores: torch.Tensor, share: torch.Tensor, strength: float) -> torch.Tensor:
    """(B, L, V) scores that keep the chains of one target apart (a ``word_bias``): at each
    position, every word loses ``strength`` nats times the ``share`` (B, B, :func:`sibling_share`)
    of the chain's siblings whose best word there it is in ``scores`` (B, L, V)."""
    b, length, _ = scores.shape
    picks = scores.argmax(-1).T.unsqueeze(0).expand(b, length, b)          # [r, l, c] = pick of chain c at l
    weights = share.to(scores)[:, None, :].expand(b, length, b)            # [r, l, c] = share of c for r
    return torch.zeros_like(scores).scatter_add_(2, picks, -strength * weights)


def keep_apart(keys: Sequence[Hashable | None], strength: float,
               device: torch.device | str | None = None) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """A ``word_bias`` that keeps the chains with equal ``keys`` (one per chain: its target) apart
    by ``strength`` nats (:func:`apart_from_siblings`); None when ``strength`` is 0."""
    if not strength:
        return None
    return partial(apart_from_siblings, share=sibling_share(keys).to(device), strength=strength)
