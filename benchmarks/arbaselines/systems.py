"""The baseline systems: each turns parsed requests into sentences with the teacher LM.

A system is built by :func:`open_system`, which trains what it needs (the FT model; FUDGE's
discriminator, started from the FT model; PPLM's attribute model) into the run directory the first
time and reuses it after, as long as it was trained from the same teacher, corpus and settings.
``System.generate`` takes the parsed requests (``{control: target}``, one per target) and returns
``samples_per_target`` texts for each.
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import torch

from dlmctl.errors import UsageError
from dlmctl.progress import progress_bar
from dlmctl.rerank import pick_distinct
from dlmctl.teacher import Teacher, encode
from dlmctl.vocab import tokenize

from .conditioned import CONFIG, Conditioned, load_conditioned, pad_conditions, train_conditioned
from .conditions import CONTROLS, condition_tokens
from .corpus import annotate, parsed_targets, sha256
from .decoding import forbid_specials, sample, top_k_log_probs
from .pplm import CONFIG as PPLM_CONFIG, PplmSettings, load_pplm, train_attribute

SYSTEMS = ("ar", "fudge", "pplm", "ft-sample", "ft-search")


@dataclass
class Settings:
    """How the systems decode and how their auxiliary models are trained."""

    top_k: int = 50               # candidates per step (FUDGE reweights these)
    max_words: int = 46           # the diffusion model's longest sentence
    batch_size: int = 32          # rows decoded together
    search_pool: int = 4          # FT-search: FT samples drawn per kept sample
    fudge_strength: float = 10.0  # FUDGE: exponent of its discriminator's probability (1: Bayes' rule)
    train_steps: int = 2000       # FUDGE discriminator and FT model, each
    train_batch: int = 32
    annotator: str = "spacy"
    seed: int = 0


class System:
    """Plain AR sampling from the teacher; subclasses condition or steer it."""

    name = "ar"
    controls: frozenset[str] | None = None     # the controls it can steer by (None: it ignores them)
    needs_grad = False                         # whether next_scores takes gradients (PPLM)

    def __init__(self, teacher: Teacher, settings: Settings):
        self.teacher, self.settings = teacher, settings

    def check(self, requests: Sequence[dict[str, Any]]) -> None:
        """A ``UsageError`` for a request with a control this system cannot steer by."""
        if self.controls is None:
            return
        for request in requests:
            unknown = sorted(set(request) - self.controls)
            if unknown:
                raise UsageError(f"{self.name} steers by {', '.join(sorted(self.controls))} only, not "
                                 f"'{unknown[0]}'")

    def next_scores(self, ids: torch.Tensor, requests: Sequence[dict[str, Any]]) -> torch.Tensor:
        """(R, V) next-word log-weights after prefixes ids (R, t) of rows asking ``requests``."""
        return self.teacher.net(ids)[:, -1]

    def sample_rows(self, requests: Sequence[dict[str, Any]], generator: torch.Generator) -> list[str]:
        """One sentence per request."""
        with torch.inference_mode(not self.needs_grad):
            return sample(lambda ids, rows: self.next_scores(ids, [requests[r] for r in rows.tolist()]),
                          len(requests), self.teacher.vocab, max_words=self.settings.max_words,
                          top_k=self.settings.top_k, generator=generator)

    def draw(self, requests: Sequence[dict[str, Any]], per_request: int, seed: int,
             show_progress: bool = True) -> list[list[str]]:
        """``per_request`` independent samples of each request, in batches of ``settings.batch_size``
        rows, each batch with noise of its own from ``seed``."""
        rows = [r for r in range(len(requests)) for _ in range(per_request)]
        texts: list[str] = []
        size = self.settings.batch_size
        with progress_bar(f"{self.name}: sampling", len(rows), enabled=show_progress) as bar:
            for number, start in enumerate(range(0, len(rows), size)):
                batch = rows[start:start + size]
                generator = torch.Generator().manual_seed(seed * 100_003 + number)
                texts += self.sample_rows([requests[r] for r in batch], generator)
                bar.advance(len(batch))
        return [texts[k * per_request:(k + 1) * per_request] for k in range(len(requests))]

    def generate(self, requests: Sequence[dict[str, Any]], samples_per_target: int, seed: int = 0,
                 show_progress: bool = True) -> list[list[str]]:
        return self.draw(requests, samples_per_target, seed, show_progress)


class FtSample(System):
    """The teacher fine-tuned with the target as a prefix (:mod:`.conditioned`), sampled."""

    name = "ft-sample"
    controls = frozenset(CONTROLS)

    def __init__(self, teacher: Teacher, settings: Settings, ft: Conditioned):
        super().__init__(teacher, settings)
        self.ft = ft

    def condition_ids(self, requests: Sequence[dict[str, Any]]) -> torch.Tensor:
        return pad_conditions([self.ft.encode_request(r) for r in requests])

    def next_scores(self, ids, requests):
        return self.ft.net(self.condition_ids(requests), ids)[0][:, -1]

    def check(self, requests):
        super().check(requests)
        for request in requests:
            try:
                self.ft.encode_request(request)
            except ValueError as exc:
                raise UsageError(f"{self.name}: {exc}") from None


class FtSearch(FtSample):
    """FT-search: ``search_pool`` FT samples per kept one, ranked by the FT model's own mean
    log-likelihood (no oracle), near-repeats skipped as in ``dlmctl generate``."""

    name = "ft-search"

    @torch.inference_mode()
    def mean_log_likelihood(self, requests: Sequence[dict[str, Any]], texts: Sequence[str]) -> torch.Tensor:
        vocab = self.teacher.vocab
        words = encode(vocab, [tokenize(t) for t in texts], self.teacher.net.cfg.seq_len)
        logits, _ = self.ft.net(self.condition_ids(requests), words)
        nll = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), words[:, 1:], reduction="none")
        keep = (words[:, 1:] != vocab.pad).float()
        return -(nll * keep).sum(1) / keep.sum(1)

    def generate(self, requests, samples_per_target, seed=0, show_progress=True):
        pools = self.draw(requests, samples_per_target * self.settings.search_pool, seed, show_progress)
        out = []
        for request, pool in zip(requests, pools):
            score = self.mean_log_likelihood([request] * len(pool), pool)
            order = score.argsort(descending=True).tolist()
            out.append([pool[k] for k in pick_distinct(order, pool, samples_per_target, max_overlap=0.5)])
        return out


class Fudge(System):
    """FUDGE (Yang & Klein 2021): the teacher's top-k next words, each reweighted by the future
    discriminator's probability that the sentence, continued with it, will meet the target; the
    controls of a composition multiply."""

    name = "fudge"
    controls = frozenset(CONTROLS)

    def __init__(self, teacher: Teacher, settings: Settings, discriminator: Conditioned):
        super().__init__(teacher, settings)
        self.discriminator = discriminator

    def next_scores(self, ids, requests):
        vocab = self.teacher.vocab
        logits = forbid_specials(self.teacher.net(ids)[:, -1], vocab, ids.shape[1] - 1, self.settings.max_words)
        log_probs, index = top_k_log_probs(logits, self.settings.top_k)                # (R, k)
        total = log_probs.clone()
        for name in sorted({n for r in requests for n in r}):
            rows = [i for i, r in enumerate(requests) if name in r]
            cond = pad_conditions([self.discriminator.conditions.encode(condition_tokens(name, requests[i][name]))
                                   for i in rows])
            judged = self.discriminator.net.judge_continuations(cond, ids[rows], index[rows])  # (R_c, k)
            total[rows] += self.settings.fudge_strength * torch.nn.functional.logsigmoid(judged)
        return torch.full_like(logits, float("-inf")).scatter(1, index, total)


class Pplm(System):
    """PPLM for semantic content (:mod:`.pplm`)."""

    name = "pplm"
    controls = frozenset({"semantic"})
    needs_grad = True

    def __init__(self, teacher: Teacher, settings: Settings, pplm):
        super().__init__(teacher, settings)
        self.pplm = pplm

    def next_scores(self, ids, requests):
        return self.pplm.next_scores(ids, self.pplm.labels([r["semantic"] for r in requests]))


def _fingerprint(teacher_dir: Path, data: Path, settings: Settings, kind: str) -> dict[str, Any]:
    """What an auxiliary model was trained from: the same fingerprint means it can be reused."""
    teacher_sha = hashlib.sha256((teacher_dir / "teacher.safetensors").read_bytes()).hexdigest()
    training = {k: v for k, v in asdict(settings).items() if k in ("train_steps", "train_batch", "annotator", "seed")}
    return {"kind": kind, "teacher_sha256": teacher_sha, "data_sha256": sha256(data), **training}


def _trained_fingerprint(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()).get("fingerprint") if path.is_file() else None


def open_system(name: str, teacher: Teacher, teacher_dir: Path, model, controls: dict[str, Any],
                run_dir: Path, data: Path | None, settings: Settings, show_progress: bool = True) -> System:
    """System ``name``, its auxiliary model trained into ``run_dir`` unless one trained from the same
    teacher, corpus and settings is there; ``data`` (the training corpus) is needed only to train."""
    if name == "ar":
        return System(teacher, settings)
    if name == "pplm":
        _prepare("pplm", teacher, teacher_dir, model, controls, run_dir, data, settings, show_progress)
        return Pplm(teacher, settings, load_pplm(run_dir / "pplm", teacher, PplmSettings()))
    ft = _prepare("ft", teacher, teacher_dir, model, controls, run_dir, data, settings, show_progress)
    if name == "fudge":
        return Fudge(teacher, settings, _prepare("fudge", teacher, teacher_dir, model, controls, run_dir, data,
                                                 settings, show_progress, start_from=ft))
    return {"ft-sample": FtSample, "ft-search": FtSearch}[name](teacher, settings, ft)


def _prepare(kind: str, teacher: Teacher, teacher_dir: Path, model, controls: dict[str, Any], run_dir: Path,
             data: Path | None, settings: Settings, show_progress: bool,
             start_from: Conditioned | None = None) -> Conditioned | None:
    """Train the ``kind`` model ("ft", "fudge", "pplm") into ``run_dir/kind`` unless the one there
    has the same fingerprint; the loaded network (None for pplm, loaded by its system)."""
    directory = run_dir / kind
    trained = _trained_fingerprint(directory / (PPLM_CONFIG if kind == "pplm" else CONFIG))
    if data is None and trained is None:
        raise UsageError(f"the {kind} model is not yet trained in {directory}: pass --data TRAIN.csv "
                         "(the corpus the model and its teacher were trained on)")
    fingerprint = None if data is None else _fingerprint(teacher_dir, data, settings, kind)
    if start_from is not None and fingerprint is not None:
        fingerprint["start_from"] = start_from.meta.get("fingerprint")
    if fingerprint is not None and trained != fingerprint:
        print(f"training the {kind} model into {directory}", file=sys.stderr)
        sentences = annotate(data, run_dir / "corpus.jsonl", settings.annotator, show_progress)
        if kind == "pplm":
            train_attribute(teacher, sentences, directory, seed=settings.seed, meta={"fingerprint": fingerprint},
                            show_progress=show_progress)
        else:
            targets = parsed_targets(sentences, {n: controls[n] for n in CONTROLS if n in controls}, model,
                                     settings.seed)
            train_conditioned(kind, teacher, sentences, targets, directory, steps=settings.train_steps,
                              batch_size=settings.train_batch, seed=settings.seed, start_from=start_from,
                              meta={"fingerprint": fingerprint}, show_progress=show_progress)
    return None if kind == "pplm" else load_conditioned(directory)
