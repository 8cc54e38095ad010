"""Length control: the sentence has exactly N words.

No classifier: the diffusion model's own x0-prediction is constrained, through the
sampler's token bias, to hold START at position 0, vocabulary words (not UNK) at 1..N, END at N+1 and
PAD after. Every denoising step clamps x̂0 under that constraint, so the model writes a fluent
sentence of that size.
"""

from __future__ import annotations

from typing import Sequence

from dlmctl.control import Control, Guidance
from dlmctl.errors import TargetError
from dlmctl.hookspecs import hookimpl
from dlmctl.vocab import tokenize


class LengthControl(Control):
    name = "length"
    description = "exactly N words (spaCy tokens, punctuation included)"
    target_help = "a whole number of words, e.g. length=12"
    example_target = "12"
    default_weight = None   # a hard constraint in the clamp: no gradient term, no λ
    # one round of repair: long sentences send more candidates through it, and a second round
    # changed few samples (docs/benchmarks.md, session 44)
    guidance_schedule = {"repair": 1}

    def parse_target(self, text: str, model) -> int:
        try:
            n = int(text)
        except ValueError:
            raise TargetError(f"'{text}' is not a number; expected {self.target_help}") from None
        longest = model.config.seq_len - 2
        if not 1 <= n <= longest:
            raise TargetError(f"{n} words does not fit: this model writes 1 to {longest} words "
                              f"(sequence length {model.config.seq_len} with START and END)")
        return n

    def guidance(self, model, targets: Sequence[int | None]) -> Guidance:
        from dlmctl.biases import length_bias

        return Guidance(token_bias=length_bias(model.vocab, model.config.seq_len, targets))

    def sentence_length(self, target: int) -> int:
        return target

    def score(self, text: str, target: int) -> float:
        return float(len(tokenize(text)) == target)

    def metrics(self, text: str, target: int) -> dict[str, float]:
        return {"within ±2": float(abs(len(tokenize(text)) - target) <= 2)}


@hookimpl
def register_controls(register):
    register(LengthControl())
