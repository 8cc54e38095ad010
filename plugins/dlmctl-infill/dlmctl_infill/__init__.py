"""Infilling control: known words stay verbatim, blanks are generated (DESIGN §2, infilling row).

No classifier: the template becomes a token bias, so every time the sampler snaps x̂0 to words
(clamping, and the final rounding) the known positions hold their words, the blanks take any
non-special word, and START/END/PAD frame the sentence. Known positions therefore re-enter each
step as their embedding noised to that step (the posterior of the clamped x̂0), and the denoiser
writes the blanks with both left and right context.
"""

from __future__ import annotations

import zlib
from typing import Sequence

import torch

from dlmctl.control import Control, Guidance
from dlmctl.hookspecs import hookimpl
from dlmctl.vocab import tokenize
from dlmctl_infill.layout import draw_lengths, layout_bias
from dlmctl_infill.template import FORM, Template, parse_template


class InfillControl(Control):
    name = "infill"
    description = "fill the blanks of a template, keeping its known words verbatim"
    target_help = FORM
    default_weight = 0.01

    def parse_target(self, text: str, model) -> Template:
        return parse_template(text, model.vocab, model.config.seq_len)

    def guidance(self, model, targets: Sequence[Template | None]) -> Guidance:
        """Each row's layout; variable blanks get a size drawn per row, seeded by the template
        text and the row, so a batch of one template explores several sizes reproducibly."""
        seq_len = model.config.seq_len
        bias = torch.zeros(len(targets), seq_len, len(model.vocab))
        for row, template in enumerate(targets):
            if template is None:
                continue
            seed = zlib.crc32(f"{row}:{template.text}".encode())
            lengths = draw_lengths(template, seq_len, torch.Generator().manual_seed(seed))
            bias[row] = layout_bias(template.with_lengths(lengths), model.vocab, seq_len)
        return Guidance(token_bias=bias)

    def score(self, text: str, target: Template) -> float:
        return float(target.match(tokenize(text)) is not None)


@hookimpl
def register_controls(register):
    register(InfillControl())
