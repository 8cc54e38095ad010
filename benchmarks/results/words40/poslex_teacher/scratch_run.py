"""Scratch: pos with a word-tag lexicon in the clamp, beta * log p(target tag | word) added to the
token bias (POSLEX_BETA; POSLEX_GRAD=0 drops the classifier gradient). The lexicon counts the
training corpus tagged by the annotator (cached in POSLEX_CACHE)."""
import os, sys
from pathlib import Path
import torch
sys.path.insert(0, "benchmarks")
from dlmctl_pos import PosControl, TAGS, tag_row

BETA = float(os.environ.get("POSLEX_BETA", "1"))
GRAD = os.environ.get("POSLEX_GRAD", "1") == "1"
CACHE = Path(os.environ.get("POSLEX_CACHE", "/tmp/poslex.pt"))
DATA = "../shared/data/e2e/train.csv"
original = PosControl.guidance


def lexicon(control, model):
    """log p(tag | word) (V, T), add-one smoothed towards the corpus tag prior."""
    if CACHE.is_file():
        counts = torch.load(CACHE)
    else:
        data = control.training_data(model, DATA, "spacy", None, False)
        counts = torch.zeros(len(model.vocab), len(TAGS))
        counts.index_put_((data.ids.flatten(), data.labels.flatten()), torch.ones(data.ids.numel()), accumulate=True)
        torch.save(counts, CACHE)
    prior = counts.sum(0) / counts.sum()
    return ((counts + prior) / (counts.sum(1, keepdim=True) + 1)).log()


def guidance(self, model, targets):
    g = original(self, model, targets)
    table = lexicon(self, model).to(model.device)
    seq_len = model.config.seq_len
    rows = []
    for t in targets:
        rows.append(table[:, tag_row(t.tags, seq_len)].T if t else torch.zeros(seq_len, table.shape[0]))
    bias = BETA * torch.stack(rows)
    g.token_bias = bias if g.token_bias is None else g.token_bias + bias
    if not GRAD:
        g.log_prob = None
    return g


PosControl.guidance = guidance
import controls
controls.main()
