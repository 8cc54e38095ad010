"""Default generation settings, defined once for the command line, the Python API and the sampler
(a control may ask for its own guidance settings: ``Control.guidance_schedule``). This module imports
nothing heavy, so that ``dlmctl --help`` can show them without loading torch."""

#: sampling chain length, respaced from the model's diffusion steps
STEPS = 100
#: gradient steps on the latents per denoising step, for controls with a classifier
GUIDE_STEPS = 1
#: the classifiers' gradient is computed every n-th guided step; the steps between reuse it (the
#: fluency term's gradient is exact at every step)
GUIDE_EVERY = 1
#: Adagrad learning rate of those steps (its accumulator starts afresh every denoising step)
GUIDE_LR = 0.15
#: what the Adagrad accumulator of those steps sums the squared gradient over: "coordinate" (as
#: torch.optim.Adagrad: the first step moves every coordinate by the learning rate, whatever its
#: gradient) or "sentence" (one sum per sentence: the step keeps the gradient's direction and moves the
#: positions the classifiers care about most)
GUIDE_NORM = "coordinate"
GUIDE_NORMS = ("coordinate", "sentence")
#: share of the chain, from its noisy start, in which classifier guidance runs (the words settle
#: early; guiding the rest costs time and fluency)
GUIDED_SHARE = 0.5
#: after the guided share, the chain takes every n-th of its steps only (the words have settled)
TAIL_STRIDE = 2
#: in the guided share, how far the samples of one request (a target's candidates and samples) are
#: pushed apart each step, in units of their kernel-weighted differences (dlmctl.repulsion; 0: drawn
#: independently; docs/method.md for what it trades)
REPEL = 0.0
#: once the words settle, how much the teacher LM's next-word log-probabilities (given the words the
#: model puts before each position), and its right-to-left teacher's previous-word ones where the
#: model has one, add to the model's word scores at each clamping step (0: not at all; a model
#: without a teacher: not at all)
TEACHER_WEIGHT = 1.0
#: share of the chain, from its noisy start, after which the teacher weighs in (where guidance ends
#: by default: the words have mostly settled)
TEACHER_FROM = 0.5
#: rounds of sampling again the words of a finished sentence that its teachers find least likely
#: (dlmctl.repair; 0: never; a model without a teacher: never)
REPAIR = 2
#: the share of the chain, from its clean end, that a repair samples again
REPAIR_SHARE = 0.5
#: forward-teacher NLL (nats) of a sentence's least likely token above which it is repaired (the
#: blind readings find most sentences under it grammatical, docs/evaluation.md)
REPAIR_ABOVE = 4.5
#: words each side of the least likely word that a repair samples again
REPAIR_WIDTH = 1
#: scale of the noise added per denoising step (1: the exact ancestral sampler)
TEMPERATURE = 0.7
#: how the clamping step picks each position's word from the model's word scores: 0 takes the
#: best; τ > 0 draws from softmax(scores / τ); None: as suits the model (:func:`word_temperature_for`)
WORD_TEMPERATURE = None
#: the word temperature of a model that predicts words, by default (1: as it predicts them; 0.5 read
#: better unguided and under most controls, docs/benchmarks.md)
WORDS_MODEL_TEMPERATURE = 0.5
#: sentences sampled together in one batch
BATCH_SIZE = 64
#: samples drawn per returned sentence, unless a control asks for more
CANDIDATES = 4
#: word-bigram overlap above which two samples of one request count as repeats
MAX_OVERLAP = 0.5
#: teacher NLL (nats) of a sentence's least likely token at or below which it counts as fluent
FLUENCY_THRESHOLD = 6.0
#: NLL (nats) a word counts as at least where it repeats (dlmctl.fluency.repeats): blind readers pass
#: sentences with a word or trigram said twice about as rarely as sentences whose worst word has
#: 7–10 nats (docs/evaluation.md)
REPEAT_NLL = 8.0
#: where classifier controls guide, the share of the chain, from its noisy start, that every
#: candidate samples; then the weak ones are dropped (1: never)
PRUNE_AT = 0.5
#: candidates per returned sentence that sample the rest of the chain after pruning
SURVIVORS = 2


def is_share(value: object) -> bool:
    """Whether ``value`` is a share of the chain: a number from 0 to 1."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value <= 1


def is_weight(value: object) -> bool:
    """Whether ``value`` is a ``repel`` or ``teacher_weight`` setting: a finite number, 0 or more."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and 0 <= value < float("inf")


def is_rounds(value: object) -> bool:
    """Whether ``value`` is a ``repair`` setting: a whole number, 0 or more."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def word_temperature_for(predict: str, asked: float | None = None) -> float:
    """The word temperature to sample a model whose denoiser predicts ``predict`` at: ``asked``
    unless None; else a model that predicts words draws them from its sharpened distribution
    (taking the best word ends sentences early: PAD is often the likeliest word where the model is
    unsure) and one that predicts an embedding takes the nearest word, as it was trained to."""
    if asked is not None:
        return asked
    return WORDS_MODEL_TEMPERATURE if predict == "words" else 0.0
