"""Scratch: the teacher in the clamp reads both ways. Beside the bundled (left-to-right) teacher's
log p(w_i | w_<i), a teacher trained on reversed sentences (R2L_TEACHER) adds R2L_WEIGHT ×
log p(w_i | w_>i) at each word position of the words the biased scores put first (0 at START, at
END and after it). Then runs benchmarks/controls.py."""
import os, sys
import torch
sys.path.insert(0, "benchmarks")
from dlmctl import sampling
from dlmctl.teacher import load_teacher

REVERSE = load_teacher(os.environ.get("R2L_TEACHER", "runs/teacher-rev"))
WEIGHT = float(os.environ.get("R2L_WEIGHT", "1"))
MODEL_WORDS = __import__("json").load(open(os.environ.get("R2L_MODEL_VOCAB", "plugins/dlmctl-e2e/dlmctl_e2e/model/vocab.json")))
# the reversed corpus was re-tokenised ("'ve" became "ve"): its teacher's vocabulary is the model's, reordered
_index = {w: i for i, w in enumerate(REVERSE.vocab.words)}
TO_REV = torch.tensor([_index.get(w, _index.get(w.lstrip("'"), REVERSE.vocab.unk)) for w in MODEL_WORDS])


@torch.no_grad()
def previous_word_bias(teacher, tokens):
    """(B, L, V) log p_R2L(word at i | words after i) for positions 1..n of each row's sentence
    (n words before the first END or PAD); 0 elsewhere."""
    vocab = teacher.vocab                    # its special ids are the model's (first in both)
    B, L = tokens.shape
    stops = (tokens == vocab.end) | (tokens == vocab.pad)
    stops[:, 0] = False
    n = torch.where(stops.any(1), stops.int().argmax(1), torch.full((B,), L)) - 1      # words per row
    pos = torch.arange(L)[None].expand(B, L)
    # reversed row: START w_n .. w_1 END PAD..
    src = (n[:, None] + 1 - pos).clamp(min=0)                  # reversed k (1..n) reads position n+1-k
    rev = torch.full_like(tokens, vocab.pad)
    rev[:, 0] = vocab.start
    words = (pos >= 1) & (pos <= n[:, None])
    rev[words] = TO_REV[tokens.gather(1, src)][words]
    rev[pos == (n[:, None] + 1)] = vocab.end
    log_probs = teacher.net(rev).float().log_softmax(-1)[..., TO_REV]   # (B, L, V) in the model's ids
    bias = torch.zeros(B, L, log_probs.shape[-1])
    # model position i (1..n) is reversed k = n+1-i, predicted at reversed k-1 = n-i
    read = (n[:, None] - pos).clamp(min=0)
    gathered = log_probs.gather(1, read[..., None].expand(B, L, log_probs.shape[-1]))
    bias[words] = gathered[words]
    return bias


original = sampling.Sampler.with_teacher


def with_teacher(self, scores, bias):
    out = original(self, scores, bias)
    biased = scores if bias is None else scores + bias
    return out + WEIGHT * self.config.teacher_weight * previous_word_bias(REVERSE, biased.argmax(-1))


sampling.Sampler.with_teacher = with_teacher
import controls
controls.main()
