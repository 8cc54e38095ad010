"""Scratch: semantic values held like keywords (MODE=held+grad | held+weak)."""
# Ran at commit 9e0f7d7, where the placement lived in dlmctl_keywords.terms.placement_bias (now dlmctl.biases.hold_phrases).
import os, sys
sys.path.insert(0, "benchmarks")
from dlmctl.errors import TargetError
from dlmctl_keywords.control import KeywordsControl
from dlmctl_keywords.terms import HOLD, pack_targets, placement_bias
from dlmctl_semantic import SemanticControl

original = SemanticControl.guidance
keywords = KeywordsControl()

def guidance(self, model, targets):
    g = original(self, model, targets)
    held = []
    for target in targets:
        values = [v for f, v in (target or ()) if f != "familyFriendly"]
        try:
            held.append(keywords.parse_target(", ".join(values), model) if values else None)
        except TargetError:
            held.append(None)
    index, valid, used = (t.to(model.device) for t in pack_targets(held))
    g.word_bias = lambda scores: placement_bias(scores, index, valid, used, HOLD)
    return g

SemanticControl.guidance = guidance
import controls
controls.main()
