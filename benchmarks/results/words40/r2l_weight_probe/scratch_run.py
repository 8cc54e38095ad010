"""Scratch: the right-to-left teacher's term in the clamp scaled by R2L_SCALE (the forward one's
stays at the teacher weight); then runs benchmarks/controls.py on the committed sampler."""
import os, sys
sys.path.insert(0, "benchmarks")
from dlmctl import sampling

SCALE = float(os.environ.get("R2L_SCALE", "2"))
real = sampling.previous_word_bias
sampling.previous_word_bias = lambda teacher, tokens: SCALE * real(teacher, tokens)
import controls
controls.main()
