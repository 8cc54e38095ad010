"""Scratch (session 39): pos with its chains kept apart at PUSH_APART nats (default 2; the shipped
control: 1), everything else as the committed sampler (the teacher in the second half, pos guided
to the end). Runs benchmarks/controls.py."""
import os
import sys

from dlmctl_pos import PosControl

PUSH = float(os.environ.get("PUSH_APART", "2"))
original = PosControl.__init__


def init(self, length_bias: bool = True, push_apart: float = PUSH):
    original(self, length_bias, push_apart)


PosControl.__init__ = init
sys.path.insert(0, "benchmarks")
import controls  # noqa: E402

controls.main()
