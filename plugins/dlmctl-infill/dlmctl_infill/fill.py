"""Fill a template: sample a pool of candidates per output, keep the best of each pool.

A pool holds ``mbr`` samples (chosen by minimum Bayes risk) or, when ``mbr`` is 1, ``candidates``
samples (chosen by the model's own denoising loss; a variable blank gets its own sizes in each
sample). Other controls (``length``, ``pos``, …) join every row; a candidate
that fails a control's oracle ranks below those that pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import torch

from dlmctl.errors import UsageError
from dlmctl.generation import generate, prepare_controls
from dlmctl.model import DiffusionLM
from dlmctl.plugins import PluginHost
from dlmctl.rerank import denoising_loss
from dlmctl.sampling import SamplerConfig
from dlmctl.vocab import tokenize
from dlmctl_infill.layout import draw_lengths
from dlmctl_infill.select import mbr_index
from dlmctl_infill.template import parse_template


#: samples per filling whose consensus is kept unless told otherwise (it filled blanks closest to the
#: reference in benchmarks/infill.py)
DEFAULT_MBR = 4


def selection(mbr: int | None, candidates: int | None) -> tuple[int, int]:
    """(mbr, candidates) for :func:`infill` from what a user gave (None: not given): the consensus
    of DEFAULT_MBR samples unless ``candidates`` alone is given."""
    if mbr is not None and candidates is not None and mbr > 1 and candidates > 1:
        raise UsageError(f"mbr {mbr} and candidates {candidates} are two ways of choosing among samples; "
                         "give one of them")
    if candidates is not None and mbr is None:
        return 1, candidates
    return (DEFAULT_MBR if mbr is None else mbr), (candidates or 1)


@dataclass
class Filled:
    """One output: the sentence, the words of each blank, the template it was sampled with (blank
    sizes fixed) and the pool of samples it was chosen from."""

    text: str
    fills: list[list[str]]
    layout: str
    pool: list[str] = field(default_factory=list)


def infill(model: DiffusionLM, templates: Sequence[str], n: int = 5, *, mbr: int = 1, candidates: int = 4,
           controls: Mapping[str, str] | None = None, weights: Mapping[str, float] | None = None,
           sampler: SamplerConfig | None = None, seed: int = 0, batch_size: int = 64,
           show_progress: bool = True, host: PluginHost | None = None) -> list[list[Filled]]:
    """``n`` fillings of each template (sampled together in batches); ``controls`` maps other
    control names to targets, applied to every row."""
    controls = dict(controls or {})
    if "infill" in controls:
        raise UsageError("give the template as the argument, not as --control infill=…")
    if n < 1 or mbr < 1 or candidates < 1:
        raise UsageError("-n, --mbr and --candidates must be at least 1")
    seq_len = model.config.seq_len
    generator = torch.Generator().manual_seed(seed)
    pools: list[tuple[int, int]] = []          # (template index, first row) of every pool
    layouts: list[str] = []
    for index, text in enumerate(templates):
        template = parse_template(text, model.vocab, seq_len)
        size = mbr if mbr > 1 else candidates
        for _ in range(n):
            pools.append((index, len(layouts)))
            layouts += [template.with_lengths(draw_lengths(template, seq_len, generator)).text
                        for _ in range(size)]
    requests = [{"infill": layout, **controls} for layout in layouts]
    texts = [g.text for g in generate(model, requests, weights=weights, sampler=sampler, seed=seed,
                                      batch_size=batch_size, show_progress=show_progress, host=host)]
    passed = _oracle_passes(model, requests, texts, host)
    results: list[list[Filled]] = [[] for _ in templates]
    ends = [start for _, start in pools[1:]] + [len(layouts)]
    for (index, start), end in zip(pools, ends):
        best = start + _choose(model, texts[start:end], passed[start:end], mbr)
        fixed = parse_template(layouts[best], model.vocab, seq_len)
        fills = fixed.match(tokenize(texts[best])) or []
        results[index].append(Filled(texts[best], fills, layouts[best], texts[start:end]))
    return results


def _oracle_passes(model: DiffusionLM, requests: list[dict[str, str]], texts: list[str],
                   host: PluginHost | None) -> list[int]:
    """How many of each row's controls their oracles accept."""
    prepared = prepare_controls(model, requests, host=host)
    return [sum(int(prepared.controls[name].score(text, target) >= 1.0) for name, target in row.items())
            for row, text in zip(prepared.targets, texts)]


def _choose(model: DiffusionLM, texts: list[str], passed: list[int], mbr: int) -> int:
    """Index of the chosen text: most oracles passed, then MBR (``mbr`` > 1) or lowest loss."""
    if len(texts) == 1:
        return 0
    top = max(passed)
    eligible = [i for i, p in enumerate(passed) if p == top]
    if mbr > 1:
        return eligible[mbr_index([texts[i] for i in eligible])]
    ids = model.vocab.encode_batch([tokenize(texts[i]) for i in eligible], model.config.seq_len)
    return eligible[int(denoising_loss(model, ids).argmin())]
