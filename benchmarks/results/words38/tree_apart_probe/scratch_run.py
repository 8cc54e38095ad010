"""Scratch: tree's chains of one target kept apart at the clamp, as pos does (TREE_APART nats)."""
import os, sys
from functools import partial
sys.path.insert(0, "benchmarks")
from dlmctl.biases import apart_from_siblings, sibling_share
from dlmctl_syntax import TreeControl

ALPHA = float(os.environ.get("TREE_APART", "1"))
original = TreeControl.guidance


def guidance(self, model, targets):
    g = original(self, model, targets)
    share = sibling_share([t.tree.to_bracketed() if t else None for t in targets]).to(model.device)
    g.word_bias = partial(apart_from_siblings, share=share, strength=ALPHA)
    return g


TreeControl.guidance = guidance
import controls
controls.main()
