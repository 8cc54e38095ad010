"""From control requests to sentences: parse targets, batch rows, build guidance, sample, decode.

A *request* is one row's controls, ``{"length": "12", "pos": "DET NOUN …"}``; several keys compose.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

import torch

from dlmctl import defaults
from dlmctl.control import Control, Guidance
from dlmctl.errors import PluginError, TargetError, UsageError
from dlmctl.critique import sentence_flaws
from dlmctl.fluency import sentence_scores
from dlmctl.loop import init_distributed
from dlmctl.model import DiffusionLM
from dlmctl.plugins import PluginHost, get_host
from dlmctl.progress import progress_bar
from dlmctl.repair import repair
from dlmctl.rerank import denoising_loss, pick_distinct, selection_keys
from dlmctl.sampling import SCHEDULE_SETTINGS, Sampler, SamplerConfig, Step, WeightedGuidance
from dlmctl.teacher import model_teacher
from dlmctl.vocab import detokenize


DEFAULT_CANDIDATES = defaults.CANDIDATES   # samples per sentence unless told (or a control asks for more)
MAX_OVERLAP = defaults.MAX_OVERLAP         # word-bigram overlap above which two samples of one request repeat
REDRAWS = 2                 # rounds of fresh samples for rows that came out as exact copies of another of their request
REDRAW_TEMPERATURE = 1.3    # their noise scale: the default's copies come from a narrow mode
#: the λ a control may be given: beyond these, −log p / λ overflows float32 (or the control vanishes)
MIN_WEIGHT, MAX_WEIGHT = 1e-12, 1e12


@dataclass
class PreparedControls:
    """Controls used by a set of requests, their parsed targets per row, and their λ."""

    controls: dict[str, Control]
    targets: list[dict[str, Any]]
    weights: dict[str, float]


def prepare_controls(model: DiffusionLM, requests: Sequence[Mapping[str, str]],
                     weights: Mapping[str, float] | None = None,
                     host: PluginHost | None = None) -> PreparedControls:
    """Look up every control (unknown → suggestion) and parse every target once."""
    host = host or get_host()
    controls: dict[str, Control] = {}
    cache: dict[tuple[str, str], Any] = {}
    targets: list[dict[str, Any]] = []
    for request in requests:
        row = {}
        for name, text in request.items():
            if name not in controls:
                controls[name] = host.control(name)
            if (name, text) not in cache:
                try:
                    cache[name, text] = controls[name].parse_target(text, model)
                except TargetError as exc:
                    raise TargetError(f"{name}: {exc}") from None
            row[name] = cache[name, text]
        check_lengths(controls, row)
        targets.append(row)
    weights = dict(weights or {})
    for name, value in weights.items():
        if name not in controls:
            raise UsageError(f"--weight {name}={value}: no --control {name} is used")
        if controls[name].default_weight is None:
            raise UsageError(f"--weight {name}={value}: {name} steers without a gradient term, so it has no λ to set")
        if not MIN_WEIGHT <= value <= MAX_WEIGHT:
            raise UsageError(f"--weight {name}={value}: λ must be between {MIN_WEIGHT:g} and {MAX_WEIGHT:g} "
                             f"(smaller steers harder; {name}'s default is {controls[name].default_weight:g})")
    resolved = {name: weights.get(name, c.default_weight) for name, c in controls.items()}
    return PreparedControls(controls, targets, resolved)


@dataclass
class Generated:
    """One finished sentence, with what was computed to choose it.

    ``scores``: with several candidates, the selection measures of the kept one: ``loss`` (the
    model's denoising loss, lower is better), ``classifier_log_prob`` (Σ_c log p_c(target_c) / λ_c
    of its classifier controls, if any), ``worst_token_nll`` (the teacher's surprisal at its
    least likely token, if the model has a teacher) and ``flaws`` (how many flaws the installed
    critics find in it, :func:`dlmctl.critique.sentence_flaws`). ``trajectory``: with
    ``trajectory_every`` k, the words of x̂0 as (chain step, text) every k steps, from the noisiest to
    the last (step 0)."""

    text: str
    scores: dict[str, float] = field(default_factory=dict)
    trajectory: list[tuple[int, str]] = field(default_factory=list)


def check_lengths(controls: Mapping[str, Control], row: Mapping[str, Any]) -> None:
    """A target error when the controls of one request fix different sentence lengths."""
    fixed = {name: n for name, target in row.items() if (n := controls[name].sentence_length(target)) is not None}
    if len(set(fixed.values())) > 1:
        asked = ", ".join(f"{name} {n} words" for name, n in sorted(fixed.items()))
        raise TargetError(f"the controls ask for sentences of different lengths ({asked}); make them agree")


def generate(model: DiffusionLM, requests: Sequence[Mapping[str, str]], *,
             weights: Mapping[str, float] | None = None, sampler: SamplerConfig | None = None,
             seed: int = 0, batch_size: int = defaults.BATCH_SIZE, show_progress: bool = True,
             host: PluginHost | None = None, candidates: int | None = 1,
             survivors: int | None = defaults.SURVIVORS, prune_at: float | None = None,
             max_overlap: float = MAX_OVERLAP, trajectory_every: int = 0,
             on_step: Callable[[int, dict[int, str]], None] | None = None,
             redraws: int = REDRAWS, avoid: Mapping[str, Sequence[str]] | None = None) -> list[Generated]:
    """One sentence per request (rows may repeat a request to get several samples).

    With ``candidates`` > 1, that many samples are drawn per row and the rows of one request share
    the pool: each keeps, best first, a candidate ranked high by the model's denoising loss, by the
    classifiers of its controls and by the teacher's per-sentence fluency, the fluent ones first where
    its controls ask (:func:`choose`, :attr:`~dlmctl.control.Control.fluent_first`), skipping
    one that repeats a kept sample of the same request (word-bigram overlap above ``max_overlap``)
    while others remain (``avoid``: texts kept before, {:func:`request_key`: texts}); a sample that
    is still an exact copy of another of its request (the pool held nothing else) is drawn again,
    with more noise (``REDRAW_TEMPERATURE``), up to ``redraws`` rounds. None:
    :func:`default_candidates`. The weak candidates are dropped early:
    after the first ``prune_at`` share of the chain (1: never; None: :func:`default_prune_at`), the
    same choice on the words of each candidate's x̂0 keeps ``survivors`` per row (None: all), and
    only those sample the rest of the chain (:func:`pruning_plan`). ``trajectory_every`` k > 0
    keeps the decoded x̂0 of the first step and of every step whose index is a multiple of k (the
    chain counts down to 0) in :attr:`Generated.trajectory`, and at each of those steps calls
    ``on_step(index, {request row: x̂0 text of its first candidate})`` for the rows of the batch
    being sampled (to show sentences forming while they are sampled).

    Under ``torchrun`` the batches are shared out over the processes and gathered again, and every
    process returns what one process alone would (each batch draws its own noise, :func:`batch_seed`)."""
    if candidates is not None and candidates < 1:
        raise UsageError(f"--candidates {candidates}: need at least 1 sample per sentence")
    if survivors is not None and survivors < 1:
        raise UsageError(f"--survivors {survivors}: need at least 1 candidate per sentence to finish")
    if prune_at is not None and not 0 < prune_at <= 1:
        raise UsageError(f"--prune-at {prune_at}: need a share of the chain in (0, 1] (1: never prune)")
    if trajectory_every < 0:
        raise UsageError(f"trajectory_every {trajectory_every}: need 0 (off) or a positive number of steps")
    prepared = prepare_controls(model, requests, weights, host)
    candidates = candidates or default_candidates(prepared.controls.values())
    prune_at = prune_at or default_prune_at(prepared.controls.values())
    run = Sampler(model, (sampler or SamplerConfig()).filled(guidance_schedule(prepared.controls.values())))
    plan = pruning_plan(run.index_after(prune_at), candidates, survivors or candidates)
    phases = [Phase(len(requests), count, stop) for count, stop in plan]
    job = SamplingJob(model, run, prepared, request_ids(requests), batch_size, seed, trajectory_every, on_step,
                      judged=candidates > 1, shard=init_distributed(model.device))
    with progress_bar("sampling", job.work(phases), enabled=show_progress and job.shard.is_main) as bar:
        sampled, first_batch = None, 0
        for before, phase in zip([None, *phases], phases):
            if before is not None:        # keep phase.group of the before.group chains per row
                kept, _ = choose(model, requests, prepared, sampled.texts, before.group, sampled.on_target,
                                 max_overlap, keep=phase.group, avoid=avoid)
                sampled = sampled.select(kept)
            sampled = job.sample(phase, sampled, bar, first_batch)
            first_batch += len(job.starts(phase))
    if candidates == 1:
        return [Generated(text, {}, path) for text, path in zip(sampled.texts, sampled.paths)]
    chosen, measures = choose(model, requests, prepared, sampled.texts, phases[-1].group, sampled.on_target,
                              max_overlap, avoid=avoid)
    results = [Generated(sampled.texts[i], {name: float(values[i]) for name, values in measures.items()},
                         sampled.paths[i]) for i in chosen]
    noisier = replace(sampler or SamplerConfig(), temperature=max(run.config.temperature, REDRAW_TEMPERATURE))
    for attempt in range(1, redraws + 1):
        repeats = exact_repeats(requests, [g.text for g in results])
        if not repeats:
            break
        kept: dict[str, list[str]] = defaultdict(list)
        redrawn = set(repeats)
        for row, (request, generated) in enumerate(zip(requests, results)):
            if row not in redrawn:
                kept[request_key(request)].append(generated.text)
        fresh = generate(model, [requests[i] for i in repeats], weights=weights, sampler=noisier,
                         seed=batch_seed(seed, -attempt),       # noise that no batch of the first draw uses
                         batch_size=batch_size, show_progress=False, host=host, candidates=candidates,
                         survivors=survivors, prune_at=prune_at, max_overlap=max_overlap,
                         trajectory_every=trajectory_every, redraws=0, avoid=kept)
        for row, generated in zip(repeats, fresh):
            results[row] = generated
    return results


def request_key(request: Mapping[str, Any]) -> str:
    """One string per distinct request: the rows of a request share their candidates."""
    return json.dumps(dict(request), sort_keys=True)


def request_ids(requests: Sequence[Mapping[str, Any]]) -> list[int]:
    """Per request row, a number its equal requests share (0, 1, … in order of first appearance)."""
    ids: dict[str, int] = {}
    return [ids.setdefault(request_key(request), len(ids)) for request in requests]


def exact_repeats(requests: Sequence[Mapping[str, str]], texts: Sequence[str]) -> list[int]:
    """The rows whose text equals that of an earlier row with the same request."""
    seen: set[tuple[str, str]] = set()
    repeats = []
    for row, (request, text) in enumerate(zip(requests, texts)):
        key = (request_key(request), text)
        if key in seen:
            repeats.append(row)
        seen.add(key)
    return repeats


def pruning_plan(stop: int, candidates: int, survivors: int) -> list[tuple[int, int]]:
    """(chains per request row, chain index of its last step) of each stretch of sampling: every
    candidate down to chain index ``stop`` (:meth:`Sampler.index_after` the pruning share), then
    ``survivors`` of them; one stretch when there is nothing to prune. (Halving them in two steps
    instead, 4 → 2 → 1, lost tree and composition success: docs/benchmarks.md.)"""
    if survivors >= candidates or stop == 0:
        return [(candidates, 0)]
    return [(candidates, stop), (survivors, 0)]


@dataclass
class Phase:
    """A stretch of sampling: ``group`` consecutive chains for each of ``requests`` request rows
    (chain c answers row c // group), sampled down to chain index ``stop``."""

    requests: int
    group: int
    stop: int

    @property
    def chains(self) -> int:
        return self.requests * self.group


@dataclass
class SampledBatch:
    """Sampled chains: their x̂0 texts at the last step, their x̂0 paths (with ``trajectory_every``),
    Σ_c log p_c / λ_c (B,) of their classifier controls at the last step (0 without, or when not
    judged) and their last :class:`~dlmctl.sampling.Step`, to go on from."""

    texts: list[str]
    paths: list[list[tuple[int, str]]]
    on_target: torch.Tensor
    last: Step

    def select(self, chains: Sequence[int]) -> "SampledBatch":
        """The same for the chains ``chains`` only (in that order)."""
        return SampledBatch([self.texts[i] for i in chains], [self.paths[i] for i in chains],
                            self.on_target[list(chains)], self.last.select(chains))

    @staticmethod
    def concat(batches: Sequence["SampledBatch"]) -> "SampledBatch":
        """Batches of chains at the same step, as one, in order."""
        return SampledBatch([t for b in batches for t in b.texts], [p for b in batches for p in b.paths],
                            torch.cat([b.on_target for b in batches]), Step.concat([b.last for b in batches]))


@dataclass
class SamplingJob:
    """What every batch of one :func:`generate` call shares; samples a :class:`Phase` in batches,
    shared out over the ``torchrun`` processes. ``requests``: :func:`request_ids` of the rows (the
    chains of one request are pushed apart, ``SamplerConfig.repel``)."""

    model: DiffusionLM
    run: Sampler
    prepared: PreparedControls
    requests: list[int]
    batch_size: int
    seed: int
    trajectory_every: int
    on_step: Callable[[int, dict[int, str]], None] | None
    judged: bool
    shard: Any

    def starts(self, phase: Phase) -> list[int]:
        """The first chain of each batch of ``phase``."""
        return list(range(0, phase.chains, self.batch_size))

    def work(self, phases: Sequence[Phase]) -> int:
        """Denoising steps this process runs for ``phases`` (for the progress bar)."""
        total, first = 0, self.run.chain.num_steps - 1
        for phase in phases:
            total += len(self.starts(phase)[self.shard.rank::self.shard.world]) * (first - phase.stop + 1)
            first = phase.stop - 1
        return total

    def sample(self, phase: Phase, resume: SampledBatch | None, bar, first_batch: int = 0) -> SampledBatch:
        """Every chain of ``phase``, from the noisy start or going on from ``resume`` (one entry
        per chain); batch k draws its noise from :func:`batch_seed` (seed, ``first_batch`` + k)."""
        starts = self.starts(phase)
        batches: dict[int, SampledBatch] = {}
        for number, start in list(enumerate(starts))[self.shard.rank::self.shard.world]:
            chains = list(range(start, min(start + self.batch_size, phase.chains)))
            batches[start] = self.sample_batch(phase, chains, None if resume is None else resume.select(chains),
                                               batch_seed(self.seed, first_batch + number), lambda: bar.advance(1))
        if self.shard.world > 1:
            batches = gather(batches, self.shard.world)
        return SampledBatch.concat([batches[start] for start in starts])

    def guidance(self, targets: Sequence[Mapping[str, Any]]) -> list[WeightedGuidance]:
        """The controls' guidance for chains with these parsed ``targets`` (one {control: target} a chain)."""
        guidance = []
        for name, control in self.prepared.controls.items():
            column = [row.get(name) for row in targets]
            if any(t is not None for t in column):
                guidance.append(weighted(control, control.guidance(self.model, column), self.prepared.weights[name]))
        return guidance

    def sample_batch(self, phase: Phase, chains: list[int], resume: SampledBatch | None, seed: int,
                     advance: Callable[[], None]) -> SampledBatch:
        """Sample the ``chains`` of ``phase`` (indices into its rows) with noise from ``seed``;
        ``advance()`` after every step."""
        model, run = self.model, self.run
        targets = [self.prepared.targets[c // phase.group] for c in chains]
        guidance = self.guidance(targets)
        kept: list[tuple[int, torch.Tensor]] = []
        firsts = [i for i, c in enumerate(chains) if c % phase.group == 0]
        generator = torch.Generator().manual_seed(seed)
        every = self.trajectory_every
        groups = torch.tensor([self.requests[c // phase.group] for c in chains])
        steps = run.steps(len(chains), guidance, generator, None if resume is None else resume.last, phase.stop,
                          groups)
        for step in steps:
            if every and (step.index % every == 0 or step.index == run.chain.num_steps - 1):
                kept.append((step.index, step.tokens))
                if self.on_step is not None:
                    shown = decode(model, step.tokens[firsts])
                    self.on_step(step.index, {chains[i] // phase.group: text for i, text in zip(firsts, shown)})
            advance()
        if phase.stop == 0 and run.config.repair and run.teacher is not None:
            tokens = repair(run, step.tokens, lambda rows: self.guidance([targets[r] for r in rows]), generator,
                            run.config.repair, defaults.REPAIR_SHARE, defaults.REPAIR_ABOVE, defaults.REPAIR_WIDTH)
            step = replace(step, tokens=tokens)
            if kept and kept[-1][0] == 0:            # the trajectory ends with the sample, as repaired
                kept[-1] = (0, tokens)
        paths = [list(resume.paths[i]) if resume else [] for i in range(len(chains))]
        for index, tokens in kept:
            for path, text in zip(paths, decode(model, tokens)):
                path.append((index, text))
        on_target = target_log_prob(model, guidance, step.tokens) if self.judged else torch.zeros(len(chains))
        return SampledBatch(decode(model, step.tokens), paths, on_target, step)


def weighted(control: Control, guidance: Guidance, weight: float | None) -> WeightedGuidance:
    """``guidance`` with its λ; a plugin error if it has a gradient term but its control no λ."""
    if guidance.log_prob is not None and weight is None:
        raise PluginError(f"control '{control.name}' returns a log_prob but its default_weight is None: "
                          f"give it a λ (docs/plugins.md)")
    return WeightedGuidance(guidance, weight)


def batch_seed(seed: int, batch: int) -> int:
    """The noise seed of batch number ``batch``: ``seed`` itself for the first, so a run of one batch
    draws what ``seed`` alone gives; every batch its own stream, so that batches can be sampled in
    any order and by any process (``torchrun``) with the same result."""
    return (seed + batch * 0x9E3779B97F4A7C15) % 2 ** 63


def gather(batches: dict[int, SampledBatch], world: int) -> dict[int, SampledBatch]:
    """Every process's sampled batches, on every process."""
    import torch.distributed as dist

    shards: list[dict[int, SampledBatch] | None] = [None] * world
    dist.all_gather_object(shards, batches)
    return {start: batch for shard in shards for start, batch in (shard or {}).items()}


def decode(model: DiffusionLM, tokens: torch.Tensor) -> list[str]:
    """The text of each row of word ids ``tokens`` (B, L)."""
    return [detokenize(model.vocab.decode(ids)) for ids in tokens.tolist()]


def choose(model: DiffusionLM, requests: Sequence[Mapping[str, str]], prepared: PreparedControls,
           texts: list[str], candidates: int, on_target: torch.Tensor | None,
           max_overlap: float, keep: int = 1,
           avoid: Mapping[str, Sequence[str]] | None = None) -> tuple[list[int], dict[str, torch.Tensor]]:
    """For each request row, the indices into ``texts`` (``candidates`` consecutive candidates per
    row) of the ``keep`` samples it keeps, row by row, rows with equal requests choosing from their
    pooled candidates and apart from the texts ``avoid`` holds for their request (:func:`request_key`);
    and the measures it ranked by, each (len(texts),) (:attr:`Generated.scores`)."""
    on_target = on_target if on_target is not None and on_target.any() else None
    words = [text.split() for text in texts]         # decoded texts: vocabulary words joined by spaces
    ids = model.vocab.encode_batch(words, model.config.seq_len)
    loss = denoising_loss(model, ids).cpu()
    teacher = model_teacher(model)
    fluency = sentence_scores(teacher, words) if teacher is not None else None
    flaws = torch.tensor([float(len(found)) for found in sentence_flaws(model, texts)])
    measures = {"loss": loss, "classifier_log_prob": on_target, "worst_token_nll": fluency, "flaws": flaws}
    pools: dict[str, list[int]] = defaultdict(list)
    for row, request in enumerate(requests):
        pools[request_key(request)].append(row)
    chosen = [0] * (len(requests) * keep)
    for key, rows in pools.items():
        pool = torch.tensor([row * candidates + k for row in rows for k in range(candidates)])
        targets = prepared.targets[rows[0]]          # the request's parsed targets, by control name
        keys = selection_keys(loss[pool], None if on_target is None else on_target[pool],
                              ranks_by_classifier(prepared.controls, targets),
                              None if fluency is None else fluency[pool],
                              chooses_fluent_first(prepared.controls, targets), flaws[pool] > 0)
        order = pool[keys.argsort(stable=True)].tolist()
        picked = pick_distinct(order, texts, len(rows) * keep, max_overlap, (avoid or {}).get(key, ()))
        for n, index in enumerate(picked):
            chosen[rows[n // keep] * keep + n % keep] = index
    return chosen, {name: values for name, values in measures.items() if values is not None}


def default_candidates(controls: Iterable[Control]) -> int:
    """Samples per sentence when none is asked for: DEFAULT_CANDIDATES, or more where a control
    asks for more (``Control.default_candidates``)."""
    return max([DEFAULT_CANDIDATES, *(c.default_candidates for c in controls if c.default_candidates)])


def default_prune_at(controls: Iterable[Control]) -> float:
    """The share of the chain every candidate samples when none is asked for: where classifier
    controls guide (their gradient steps are what pruning saves), defaults.PRUNE_AT or the latest
    share one of them asks for (``Control.prune_at``); else 1, every candidate finishes (unguided,
    pruned candidates lost fluent sentences: docs/benchmarks.md)."""
    shares = [c.prune_at or defaults.PRUNE_AT for c in controls if c.needs_classifier]
    return max(shares, default=1.0)


def guidance_schedule(controls: Iterable[Control]) -> dict[str, int | float | str]:
    """The guidance settings of a run whose classifier controls all ask for the same schedule
    (``Control.guidance_schedule``: settings tuned together, so they are not mixed), or, in a run
    without classifier controls, whose controls asking for a schedule all ask for the same one
    (length: a hard constraint's settings yield to a classifier's); else {}, the defaults."""
    controls = list(controls)
    for control in controls:
        unknown = sorted(set(control.guidance_schedule) - set(SCHEDULE_SETTINGS))
        if unknown:
            raise PluginError(f"control '{control.name}' asks for an unknown guidance setting '{unknown[0]}' "
                              f"(settings: {', '.join(SCHEDULE_SETTINGS)})")
        norm = control.guidance_schedule.get("guide_norm", defaults.GUIDE_NORM)
        if norm not in defaults.GUIDE_NORMS:
            raise PluginError(f"control '{control.name}' asks for guide_norm '{norm}' "
                              f"(one of: {', '.join(defaults.GUIDE_NORMS)})")
        for name in ("repel", "teacher_weight"):
            value = control.guidance_schedule.get(name, getattr(defaults, name.upper()))
            if not defaults.is_weight(value):
                raise PluginError(f"control '{control.name}' asks for {name} {value!r} (a number, 0 or more)")
        if not defaults.is_rounds(control.guidance_schedule.get("repair", defaults.REPAIR)):
            raise PluginError(f"control '{control.name}' asks for repair {control.guidance_schedule['repair']!r} "
                              f"(a whole number of rounds, 0 or more)")
        share = control.guidance_schedule.get("guided_share", defaults.GUIDED_SHARE)
        if not defaults.is_share(share):
            raise PluginError(f"control '{control.name}' asks for guided_share {share!r} (a number from 0 to 1)")
    tuned = [c for c in controls if c.needs_classifier] or [c for c in controls if c.guidance_schedule]
    schedules = [dict(c.guidance_schedule) for c in tuned]
    return schedules[0] if schedules and all(s == schedules[0] for s in schedules) else {}


def ranks_by_classifier(controls: Mapping[str, Control], row: Mapping[str, Any]) -> bool:
    """Whether a request's candidates are ranked by its classifiers alone: all of its classifier
    controls ask for it (``Control.rank_by_classifier``)."""
    guided = [controls[name] for name in row if controls[name].needs_classifier]
    return bool(guided) and all(c.rank_by_classifier for c in guided)


def chooses_fluent_first(controls: Mapping[str, Control], row: Mapping[str, Any]) -> bool:
    """Whether a request's teacher-fluent candidates come before the others: all of its controls
    ask for it (``Control.fluent_first``; a request without controls does)."""
    return all(controls[name].fluent_first for name in row)


@torch.no_grad()
def target_log_prob(model: DiffusionLM, guidance: Sequence[WeightedGuidance], tokens: torch.Tensor) -> torch.Tensor:
    """(B,) Σ_c log p_c(target_c | EMB(w), t = 0) / λ_c of finished words ``tokens`` (B, L): how
    likely the controls' classifiers find each sentence meets its targets, weighted as in guided
    sampling; 0 for rows without classifier controls."""
    x = model.embeddings[tokens]
    t = torch.zeros(len(tokens), dtype=torch.long, device=x.device)
    total = torch.zeros(len(tokens), device=x.device)
    for term in guidance:
        if term.guidance.log_prob is not None:
            total = total + term.guidance.log_prob(x, t) / term.weight
    return total.cpu()
