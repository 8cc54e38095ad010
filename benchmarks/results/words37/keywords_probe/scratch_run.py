"""Scratch: keywords held where the model finds them most plausible (MODE=place|place+grad)."""
# Ran at commit 9e0f7d7, where the placement lived in dlmctl_keywords.terms.placement_bias (now dlmctl.biases.hold_phrases).
import os, sys
sys.path.insert(0, "benchmarks")
from dlmctl.control import Guidance
from dlmctl_keywords.control import KeywordsControl
from dlmctl_keywords.terms import pack_targets, placement_bias, keyword_log_prob

mode = os.environ.get("MODE", "place")
strength = float(os.environ.get("STRENGTH", "1e4"))

def guidance(self, model, targets):
    index, valid, used = (t.to(model.device) for t in pack_targets(targets))
    bias = lambda scores: placement_bias(scores, index, valid, used, strength)
    log_prob = None
    if mode == "place+grad":
        log_prob = lambda x, t: keyword_log_prob(self.word_log_probs(model, x, t), index, valid, used, self.over_positions)
    return Guidance(log_prob=log_prob, word_bias=bias)

KeywordsControl.guidance = guidance
if os.environ.get("FLUENT_FIRST"):
    KeywordsControl.fluent_first = True
import controls
controls.main()
