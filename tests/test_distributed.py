"""``torchrun --nproc_per_node 2 … dlmctl train`` on CPU (gloo) follows the single-process run."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import torch

from dlmctl.checkpoint import load_model

TORCHRUN = shutil.which("torchrun", path=os.path.dirname(sys.executable)) or shutil.which("torchrun")
ARGS = ["--seq-len", "24", "--hidden", "32", "--layers", "1", "--heads", "2", "--dropout", "0",
        "--batch-size", "8", "--lr", "1e-3", "--min-count", "2", "--save-every", "3", "--device", "cpu"]


def _train(corpus, out, steps, *, processes=1, resume=False):
    cmd = [sys.executable, "-m", "dlmctl", "train", "--data", str(corpus), "--out", str(out),
           "--steps", str(steps), *ARGS, *(["--resume"] if resume else [])]
    if processes > 1:
        cmd = [TORCHRUN, "--standalone", f"--nproc_per_node={processes}", "-m", *cmd[2:]]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    return result


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not on PATH")
def test_two_cpu_processes_match_one_and_resume(small_corpus, tmp_path):
    _train(small_corpus, tmp_path / "single", 3)
    _train(small_corpus, tmp_path / "single", 6, resume=True)
    _train(small_corpus, tmp_path / "ddp", 3, processes=2)
    _train(small_corpus, tmp_path / "ddp", 6, processes=2, resume=True)
    single = load_model(tmp_path / "single").denoiser.state_dict()
    ddp = load_model(tmp_path / "ddp").denoiser.state_dict()
    for name, value in single.items():
        assert torch.allclose(value, ddp[name], atol=1e-4), name
    config = json.loads((tmp_path / "ddp" / "config.json").read_text())
    assert config["training"]["steps_done"] == 6 and config["training"]["world_size"] == 2
    assert config["command"].startswith("dlmctl train ") and "--resume" not in config["command"]
    [resumed] = config["resumed"]                      # the history of the run, one entry per resume
    assert resumed["from_step"] == 3 and "--resume" in resumed["command"] and "--steps 6" in resumed["command"]


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not on PATH")
def test_control_classifier_trains_under_torchrun(tiny_model_dir, small_corpus, tmp_path):
    model_dir = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model_dir)
    cmd = [TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "dlmctl", "train-control", "pos",
           "--model", str(model_dir), "--data", str(small_corpus), "--steps", "6", "--batch-size", "8",
           "--hidden", "16", "--layers", "1", "--device", "cpu", "--json"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=240,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)                 # one report: only rank 0 prints
    assert report["steps"] == 6 and "clean" in report["accuracy"]
    from dlmctl.plugins import PluginHost

    target = PluginHost().control("pos").parse_target("DET NOUN VERB", load_model(model_dir))
    assert target is not None                          # the saved classifier loads


@pytest.mark.skipif(TORCHRUN is None, reason="torchrun not on PATH")
def test_two_processes_generate_the_same_file_as_one(tiny_model_dir, tmp_path):
    """``torchrun … dlmctl generate --targets`` shares the batches out and writes one output file,
    the same as one process writes (several batches, candidates pooled across them and pruned
    halfway)."""
    targets = tmp_path / "targets.jsonl"
    targets.write_text("".join(json.dumps({"controls": c}) + "\n" for c in
                               [{"length": "5"}, {}, {"length": "7"}, {"length": "5"}, {"length": "9"}]))
    args = ["generate", "--model", str(tiny_model_dir), "--targets", str(targets), "--samples-per-target", "2",
            "--steps", "10", "--candidates", "3", "--prune-at", "0.5", "--survivors", "2", "--batch-size", "4",
            "--device", "cpu"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    outputs = {}
    for name, launcher in (("one", [sys.executable, "-m", "dlmctl"]),
                           ("two", [TORCHRUN, "--standalone", "--nproc_per_node=2", "-m", "dlmctl"])):
        outputs[name] = tmp_path / f"{name}.jsonl"
        result = subprocess.run([*launcher, *args, "--output", str(outputs[name])], capture_output=True, text=True,
                                timeout=240, env=env)
        assert result.returncode == 0, result.stderr[-2000:]
    one = outputs["one"].read_text()
    assert len(one.splitlines()) == 10 and outputs["two"].read_text() == one
