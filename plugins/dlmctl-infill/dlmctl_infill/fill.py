"""Fill a template: sample a pool of candidates per output, keep the best of each pool.

A pool holds ``mbr`` samples (chosen by minimum Bayes risk) or, when ``mbr`` is 1, ``candidates``
samples (chosen by the model's own denoising loss; a variable blank gets its own sizes in each
sample). Other controls (``length``, ``pos``, …) join every row; a candidate
that fails a control's oracle ranks below those that pass. The fillings of one template never
repeat each other while their pools hold anything else, and a pool that holds nothing else is
sampled again with more noise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Mapping, Sequence

import torch

from dlmctl.errors import UsageError
from dlmctl.generation import REDRAW_TEMPERATURE, REDRAWS, batch_seed, exact_repeats, generate, prepare_controls
from dlmctl.model import DiffusionLM
from dlmctl.plugins import PluginHost
from dlmctl.rerank import denoising_loss
from dlmctl.sampling import SamplerConfig
from dlmctl.vocab import tokenize
from dlmctl_infill.layout import draw_lengths
from dlmctl_infill.select import mbr_order
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
           show_progress: bool = True, host: PluginHost | None = None, redraws: int = REDRAWS) -> list[list[Filled]]:
    """``n`` fillings of each template (sampled together in batches); ``controls`` maps other
    control names to targets, applied to every row. The fillings of one template differ: each
    pool keeps its best sample that no earlier filling of the template kept, and a pool that
    holds nothing else is drawn again with more noise (as :func:`dlmctl.generation.generate`
    redraws copies), up to ``redraws`` rounds."""
    controls = dict(controls or {})
    if "infill" in controls:
        raise UsageError("give the template as the argument, not as --control infill=…")
    if n < 1 or mbr < 1 or candidates < 1:
        raise UsageError("-n, --mbr and --candidates must be at least 1")
    seq_len = model.config.seq_len
    generator = torch.Generator().manual_seed(seed)
    pools: list[Pool] = []
    layouts: list[str] = []
    for index, text in enumerate(templates):
        template = parse_template(text, model.vocab, seq_len)
        size = mbr if mbr > 1 else candidates
        for _ in range(n):
            pools.append(Pool(index, range(len(layouts), len(layouts) + size)))
            layouts += [template.with_lengths(draw_lengths(template, seq_len, generator)).text
                        for _ in range(size)]
    requests = [{"infill": layout, **controls} for layout in layouts]
    sampler = sampler or SamplerConfig()
    texts = _sample(model, requests, weights, sampler, seed, batch_size, show_progress, host)
    passed = _oracle_passes(model, requests, texts, host)
    chosen: list[int] = []
    for p, pool in enumerate(pools):
        chosen.append(_pick(model, pool, texts, passed, mbr, _kept_by_others(pools, chosen, texts, p)))
    noisier = replace(sampler, temperature=max(sampler.temperature, REDRAW_TEMPERATURE))
    for attempt in range(1, redraws + 1):
        copies = exact_repeats([{"infill": templates[pool.template]} for pool in pools],
                               [texts[row] for row in chosen])     # pools whose filling an earlier one chose
        if not copies:
            break
        rows = [row for p in copies for row in pools[p].rows]
        fresh = _sample(model, [requests[row] for row in rows], weights, noisier,
                        batch_seed(seed, -attempt), batch_size, False, host)   # noise the first draw never used
        fresh_passed = _oracle_passes(model, [requests[row] for row in rows], fresh, host)
        for row, text, count in zip(rows, fresh, fresh_passed):
            texts[row], passed[row] = text, count
        for p in copies:
            chosen[p] = _pick(model, pools[p], texts, passed, mbr, _kept_by_others(pools, chosen, texts, p))
    results: list[list[Filled]] = [[] for _ in templates]
    for pool, best in zip(pools, chosen):
        fixed = parse_template(layouts[best], model.vocab, seq_len)
        fills = fixed.match(tokenize(texts[best])) or []
        results[pool.template].append(Filled(texts[best], fills, layouts[best], [texts[row] for row in pool.rows]))
    return results


@dataclass
class Pool:
    """The sample rows one filling of template ``template`` (an index) is chosen from."""

    template: int
    rows: range


def _sample(model: DiffusionLM, requests: list[dict[str, str]], weights: Mapping[str, float] | None,
            sampler: SamplerConfig, seed: int, batch_size: int, show_progress: bool,
            host: PluginHost | None) -> list[str]:
    """One sampled text per request row."""
    return [g.text for g in generate(model, requests, weights=weights, sampler=sampler, seed=seed,
                                     batch_size=batch_size, show_progress=show_progress, host=host)]


def _oracle_passes(model: DiffusionLM, requests: list[dict[str, str]], texts: list[str],
                   host: PluginHost | None) -> list[int]:
    """How many of each row's controls their oracles accept."""
    prepared = prepare_controls(model, requests, host=host)
    return [sum(int(prepared.controls[name].score(text, target) >= 1.0) for name, target in row.items())
            for row, text in zip(prepared.targets, texts)]


def _pick(model: DiffusionLM, pool: Pool, texts: list[str], passed: list[int], mbr: int,
          kept: Sequence[str]) -> int:
    """The row chosen from ``pool``: the first by :func:`_ranking` whose text is not in ``kept``
    (what the template's other fillings chose), else the first."""
    order = [pool.rows[i] for i in _ranking(model, [texts[row] for row in pool.rows],
                                             [passed[row] for row in pool.rows], mbr)]
    return next((row for row in order if texts[row] not in kept), order[0])


def _kept_by_others(pools: Sequence[Pool], chosen: Sequence[int], texts: Sequence[str], p: int) -> list[str]:
    """The texts that the pools of pool ``p``'s template other than ``p`` chose (``chosen``: the
    chosen row of the first pools, or of all)."""
    return [texts[row] for q, row in enumerate(chosen) if q != p and pools[q].template == pools[p].template]


def _ranking(model: DiffusionLM, texts: list[str], passed: list[int], mbr: int) -> list[int]:
    """Indices of ``texts`` best first: most oracles passed, then the MBR consensus among those
    (``mbr`` > 1) or lowest denoising loss."""
    if len(texts) == 1:
        return [0]
    if mbr == 1:
        ids = model.vocab.encode_batch([tokenize(text) for text in texts], model.config.seq_len)
        loss = denoising_loss(model, ids).tolist()
    order = []
    for count in sorted(set(passed), reverse=True):      # the consensus among those passing as many
        group = [i for i, p in enumerate(passed) if p == count]
        order += ([group[i] for i in mbr_order([texts[i] for i in group])] if mbr > 1
                  else sorted(group, key=loss.__getitem__))
    return order
