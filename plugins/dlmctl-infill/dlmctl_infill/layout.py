"""Where a template's words go in the model's sequence, as a token bias for the sampler.

The model only ever saw PAD at the end of a sentence, so a blank's size is fixed before sampling:
``draw_lengths`` picks the size of every variable blank except a trailing one, which stays open
(the model ends the sentence where it likes, as in unconditional sampling).
"""

from __future__ import annotations

import torch

from dlmctl.vocab import Vocabulary
from dlmctl_infill.template import Blank, Template

NEG = float("-inf")


def draw_lengths(template: Template, seq_len: int, generator: torch.Generator) -> list[int]:
    """A size for every blank, uniform in its range, so the whole sentence fits ``seq_len``
    (START and END included). A trailing variable blank keeps its minimum size here; the
    layout leaves it open."""
    blanks = template.blanks
    room = seq_len - 2 - template.min_words
    lengths = []
    for i, blank in enumerate(blanks):
        if blank.fixed or (i == len(blanks) - 1 and template.free_tail):
            lengths.append(blank.low)
            continue
        extra = room if blank.high is None else min(blank.high - blank.low, room)
        n = blank.low + int(torch.randint(extra + 1, (1,), generator=generator))
        room -= n - blank.low
        lengths.append(n)
    return lengths


def layout_bias(template: Template, vocab: Vocabulary, seq_len: int) -> torch.Tensor:
    """(seq_len, V) additive scores: 0 where a word may stand, −inf elsewhere.

    Known words are the only choice at their positions; blank positions take any non-special word;
    START opens the sentence; END follows the last segment and PAD fills the rest. Every blank
    but a trailing variable one must have a fixed size (see :meth:`Template.with_lengths`).
    """
    bias = torch.zeros(seq_len, len(vocab))
    specials = [vocab.start, vocab.end, vocab.unk, vocab.pad]

    def only(position: int, word: int) -> None:
        bias[position] = NEG
        bias[position, word] = 0.0

    only(0, vocab.start)
    position = 1
    for i, segment in enumerate(template.segments):
        if isinstance(segment, str):
            only(position, vocab.index[segment])
            position += 1
        elif template.free_tail and i == len(template.segments) - 1:
            bias[position:position + segment.low, specials] = NEG
            position += segment.low
            _open_tail(bias, position, segment, vocab)
            return bias
        else:
            if not segment.fixed:
                raise ValueError(f"blank {segment} needs a size before layout")
            bias[position:position + segment.low, specials] = NEG
            position += segment.low
    only(position, vocab.end)
    for later in range(position + 1, seq_len):
        only(later, vocab.pad)
    return bias


def _open_tail(bias: torch.Tensor, start: int, blank: Blank, vocab: Vocabulary) -> None:
    """From ``start`` on: up to ``blank.high - blank.low`` more words, then END, then PAD; the
    last position is END or PAD."""
    seq_len = bias.shape[0]
    stop = seq_len - 1 if blank.high is None else min(seq_len - 1, start + blank.high - blank.low)
    bias[start:, [vocab.start, vocab.unk]] = NEG
    bias[stop:] = NEG
    bias[stop:, [vocab.end, vocab.pad]] = 0.0
