"""Scratch: unguided chains of one request kept apart at the clamp (UNGUIDED_APART nats), then
benchmarks/default_model.py."""
import os, runpy, sys
from dlmctl.biases import keep_apart
from dlmctl.control import Guidance
from dlmctl.sampling import Sampler, WeightedGuidance

ALPHA = float(os.environ.get("UNGUIDED_APART", "1"))
original = Sampler.steps


def steps(self, batch_size, guidance=(), generator=None, resume=None, stop=0, groups=None):
    if not guidance and groups is not None:
        guidance = [WeightedGuidance(Guidance(word_bias=keep_apart(groups.tolist(), ALPHA, self.model.device)), None)]
    return original(self, batch_size, guidance, generator, resume, stop, groups)


Sampler.steps = steps
sys.argv = ["benchmarks/default_model.py", *sys.argv[1:]]
runpy.run_path("benchmarks/default_model.py", run_name="__main__")
