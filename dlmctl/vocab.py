"""Word tokenisation (spaCy's English tokenizer) and the word vocabulary saved with each model."""

from __future__ import annotations

import json
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:
    import torch

START, END, UNK, PAD = "<s>", "</s>", "<unk>", "<pad>"
SPECIALS = (START, END, UNK, PAD)


@lru_cache(maxsize=1)
def _tokenizer():
    import spacy

    return spacy.blank("en").tokenizer


def tokenize(text: str) -> list[str]:
    """Split text into words with spaCy's English tokenizer (whitespace dropped)."""
    return [tok.text for tok in _tokenizer()(text.strip()) if not tok.is_space]


def detokenize(words: Sequence[str]) -> str:
    """Words back to text: space-separated, which spaCy re-tokenises to the same words."""
    return " ".join(words)


class Vocabulary:
    """Word ↔ id table. Ids 0..3 are START, END, UNK, PAD."""

    def __init__(self, words: Sequence[str]):
        if tuple(words[: len(SPECIALS)]) != SPECIALS:
            raise ValueError("vocabulary must start with the special tokens " + ", ".join(SPECIALS))
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.start, self.end, self.unk, self.pad = (self.index[s] for s in SPECIALS)

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    @classmethod
    def build(cls, sentences: Iterable[Sequence[str]], min_count: int) -> "Vocabulary":
        counts = Counter(w for s in sentences for w in s)
        kept = sorted((w for w, c in counts.items() if c >= min_count and w not in SPECIALS),
                      key=lambda w: (-counts[w], w))
        return cls(list(SPECIALS) + kept)

    def encode(self, words: Sequence[str], seq_len: int) -> list[int]:
        """``START w1 … wn END PAD …`` of exactly ``seq_len`` ids; longer sentences are cut
        (END is kept as the last id)."""
        ids = [self.index.get(w, self.unk) for w in words][: seq_len - 2]
        ids = [self.start, *ids, self.end]
        return ids + [self.pad] * (seq_len - len(ids))

    def encode_batch(self, sentences: Sequence[Sequence[str]], seq_len: int) -> torch.Tensor:
        """(N, seq_len) int64."""
        import torch

        return torch.tensor([self.encode(s, seq_len) for s in sentences], dtype=torch.long)

    def decode(self, ids: Sequence[int]) -> list[str]:
        """Ids to words: START/PAD dropped, cut at the first END."""
        words = []
        for i in ids:
            if i == self.end:
                break
            if i in (self.start, self.pad):
                continue
            words.append(self.words[i])
        return words

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.words, ensure_ascii=False))

    @classmethod
    def load(cls, path: Path) -> "Vocabulary":
        """The vocabulary a JSON list of words names; ValueError if the file holds anything else."""
        words = json.loads(path.read_text())
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValueError("expected a JSON list of words")
        return cls(words)
