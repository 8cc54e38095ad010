"""``dlmctl train-teacher``: train the teacher LM that measures fluency (lm-score)."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from dlmctl.cli import app
from dlmctl.cli.common import print_json
from dlmctl.configs import TeacherConfig, TeacherTrainConfig
from dlmctl.data import file_sha256, load_texts
from dlmctl.errors import UsageError

Opt = typer.Option
_NET, _RUN = TeacherConfig(vocab_size=0), TeacherTrainConfig()


@app.command("train-teacher")
def train_teacher_command(
    data: Annotated[str, Opt(help="Training corpus (the diffusion model's training split).")],
    out: Annotated[Path, Opt(help="Teacher directory to write.")],
    valid: Annotated[Optional[str], Opt(help="Held-out corpus: keeps the weights with its lowest lm-score.")] = None,
    text_column: Annotated[str, Opt(help="Column holding the text.")] = "human_reference",
    steps: Annotated[int, Opt(help="Training steps.")] = _RUN.steps,
    batch_size: Annotated[int, Opt(help="Sentences per step.")] = _RUN.batch_size,
    lr: Annotated[float, Opt(help="Peak AdamW learning rate (warm-up, then linear decay).")] = _RUN.lr,
    hidden: Annotated[int, Opt(help="Transformer width.")] = _NET.hidden,
    layers: Annotated[int, Opt(help="Transformer layers.")] = _NET.layers,
    heads: Annotated[int, Opt(help="Attention heads.")] = _NET.heads,
    dropout: Annotated[float, Opt(help="Dropout.")] = _NET.dropout,
    seq_len: Annotated[int, Opt(help="Longest scored sequence, START and END included.")] = _NET.seq_len,
    min_count: Annotated[int, Opt(help="Minimum word count for the vocabulary (rarer words → UNK).")] = 3,
    reverse: Annotated[bool, Opt(help="Read sentences right to left: a teacher of the word before; a model "
                                      "carries it in teacher-reverse/, where the sampler's clamp asks it too.")] = False,
    eval_every: Annotated[int, Opt(help="Steps between held-out evaluations.")] = _RUN.eval_every,
    seed: Annotated[int, Opt(help="Seed of initialisation and data order.")] = 0,
    device: Annotated[Optional[str], Opt(help="auto, cpu, cuda or cuda:N.")] = None,
    as_json: Annotated[bool, Opt("--json", help="Print the final metrics as JSON.")] = False,
) -> None:
    """Train a small causal Transformer LM on the corpus; progress on stderr, metrics on stdout."""
    if min(steps, batch_size, hidden, layers, heads, eval_every) < 1 or seq_len < 3:
        raise UsageError("--steps, --batch-size, --hidden, --layers, --heads, --eval-every must be at "
                         "least 1 and --seq-len at least 3")
    if hidden % heads:
        raise UsageError(f"--hidden {hidden} must be divisible by --heads {heads}")
    if not 0 <= dropout < 1:
        raise UsageError("--dropout must be in [0, 1)")
    from dlmctl.corpus import tokenized
    from dlmctl.device import resolve_device
    from dlmctl.teacher import train_teacher
    from dlmctl.vocab import Vocabulary

    sentences = tokenized(data, text_column)
    vocab = Vocabulary.build(sentences, min_count)
    valid_texts = load_texts(valid, text_column) if valid else []
    cfg = TeacherConfig(len(vocab), seq_len, hidden, layers, heads, dropout, reverse)
    meta = {"data": {"train": Path(data).name, "train_sha256": file_sha256(data), "text_column": text_column,
                     "sentences": len(sentences), "min_count": min_count,
                     **({"valid": Path(valid).name} if valid else {})},
            "command": "dlmctl " + shlex.join(sys.argv[1:])}
    result = train_teacher(sentences, vocab, out, cfg,
                           TeacherTrainConfig(steps, batch_size, lr, min(200, steps // 10), eval_every, seed),
                           resolve_device(device), valid=valid_texts, meta=meta, show_progress=not as_json)
    if as_json:
        print_json(result)
    else:
        held_out = f"  held-out lm-score {result['valid_lm_score']:.3f}" if result["valid_lm_score"] else ""
        print(f"trained teacher for {result['steps']} steps → {out}{held_out}")
