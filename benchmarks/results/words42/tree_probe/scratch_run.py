"""Scratch: teachers loaded for the repair even where a control keeps them out of the clamp
(teacher_weight 0, tree). Runs benchmarks/controls.py with the patch; argv as controls.py."""
import sys
sys.path.insert(0, "benchmarks")
from dlmctl import sampling
from dlmctl.sampling import clamp_teacher

original_init = sampling.Sampler.__init__
original_with_teacher = sampling.Sampler.with_teacher

def init(self, model, config=None):
    original_init(self, model, config)
    if self.teacher is None and self.config.repair:
        self.teacher = clamp_teacher(model)
        self.reverse_teacher = clamp_teacher(model, reverse=True) if self.teacher is not None else None

def with_teacher(self, scores, bias):
    return bias if not self.config.teacher_weight else original_with_teacher(self, scores, bias)

sampling.Sampler.__init__ = init
sampling.Sampler.with_teacher = with_teacher
import controls
controls.main()
