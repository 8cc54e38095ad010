"""The autoregressive baselines of ``benchmarks/baselines.py``: condition tokens and oracle rules,
decoding, FUDGE's reweighting, and each system run as its users run it (a subprocess on a targets
file), its output scored by ``dlmctl evaluate``. Built on the bundled model's teacher, trained for a
few steps on the E2E sample in ``tests/data``."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

from arbaselines.conditions import condition_tokens, meets, request_tokens, tree_tokens  # noqa: E402
from arbaselines.decoding import sample  # noqa: E402
from dlmctl.trees import Tree  # noqa: E402
from dlmctl.vocab import Vocabulary  # noqa: E402

TREE = "(S (NP (DET The) (PROPN Eagle)) (VP (AUX is) (NP (DET a) (NOUN pub))) (PUNCT .))"
POS = "DET PROPN AUX DET NOUN PUNCT"


@pytest.fixture(scope="module")
def bundled():
    from dlmctl.api import load

    try:
        return load().lm
    except Exception as exc:  # the bundled model's plugin is not installed
        pytest.skip(f"the bundled model is not available: {exc}")


@pytest.fixture(scope="module")
def parsed(bundled):
    from dlmctl.plugins import get_host

    host = get_host()
    targets = {"pos": POS, "tree": TREE, "span": "2,4,VP", "semantic": "name=The Eagle", "length": "6"}
    return {name: host.control(name).parse_target(text, bundled) for name, text in targets.items()}


def test_a_tree_condition_keeps_brackets_and_labels_but_not_words_or_tags():
    assert tree_tokens(Tree.from_bracketed(TREE)) == ["(S", "(NP", "*", "*", ")", "(VP", "*", "(NP", "*", "*",
                                                      ")", ")", "*", ")"]


def test_conditions_of_every_control_and_of_a_composition(parsed):
    assert condition_tokens("pos", parsed["pos"])[:3] == ["<pos>", "pos:DET", "pos:PROPN"]
    assert condition_tokens("span", parsed["span"]) == ["<span>", "#2", "#4", "label:VP"]
    assert condition_tokens("semantic", parsed["semantic"]) == ["<semantic>", "sem:name=The Eagle"]
    assert condition_tokens("length", parsed["length"]) == ["<length>", "#6"]
    both = request_tokens({"semantic": parsed["semantic"], "length": parsed["length"]})
    assert both == ["<length>", "#6", "<semantic>", "sem:name=The Eagle"]


def test_oracle_rules_on_an_annotated_sentence(parsed):
    sentence = {"text": "The Eagle is a pub .", "tags": POS.split(), "tree": Tree.from_bracketed(TREE)}
    assert all(meets(name, target, sentence) for name, target in parsed.items())
    other = {"text": "Aromi is cheap .", "tags": "PROPN AUX ADJ PUNCT".split(),
             "tree": Tree.from_bracketed("(S (NP (PROPN Aromi)) (VP (AUX is) (ADJP (ADJ cheap))) (PUNCT .))")}
    assert not any(meets(name, target, other) for name, target in parsed.items())


def test_decoding_never_writes_specials_and_ends_by_max_words():
    vocab = Vocabulary(["<s>", "</s>", "<unk>", "<pad>", "a", "b"])
    flat = lambda ids, rows: torch.zeros(len(rows), len(vocab))  # noqa: E731  every word equally likely
    texts = sample(flat, 20, vocab, max_words=3, top_k=6, generator=torch.Generator().manual_seed(0))
    assert all(1 <= len(t.split()) <= 3 or t == "" for t in texts)
    assert all(set(t.split()) <= {"a", "b"} for t in texts)


def test_fudge_adds_its_strength_times_the_discriminator_s_log_probability_to_the_teacher_s_top_k(bundled, parsed):
    from arbaselines.conditioned import Conditioned, ConditionedLM
    from arbaselines.conditions import ConditionVocab
    from arbaselines.systems import Fudge, Settings
    from dlmctl.teacher import load_teacher

    teacher = load_teacher(Path(bundled.model_dir) / "teacher")
    net = ConditionedLM(teacher.net.cfg, 8, 16).eval()
    with torch.no_grad():
        net.judge.weight.zero_()
        net.judge.bias.fill_(-1.0)                       # p(meets) = σ(−1) for every continuation
    fudge = Fudge(teacher, Settings(top_k=5, fudge_strength=2.0), Conditioned(net, ConditionVocab(["<length>", "#6"]), {}))
    ids = torch.tensor([[teacher.vocab.start]])
    with torch.no_grad():
        scores = fudge.next_scores(ids, [{"length": parsed["length"]}])
        plain = torch.log_softmax(teacher.net(ids)[:, -1].topk(5).values, -1)
    kept = scores[0][scores[0] > float("-inf")]
    assert len(kept) == 5
    expected = plain[0] + 2.0 * torch.nn.functional.logsigmoid(torch.tensor(-1.0))
    assert torch.allclose(kept.sort(descending=True).values, expected, atol=1e-5)


def run_baseline(*args, cwd=None):
    return subprocess.run([sys.executable, str(BENCHMARKS / "baselines.py"), *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="module")
def targets_file(tmp_path_factory, bundled):
    path = tmp_path_factory.mktemp("targets") / "targets.jsonl"
    lines = [{"controls": {"pos": POS}}, {"controls": {"length": "7"}},
             {"controls": {"semantic": "food=Italian", "pos": POS}}]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path


@pytest.mark.parametrize("system", ["fudge", "ft-search"])
def test_a_system_writes_generate_s_output_that_evaluate_scores(system, targets_file, e2e_dir, tmp_path_factory):
    run_dir = tmp_path_factory.getbasetemp() / "baseline-runs"
    out = tmp_path_factory.mktemp(system) / "out.jsonl"
    done = run_baseline(system, "--targets", targets_file, "--samples-per-target", 2, "--output", out,
                        "--data", e2e_dir / "train.csv", "--run-dir", run_dir, "--train-steps", 5)
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["target"], r["sample"], r["line"]) for r in rows] == [(0, 0, 1), (0, 1, 1), (1, 0, 2), (1, 1, 2),
                                                                     (2, 0, 3), (2, 1, 3)]
    assert all(r["text"] for r in rows)
    if system == "ft-search":
        assert rows[0]["text"] != rows[1]["text"]
    scored = subprocess.run([sys.executable, "-m", "dlmctl", "evaluate", "--input", str(out), "--json"],
                            capture_output=True, text=True)
    assert scored.returncode == 0, scored.stderr
    assert {"pos", "length", "semantic"} <= set(json.loads(scored.stdout.splitlines()[-1])["controls"])
    again = run_baseline(system, "--targets", targets_file, "--output", out.with_name("again.jsonl"),
                         "--run-dir", run_dir, "--train-steps", 5)       # the trained model is reused
    assert again.returncode == 0, again.stderr
    assert "training" not in again.stderr


def test_pplm_refuses_controls_it_cannot_steer_by(targets_file, tmp_path, e2e_dir):
    done = run_baseline("pplm", "--targets", targets_file, "--output", tmp_path / "o.jsonl", "--data",
                        e2e_dir / "train.csv", "--run-dir", tmp_path / "runs")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == "error: pplm steers by semantic only, not 'pos'"


def test_a_system_without_its_model_or_data_says_what_to_pass(targets_file, tmp_path):
    done = run_baseline("fudge", "--targets", targets_file, "--output", tmp_path / "o.jsonl",
                        "--run-dir", tmp_path / "empty")
    assert done.returncode == 2
    assert "pass --data TRAIN.csv" in done.stderr and "Traceback" not in done.stderr


def test_bad_target_lines_are_named_before_any_work(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"controls": {"pos": "NOUN VERBZ"}}\n')
    done = run_baseline("ar", "--targets", bad, "--output", tmp_path / "o.jsonl")
    assert done.returncode == 2
    assert f"{bad}:1" in done.stderr and "unknown tag 'VERBZ'" in done.stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_fudge_s_shortcut_over_candidates_equals_running_each_continuation():
    from arbaselines.conditioned import ConditionedLM
    from dlmctl.configs import TeacherConfig

    torch.manual_seed(0)
    net = ConditionedLM(TeacherConfig(vocab_size=50, seq_len=20, hidden=32, layers=2, heads=4), 10, 8).eval()
    cond = torch.tensor([[3, 4, 5, 0], [6, 7, 0, 0]])
    words = torch.tensor([[0, 8, 9], [0, 11, 12]])
    candidates = torch.tensor([[13, 14, 15], [16, 17, 18]])
    with torch.no_grad():
        fast = net.judge_continuations(cond, words, candidates)
        slow = torch.tensor([[net(cond[i:i + 1], torch.cat([words[i:i + 1], candidates[i:i + 1, j:j + 1]], 1))[1][0, -1]
                              for j in range(3)] for i in range(2)])
    assert torch.allclose(fast, slow, atol=1e-5)
