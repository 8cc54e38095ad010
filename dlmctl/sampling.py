"""Ancestral sampling with the clamping trick, as a generator that yields every step, with one seam
where guidance runs (docs/method.md, "Sampling", "Guided sampling" and "The teacher in the clamp")."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator, Mapping, Sequence

import torch

from dlmctl import defaults
from dlmctl.control import Guidance, WordBiasFn
from dlmctl.fluency import next_word_bias, previous_word_bias
from dlmctl.model import DiffusionLM, nearest_word_scores
from dlmctl.repulsion import repulsion
from dlmctl.teacher import Teacher, model_teacher

#: Adagrad's ε (torch.optim.Adagrad's default), added to the root of the squared-gradient sum
ADAGRAD_EPS = 1e-10


@dataclass
class WeightedGuidance:
    """A control's guidance with its λ (the term enters the loss as −log p / λ; None for guidance
    without a ``log_prob``)."""

    guidance: Guidance
    weight: float | None


@dataclass
class Step:
    """One finished denoising step: chain index ``index`` (counts down to 0), latents ``x``
    (B, L, d) for the next step, the x̂0 ``estimate`` (B, L, d) that a self-conditioned model reads
    next step, the clamped x̂0 words ``tokens`` (B, L), and the classifiers' ``gradient`` (B, L, d)
    last computed (None before guidance), which the next guided steps may reuse
    (``SamplerConfig.guide_every``). A chain can go on from any Step (:meth:`Sampler.steps`
    ``resume``)."""

    index: int
    x: torch.Tensor
    estimate: torch.Tensor
    tokens: torch.Tensor
    gradient: torch.Tensor | None = None

    def select(self, rows: torch.Tensor | Sequence[int]) -> "Step":
        """The same step for the chains ``rows`` only (in that order)."""
        rows = torch.as_tensor(rows, dtype=torch.long)
        return Step(self.index, self.x[rows], self.estimate[rows], self.tokens[rows],
                    None if self.gradient is None else self.gradient[rows])

    @staticmethod
    def concat(steps: Sequence["Step"]) -> "Step":
        """Steps of the same index for several batches of chains, as one."""
        if len({s.index for s in steps}) != 1:
            raise ValueError("only steps at the same chain index can be joined")
        gradients = [s.gradient for s in steps]
        return Step(steps[0].index, *(torch.cat([getattr(s, name) for s in steps])
                                      for name in ("x", "estimate", "tokens")),
                    None if any(g is None for g in gradients) else torch.cat(gradients))


#: the settings a control may set for its own runs (``Control.guidance_schedule``)
SCHEDULE_SETTINGS = ("guide_steps", "guide_lr", "guide_every", "guide_norm", "guided_share", "repel", "teacher_weight",
                     "repair")


@dataclass
class SamplerConfig:
    """Sampling settings; the defaults are :mod:`dlmctl.defaults`. The guidance settings left None
    take what the controls ask for (:meth:`filled`); ``word_temperature`` left None, what suits the
    model (:func:`dlmctl.defaults.word_temperature_for`, applied by :class:`Sampler`)."""

    steps: int = defaults.STEPS                  # sampling chain length (respaced from the model's T)
    guide_steps: int | None = None               # K gradient steps per denoising step
    guide_lr: float | None = None                # Adagrad learning rate, optimiser re-created every step
    guide_every: int | None = None               # the classifiers' gradient computed every n-th guided step
    guide_norm: str | None = None                # what Adagrad's accumulator sums over (defaults.GUIDE_NORMS)
    repel: float | None = None                   # push apart the samples of one request in the guided share
    guided_share: float | None = None            # guidance in this share of the chain, from its noisy start
    temperature: float = defaults.TEMPERATURE    # noise scale per step (1: the exact ancestral sampler)
    word_temperature: float | None = defaults.WORD_TEMPERATURE  # the clamp's word: 0 the best, else drawn
    tail_stride: int = defaults.TAIL_STRIDE      # after the guided share, every n-th step of the chain only
    teacher_weight: float | None = None          # the teachers' word log-probs in the clamp, 2nd half
    repair: int | None = None                    # rounds of sampling the least likely words again (dlmctl.repair)

    def filled(self, schedule: Mapping[str, int | float] | None = None) -> "SamplerConfig":
        """This config with each guidance setting left None taken from ``schedule`` (what the
        controls ask for), else from :mod:`dlmctl.defaults`."""
        schedule = schedule or {}
        return replace(self, **{name: schedule.get(name, getattr(defaults, name.upper()))
                                for name in SCHEDULE_SETTINGS if getattr(self, name) is None})


class Sampler:
    """Samples a chain of ``config.steps`` evenly strided steps of the model's diffusion, of which
    the ``guided_share`` from the noisy start is kept whole and the rest, where the words have
    settled, every ``tail_stride``-th step (ending at step 0)."""

    def __init__(self, model: DiffusionLM, config: SamplerConfig | None = None):
        self.model = model
        config = (config or SamplerConfig()).filled()
        self.config = replace(config, word_temperature=defaults.word_temperature_for(model.config.predict,
                                                                                     config.word_temperature))
        if self.config.tail_stride < 1 or self.config.guide_every < 1:
            raise ValueError("tail_stride and guide_every must be at least 1")
        if self.config.guide_norm not in defaults.GUIDE_NORMS:
            raise ValueError(f"guide_norm must be one of {defaults.GUIDE_NORMS}, got {self.config.guide_norm!r}")
        if not 0 <= self.config.word_temperature < float("inf"):
            raise ValueError(f"word_temperature must be 0 or more, got {self.config.word_temperature!r}")
        if not defaults.is_weight(self.config.repel):
            raise ValueError(f"repel must be 0 or more, got {self.config.repel!r}")
        if not defaults.is_weight(self.config.teacher_weight):
            raise ValueError(f"teacher_weight must be 0 or more, got {self.config.teacher_weight!r}")
        if not defaults.is_rounds(self.config.repair):
            raise ValueError(f"repair must be a whole number, 0 or more, got {self.config.repair!r}")
        # the teachers weigh in the clamp (teacher_weight) and judge the repair; either needs them
        self.teacher = clamp_teacher(model) if self.config.teacher_weight or self.config.repair else None
        self.reverse_teacher = clamp_teacher(model, reverse=True) if self.teacher is not None else None
        self.even = model.diffusion.respaced(self.config.steps)
        n = self.even.num_steps
        self.guided = round(n * self.config.guided_share)      # steps guided, from the noisy start
        tail = list(range(n - self.guided))[::self.config.tail_stride]
        self.chain = self.even.subset(tail + list(range(n - self.guided, n)))
        self.teacher_below = self.index_after(defaults.TEACHER_FROM)  # the teacher weighs in at chain indices below

    def index_after(self, share: float) -> int:
        """The chain index of the step that ends the first ``share`` of the chain, from its noisy
        start (at least one step; in the strided tail, the kept step at or before that point)."""
        n = self.even.num_steps
        boundary = self.even.timesteps[n - max(round(n * share), 1)]
        return int(torch.searchsorted(self.chain.timesteps, boundary))

    def snap(self, x0: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """Nearest word embedding (L2) of each position of x0 (B, L, d) → ids (B, L); ``bias``
        (B, L, V) is added to the scores, so −inf excludes a word there."""
        scores = nearest_word_scores(x0, self.model.embeddings)
        return (scores if bias is None else scores + bias).argmax(-1)

    def constrained(self, x0: torch.Tensor, tokens: torch.Tensor, clamped: torch.Tensor,
                    free: torch.Tensor | None = None) -> torch.Tensor:
        """The x̂0 (B, L, d) that self-conditioning reads next step: the clamped word embedding
        where the token bias overruled the model's nearest word (``tokens`` (B, L) vs the
        unconstrained snap), the model's own estimate elsewhere. Without it a self-conditioned
        model keeps predicting the sentence it planned, e.g. END where a length target needs
        words, and the forced words come out as filler. ``free`` (B, L): the unconstrained snap,
        if already known."""
        overruled = tokens != (self.snap(x0, None) if free is None else free)
        return torch.where(overruled[..., None], clamped, x0)

    def clamp_words(self, scores: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """The words (B, L) the clamping step takes from word scores (B, L, V): the best, or with
        ``word_temperature`` τ > 0 one drawn from softmax(scores / τ) at each position. For a
        model that predicts words, τ = 1 draws x̂0 from its word distribution, so each step samples
        the mixture of posteriors q(x_{t−1} | x_t, EMB(w)) over the words w of each position."""
        tau = self.config.word_temperature
        if tau == 0:
            return scores.argmax(-1)
        cdf = (scores.float() / tau).softmax(-1).cumsum(-1)                       # (B, L, V)
        total = cdf[..., -1:]
        u = torch.rand(total.shape, generator=generator, dtype=cdf.dtype).to(cdf.device) * total
        u = torch.minimum(u, torch.nextafter(total, torch.zeros_like(total)))    # strictly below the total
        return torch.searchsorted(cdf, u, right=True)[..., 0]                    # never a word of probability 0

    def with_teacher(self, scores: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
        """``bias`` (B, L, V) or None, plus ``teacher_weight`` times the teacher's next-word
        log-probabilities given the words the biased ``scores`` (B, L, V) put first (and, where the
        model has a right-to-left teacher, its previous-word ones given the same words)."""
        words = (scores if bias is None else scores + bias).argmax(-1)
        log_probs = next_word_bias(self.teacher, words)
        if self.reverse_teacher is not None:
            log_probs = log_probs + previous_word_bias(self.reverse_teacher, words)
        nudge = self.config.teacher_weight * log_probs
        return nudge if bias is None else bias + nudge

    @staticmethod
    def classifier_gradient(x: torch.Tensor, t: torch.Tensor, terms: Sequence[WeightedGuidance]) -> torch.Tensor:
        """∇ₓ Σ_c −log p_c(target_c | x, t) / λ_c, (B, L, d) for latents x (B, L, d)."""
        with torch.enable_grad():
            x = x.detach().requires_grad_(True)
            loss = sum(-term.guidance.log_prob(x, t).sum() / term.weight for term in terms)
            (grad,) = torch.autograd.grad(loss, x)
        return grad

    def _guide(self, x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, t: torch.Tensor,
               terms: Sequence[WeightedGuidance], reused: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """K Adagrad steps on x (B, L, d) minimising Σ −log p / λ + Σ (μ − x)² / σ (per sample,
        summed), the accumulator started afresh at every denoising step (as ``torch.optim.Adagrad``
        re-created per step, without its optimiser machinery), per coordinate or, with
        ``guide_norm`` "sentence", one per sentence (the mean square over its L × d coordinates);
        the first of them takes the classifiers' gradient ``reused`` if given instead of computing
        it. Returns the new x and the classifiers' gradient last used."""
        per_sentence = self.config.guide_norm == "sentence"
        squares = torch.zeros((len(x), 1, 1) if per_sentence else x.shape, dtype=x.dtype, device=x.device)
        gradient = reused
        for k in range(self.config.guide_steps):
            if k > 0 or gradient is None:
                gradient = self.classifier_gradient(x, t, terms)
            grad = gradient + 2 * (x - mean) / std          # the fluency term's gradient, exact
            squares += (grad ** 2).mean((1, 2), keepdim=True) if per_sentence else grad ** 2
            x = x - self.config.guide_lr * grad / (squares.sqrt() + ADAGRAD_EPS)
        return x, gradient

    @torch.no_grad()
    def steps(self, batch_size: int, guidance: Sequence[WeightedGuidance] = (),
              generator: torch.Generator | None = None, resume: Step | None = None,
              stop: int = 0, groups: torch.Tensor | None = None) -> Iterator[Step]:
        """Yield every step of one sampling run of ``batch_size`` sentences, from the noisy start
        or from ``resume`` (a Step of this chain for ``batch_size`` rows) down to chain index
        ``stop``. ``groups`` (batch_size,): which request each row samples for; in the guided
        share, the posterior mean of each row moves ``config.repel`` times its
        :func:`~dlmctl.repulsion.repulsion` from the other rows of its request (None: no push)."""
        model, chain, cfg = self.model, self.chain, self.config
        device = model.device
        shape = (batch_size, model.config.seq_len, model.config.embed_dim)
        noise = lambda: torch.randn(shape, generator=generator).to(device)
        biases = [g.guidance.token_bias.to(device) for g in guidance if g.guidance.token_bias is not None]
        fixed_bias = torch.stack(biases).sum(0) if biases else None
        word_biases = [g.guidance.word_bias for g in guidance if g.guidance.word_bias is not None]
        gradient_terms = [g for g in guidance if g.guidance.log_prob is not None]
        last_guided = max(chain.num_steps - self.guided, 1)   # steps count down to 0; the last is never guided
        groups = groups.to(device) if cfg.repel and groups is not None else None
        if resume is None:
            x, x0, gradient, first = noise(), None, None, chain.num_steps - 1
        else:
            x, x0, first = resume.x.to(device), resume.estimate.to(device), resume.index - 1
            gradient = None if resume.gradient is None else resume.gradient.to(device)
        for i in range(first, stop - 1, -1):
            idx = torch.full((batch_size,), i, dtype=torch.long, device=device)
            # reads the last step's x̂0 if self-conditioned
            x0, scores = model.denoiser(x, chain.model_time(idx), x0, with_scores=True)
            bias = step_bias(fixed_bias, word_biases, scores)
            if self.teacher is not None and cfg.teacher_weight and i < self.teacher_below:
                bias = self.with_teacher(scores, bias)
            tokens = self.clamp_words(scores if bias is None else scores + bias, generator)
            clamped = model.embeddings[tokens]
            mean, std = chain.posterior(clamped, x, idx)
            if bias is not None and model.config.self_condition:
                x0 = self.constrained(x0, tokens, clamped, free=scores.argmax(-1))
            if i == 0:
                x = mean
            else:
                if groups is not None and i >= last_guided:
                    mean = mean + cfg.repel * repulsion(x0, groups)
                x = mean + cfg.temperature * std * noise()
                if gradient_terms and i >= last_guided:
                    fresh = (chain.num_steps - 1 - i) % cfg.guide_every == 0     # counted from the first step
                    x, gradient = self._guide(x, mean, std, chain.model_time(idx - 1), gradient_terms,
                                              None if fresh else gradient)
            yield Step(i, x, x0, tokens, gradient)


def step_bias(fixed: torch.Tensor | None, word_biases: Sequence[WordBiasFn], scores: torch.Tensor) -> torch.Tensor | None:
    """(B, L, V) the bias one clamping step adds to the word ``scores`` (B, L, V): the controls'
    ``token_bias`` sum ``fixed``, plus each ``word_bias`` of the scores with ``fixed`` added (so that
    it sees what the hard constraints forbid); None when there is neither."""
    if not word_biases:
        return fixed
    biased = scores if fixed is None else scores + fixed
    return sum((bias(biased) for bias in word_biases), torch.zeros_like(scores) if fixed is None else fixed)


def clamp_teacher(model: DiffusionLM, reverse: bool = False) -> Teacher | None:
    """The teacher the model directory carries (with ``reverse``: its right-to-left one), if it
    reads the model's own vocabulary (its word scores then line up with the model's) in the
    direction asked; else None."""
    teacher = model_teacher(model, reverse)
    usable = teacher is not None and teacher.vocab.words == model.vocab.words and teacher.net.cfg.reverse == reverse
    return teacher if usable else None
