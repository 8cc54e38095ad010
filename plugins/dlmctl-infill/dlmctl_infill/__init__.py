"""Infilling control: known words stay verbatim, blanks are generated.

No classifier: the template becomes a token bias, so every time the sampler snaps x̂0 to words
(clamping, and the final rounding) the known positions hold their words, the blanks take any
non-special word, and START/END/PAD frame the sentence. Known positions therefore re-enter each
step as their embedding noised to that step (the posterior of the clamped x̂0), and the denoiser
writes the blanks with both left and right context.

The gradient term is the rounding log-likelihood of the pinned words (known words, START, END,
PAD) under the denoiser's x̂0 prediction: it moves the latents, blanks included, towards a sentence
whose x̂0 agrees with the template; ``benchmarks/infill.py`` measures what it adds (docs/benchmarks.md).
"""

from __future__ import annotations

import zlib
from typing import Sequence

from dlmctl.control import Control, Guidance
from dlmctl.hookspecs import hookimpl
from dlmctl.vocab import tokenize
from dlmctl_infill.template import FORM, Template, parse_template


class InfillControl(Control):
    name = "infill"
    description = "fill the blanks of a template, keeping its known words verbatim"
    target_help = FORM
    example_target = "The Eagle is a [2] pub near [1-3] ."
    default_weight = 0.1

    def parse_target(self, text: str, model) -> Template:
        return parse_template(text, model.vocab, model.config.seq_len)

    def guidance(self, model, targets: Sequence[Template | None]) -> Guidance:
        """Each row's layout; variable blanks get a size drawn per row, seeded by the template
        text and the row, so a batch of one template explores several sizes reproducibly."""
        import torch

        from dlmctl_infill.layout import draw_lengths, layout_bias

        seq_len = model.config.seq_len
        bias = torch.zeros(len(targets), seq_len, len(model.vocab))
        for row, template in enumerate(targets):
            if template is None:
                continue
            seed = zlib.crc32(f"{row}:{template.text}".encode())
            lengths = draw_lengths(template, seq_len, torch.Generator().manual_seed(seed))
            bias[row] = layout_bias(template.with_lengths(lengths), model.vocab, seq_len)
        return Guidance(log_prob=pinned_log_prob(model, bias), token_bias=bias)

    def score(self, text: str, target: Template) -> float:
        return float(target.match(tokenize(text)) is not None)

    def fill(self, model, template: str, n: int, *, seed: int, controls: dict[str, str], mbr: int | None,
             candidates: int | None, weights, steps: int, temperature: float, batch_size: int,
             show_progress: bool, host):
        """``n`` fillings of ``template`` (:class:`dlmctl_infill.fill.Filled`), chosen as
        :func:`dlmctl_infill.fill.selection` says; what ``dlmctl.Model.infill`` runs."""
        from dlmctl.sampling import SamplerConfig
        from dlmctl_infill.fill import infill, selection

        mbr, candidates = selection(mbr, candidates)
        return infill(model, [template], n, mbr=mbr, candidates=candidates, controls=controls, weights=weights,
                      sampler=SamplerConfig(steps=steps, temperature=temperature), seed=seed,
                      batch_size=batch_size, show_progress=show_progress, host=host)[0]


def pinned_log_prob(model, bias):
    """``f(x, t) -> (B,)``: Σ over positions with one allowed word in ``bias`` (B, L, V) of
    log p(that word) under the rounding head of the denoiser's x̂0 = f_θ(x, t); rows without pinned
    positions give 0."""
    import torch

    pinned = ((bias == 0).sum(-1) == 1).float()                          # (B, L)
    words = bias.argmax(-1)                                              # (B, L)

    def log_prob(x, t):
        logp = torch.log_softmax(model.denoiser.logits(model.denoiser(x, t)), -1)   # (B, L, V)
        picked = logp.gather(-1, words.to(x.device)[..., None])[..., 0]             # (B, L)
        return (picked * pinned.to(x.device)).sum(1)

    return log_prob


@hookimpl
def register_controls(register):
    register(InfillControl())


@hookimpl
def register_commands(register):
    from dlmctl_infill.cli import infill_command

    register("infill", infill_command)
