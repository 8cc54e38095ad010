"""Infilling templates: known words and blanks, e.g. ``The Eagle is a ___ ___ near [1-3] .``

Blanks: ``___`` one word; ``[n]`` exactly n words; ``[a-b]`` a to b words; ``[*]`` any number
(zero to what fits the model's sequence). Everything else is tokenised like the training corpus
(spaCy) and must be in the model's vocabulary.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Sequence, Union

from dlmctl.errors import TargetError
from dlmctl.vocab import SPECIALS, Vocabulary, tokenize

FORM = ("a sentence with known words and blanks: ___ = one word, [n] = n words, [a-b] = a to b "
        "words, [*] = any number, e.g. \"The Eagle is a ___ ___ near [1-3] .\"")
_BLANK = re.compile(r"_{3,}|\[[^\]]*\]")
_RANGE = re.compile(r"\[\s*(?:(\*)|(\d+)\s*(?:-\s*(\d+))?)\s*\]")


@dataclass(frozen=True)
class Blank:
    """A gap of ``low`` to ``high`` words; ``high`` None means as many as fit."""

    low: int
    high: int | None

    @property
    def fixed(self) -> bool:
        return self.high == self.low


Segment = Union[str, Blank]


@dataclass(frozen=True)
class Template:
    """Parsed template: ``segments`` alternate known words (str) and blanks, in order."""

    text: str
    segments: tuple[Segment, ...]

    @property
    def blanks(self) -> list[Blank]:
        return [s for s in self.segments if isinstance(s, Blank)]

    @property
    def known(self) -> list[str]:
        return [s for s in self.segments if isinstance(s, str)]

    @property
    def min_words(self) -> int:
        return len(self.known) + sum(b.low for b in self.blanks)

    @property
    def free_tail(self) -> bool:
        """Whether the template ends with a variable blank: the sentence may end anywhere after."""
        last = self.segments[-1]
        return isinstance(last, Blank) and not last.fixed

    def with_lengths(self, lengths: Sequence[int]) -> "Template":
        """The same template with blank i fixed to ``lengths[i]`` words; a trailing variable
        blank stays open (its entry is ignored)."""
        sizes = iter(lengths)
        segments = []
        for i, s in enumerate(self.segments):
            if isinstance(s, Blank):
                n = next(sizes)
                if not (self.free_tail and i == len(self.segments) - 1):
                    s = Blank(n, n)
            segments.append(s)
        return Template(render(segments), tuple(segments))

    def match(self, words: Sequence[str]) -> list[list[str]] | None:
        """The words of each blank if ``words`` fits the template (known words verbatim, blank
        sizes in range), else None."""
        return _match(self.segments, tuple(words))


def render(segments: Sequence[Segment]) -> str:
    """Template text of ``segments`` (blanks as ``[a-b]`` / ``[n]`` / ``[*]``)."""
    parts = []
    for s in segments:
        if isinstance(s, str):
            parts.append(s)
        elif s.high is None:
            parts.append("[*]")
        else:
            parts.append(("___" if s.low == 1 else f"[{s.low}]") if s.fixed else f"[{s.low}-{s.high}]")
    return " ".join(parts)


def _parse_blank(token: str) -> Blank:
    if token.startswith("_"):
        return Blank(1, 1)
    found = _RANGE.fullmatch(token)
    if not found:
        raise TargetError(f"blank '{token}' is not one of ___, [n], [a-b], [*]; expected {FORM}")
    star, low, high = found.groups()
    if star:
        return Blank(0, None)
    low_n = int(low)
    high_n = low_n if high is None else int(high)
    if high_n < low_n:
        raise TargetError(f"blank '{token}' needs a ≤ b in [a-b]; expected {FORM}")
    return Blank(low_n, high_n)


def parse_template(text: str, vocab: Vocabulary, seq_len: int) -> Template:
    """Parse ``text`` for a model with ``vocab`` and sequences of ``seq_len`` (START and END
    included); raises :class:`TargetError` for unknown words, no blank, only blanks, too long."""
    segments: list[Segment] = []
    position = 0
    for found in _BLANK.finditer(text):
        segments.extend(tokenize(text[position:found.start()]))
        segments.append(_parse_blank(found.group()))
        position = found.end()
    segments.extend(tokenize(text[position:]))
    template = Template(text, tuple(segments))
    if not template.blanks:
        raise TargetError(f"'{text}' has no blank; expected {FORM}")
    if not template.known:
        raise TargetError(f"'{text}' has only blanks: give at least one known word; expected {FORM}")
    unknown = [w for w in dict.fromkeys(template.known) if w not in vocab or w in SPECIALS]
    if unknown:
        raise TargetError("template words not in the model's vocabulary: " + ", ".join(_with_hint(w, vocab) for w in unknown))
    room = seq_len - 2
    if template.min_words > room:
        raise TargetError(f"'{text}' needs at least {template.min_words} words but this model writes "
                          f"at most {room} (sequence length {seq_len} with START and END)")
    return template


def _with_hint(word: str, vocab: Vocabulary) -> str:
    for other in (word.lower(), word.capitalize()):
        if other != word and other in vocab:
            return f"'{word}' (did you mean '{other}'?)"
    return f"'{word}'"


@lru_cache(maxsize=4096)
def _match(segments: tuple[Segment, ...], words: tuple[str, ...]) -> list[list[str]] | None:
    if not segments:
        return [] if not words else None
    head, rest = segments[0], segments[1:]
    if isinstance(head, str):
        return _match(rest, words[1:]) if words and words[0] == head else None
    high = len(words) if head.high is None else min(head.high, len(words))
    for n in range(head.low, high + 1):
        tail = _match(rest, words[n:])
        if tail is not None:
            return [list(words[:n]), *tail]
    return None
