"""E2E meaning representations (``name[The Eagle], food[French]``) and the oracle that decides
whether a text mentions a field's value."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from dlmctl.errors import UsageError
from dlmctl.vocab import tokenize

FIELDS = ("name", "eatType", "food", "priceRange", "customer rating", "area", "familyFriendly", "near")
NONE = "none"
_ITEM = re.compile(r"\s*([^\[\],]+?)\s*\[([^\]]*)\]")
_FRIENDLY = re.compile(r"\b(?:family|kids?|child|children) ?friendly\b")
_NEGATION = re.compile(r"\b(?:not|n't|non|no|never)\b")
#: words, "n't" and single punctuation marks, as spaCy splits E2E text, without loading spaCy
_PLAIN_WORD = re.compile(r"\w+(?=n't)|n't|'(?:s|re|ll|ve|m|d)\b|\w+|[^\w\s]")


#: the words that express an adjectival value, as E2E writers put it: held alone, "moderate" would
#: go wherever an adjective fits ("a moderate friendly coffee shop")
VALUE_PHRASES = {("priceRange", "moderate"): "moderate price range", ("priceRange", "high"): "high price range",
                 ("customer rating", "low"): "low customer rating",
                 ("customer rating", "average"): "average customer rating",
                 ("customer rating", "high"): "high customer rating"}


def value_words(field: str, value: str) -> list[str] | None:
    """The words (lower case) a sentence that expresses ``field=value`` holds, which
    :func:`mentions` then finds; None for familyFriendly, whose words vary ("kid friendly", "not
    family - friendly")."""
    if field == "familyFriendly":
        return None
    return tokenize(VALUE_PHRASES.get((field, value), value).lower())


def field_key(name: str) -> str:
    """``customer rating``, ``customerRating``, ``customer_rating`` → ``customerrating``."""
    return re.sub(r"[\s_-]+", "", name).lower()


def parse_mr(text: str) -> dict[str, str]:
    """``name[Aromi], area[riverside]`` → ``{"name": "Aromi", "area": "riverside"}``."""
    return {m.group(1): m.group(2).strip() for m in _ITEM.finditer(text)}


def read_corpus(path: str | Path, text_column: str = "human_reference",
                mr_column: str = "meaning_representation") -> list[tuple[str, dict[str, str]]]:
    """(text, meaning representation) of every row of an E2E-style CSV file."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"data file not found: {path} (expected an E2E CSV with columns "
                         f"{mr_column}, {text_column})")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        missing = {text_column, mr_column} - set(reader.fieldnames or [])
        if missing:
            raise UsageError(f"{path} lacks column(s) {', '.join(sorted(missing))}: the semantic control "
                             f"trains on an E2E CSV with columns {mr_column}, {text_column}")
        return [(row[text_column], parse_mr(row[mr_column])) for row in reader if row[text_column].strip()]


def _normal(text: str) -> str:
    """Lower-cased words (spaCy's) joined by single spaces, hyphens dropped, padded with spaces."""
    return _padded(tokenize(text.lower()))


def _padded(words: list[str]) -> str:
    """``words`` without hyphens, joined by single spaces, with a space before and after."""
    return " " + " ".join(w for w in words if w != "-") + " "


def _friendly_answers(text: str) -> list[bool]:
    """For each "family/kid/child friendly" phrase of a :func:`_normal` text in turn: whether it says
    the place is (False where one of the three words before it negates it)."""
    answers = []
    for match in _FRIENDLY.finditer(text):
        before = text[:match.start()].split()[-3:]
        answers.append(not any(_NEGATION.search(w) for w in before))
    return answers


def _plain(text: str) -> str:
    """:func:`_normal` by a regular expression instead of spaCy's tokenizer (the same words for E2E
    sentences; cheap enough for every candidate of a run that never loads spaCy)."""
    return _padded(_PLAIN_WORD.findall(text.lower()))


def _family_friendly(text: str) -> bool | None:
    """True/False when the text says the place is (not) family friendly, None when silent."""
    answers = _friendly_answers(text)
    return answers[-1] if answers else None


def value_phrases(values: dict[str, list[str]]) -> list[tuple[str, str, str]]:
    """(phrase, field, value) for every value of every field of ``values`` (field → values, as a
    semantic classifier's metadata holds them) but familyFriendly and "none", the phrase as
    :func:`_plain` writes it (an adjectival value in its :data:`VALUE_PHRASES` words), longest first."""
    found = [(_plain(VALUE_PHRASES.get((field, value), value)), field, value)
             for field, field_values in values.items() if field != "familyFriendly"
             for value in field_values if value != NONE]
    return sorted(found, key=lambda item: -len(item[0]))


def contradictions(text: str, phrases: list[tuple[str, str, str]]) -> list[str]:
    """What ``text`` says twice over with different values, as "field: value, value" (in the order it
    says them): two values of one field among ``phrases`` (:func:`value_phrases`; each phrase found
    is struck out before shorter ones are looked for, so "Raja Indian Cuisine" is not the food
    "Indian"), or that the place is and is not family friendly."""
    plain = _plain(text)
    normal = plain
    said: dict[str, list[tuple[int, str]]] = {}
    for phrase, field, value in phrases:
        at = normal.find(phrase)
        if at >= 0:
            normal = normal.replace(phrase, " " + "#" * (len(phrase) - 2) + " ")    # struck out, in place
            said.setdefault(field, []).append((at, value))
    found = [f"{field}: {', '.join(value for _, value in sorted(values))}"
             for field, values in said.items() if len(values) > 1]
    if len(set(_friendly_answers(plain))) > 1:
        found.append("familyFriendly: yes, no")
    return found


def mentions(text: str, field: str, value: str) -> bool:
    """Whether ``text`` expresses ``field=value``: the value's words appear in it, case-insensitive
    (familyFriendly yes/no: a "(not) family/kid/child friendly" phrase)."""
    normal = _normal(text)
    if field == "familyFriendly":
        return _family_friendly(normal) == (value == "yes")
    return _normal(value) in normal
