"""``dlmctl evaluate``: reading samples, success as a mean over targets of means over samples, extra
control metrics, lm-scores and errors."""

import json
import math

import pytest
import torch

from dlmctl.control import Control, Guidance
from dlmctl.errors import TargetError, UsageError
from dlmctl.evaluation import Sample, add_teacher_scores, read_samples, score_controls
from dlmctl.hookspecs import hookimpl
from dlmctl.plugins import PluginHost
from dlmctl.teacher import TeacherConfig, TeacherTrainConfig, load_teacher, train_teacher
from dlmctl.corpus import tokenized
from dlmctl.vocab import Vocabulary, tokenize


class WordCount(Control):
    """Exact word count, with 'within ±2' as an extra metric (a complete control for these tests)."""

    name = "words"
    target_help = "a whole number, e.g. words=5"

    def parse_target(self, text, model):
        if not text.isdigit():
            raise TargetError(f"'{text}' is not a number; expected {self.target_help}")
        return int(text)

    def guidance(self, model, targets):
        return Guidance()

    def score(self, text, target):
        return float(len(tokenize(text)) == target)

    def metrics(self, text, target):
        return {"within ±2": float(abs(len(tokenize(text)) - target) <= 2)}


class WordCountPlugin:
    @hookimpl
    def register_controls(self, register):
        register(WordCount())


@pytest.fixture
def host():
    host = PluginHost(entry_points=False)
    host.register(WordCountPlugin(), "word-count")
    yield host
    host.unregister("word-count")


def write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


RECORDS = [  # target 0: 1 of 2 exact; target 1: its single sample exact; one unconditional sample
    {"target": 0, "sample": 0, "controls": {"words": "6"}, "text": "The Eagle is a pub ."},
    {"target": 0, "sample": 1, "controls": {"words": "6"}, "text": "The Eagle is a pub near the river ."},
    {"target": 1, "sample": 0, "controls": {"words": "2"}, "text": "Cheap ."},
    {"target": 2, "sample": 0, "controls": {}, "text": "There is a pub ."},
]


def test_success_is_the_mean_over_targets_of_the_mean_over_samples(tmp_path, host, tiny_model):
    samples = read_samples(write(tmp_path / "out.jsonl", RECORDS))
    results = score_controls(samples, tiny_model, host, show_progress=False)
    assert list(results) == ["words"]
    words = results["words"]
    assert (words.targets, words.samples) == (2, 3)
    assert words.success == pytest.approx((0.5 + 1.0) / 2)       # not the pooled 2/3
    assert words.metrics == {"within ±2": pytest.approx((0.5 + 1.0) / 2)}  # 9 words is 3 off


def test_bad_target_names_the_line(tmp_path, host, tiny_model):
    path = write(tmp_path / "out.jsonl", RECORDS[:1] + [{"target": 1, "controls": {"words": "many"}, "text": "x"}])
    with pytest.raises(TargetError, match=r"out.jsonl:2: control 'words': 'many' is not a number"):
        score_controls(read_samples(path), tiny_model, host, source=str(path), show_progress=False)


@pytest.mark.parametrize("content, message", [
    ("", "has no samples"),
    ('{"controls": {"words": "3"}}\n', ":1: expected a JSON object like"),
    ('{"text": "ok"}\nnot json\n', ":2: expected a JSON object like"),
    ('{"text": "ok", "controls": ["words"]}\n', ":1: expected a JSON object like"),
    (b'{"text": "caf\xe9"}\n', r"is not UTF-8 text \(byte 13\)"),
])
def test_malformed_input_is_a_usage_error(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(UsageError, match=message):
        read_samples(path)
    with pytest.raises(UsageError, match="not found"):
        read_samples(tmp_path / "missing.jsonl")


@pytest.fixture(scope="module")
def quick_teacher(small_corpus, tmp_path_factory):
    torch.set_num_threads(1)
    sentences = tokenized(str(small_corpus), "human_reference")
    vocab = Vocabulary.build(sentences, 2)
    out = tmp_path_factory.mktemp("quick-teacher")
    train_teacher(sentences, vocab, out, TeacherConfig(len(vocab), seq_len=48, hidden=16, layers=1, heads=2),
                  TeacherTrainConfig(steps=20, batch_size=16, warmup=2), torch.device("cpu"), show_progress=False)
    return out


def test_lm_scores_per_control_and_overall(tmp_path, host, tiny_model, quick_teacher):
    samples = [Sample(r["target"], r["controls"], r["text"], i) for i, r in enumerate(RECORDS, 1)]
    results = score_controls(samples, tiny_model, host, show_progress=False)
    teacher = load_teacher(quick_teacher)
    overall = add_teacher_scores(results, samples, teacher)
    assert overall.lm_score == pytest.approx(teacher.lm_score([r["text"] for r in RECORDS]), rel=1e-5)
    assert results["words"].lm_score == pytest.approx(teacher.lm_score([r["text"] for r in RECORDS[:3]]), rel=1e-5)
    assert not math.isclose(overall.lm_score, results["words"].lm_score)


def test_evaluate_command_json(tmp_path, tiny_model_dir, quick_teacher, small_corpus):
    from typer.testing import CliRunner

    from dlmctl.cli import _register_commands, app
    from dlmctl.plugins import get_host

    path = write(tmp_path / "out.jsonl", [r for r in RECORDS if "words" not in r["controls"]] +
                 [{"target": 3, "sample": 0, "controls": {"length": "6"}, "text": "The Eagle is a pub ."}])
    if "length" not in get_host().controls():
        pytest.skip("the length control plugin (dlmctl-length) is not installed")
    _register_commands()
    result = CliRunner().invoke(app, ["evaluate", "--input", str(path), "--model", str(tiny_model_dir),
                                      "--teacher", str(quick_teacher), "--references", str(small_corpus), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["samples"] == 2
    assert report["controls"]["length"]["success"] == 1.0
    assert report["lm_score"] > 1.0 and report["references"]["lm_score"] > 1.0
    assert 0.0 <= report["fluent"] <= 1.0 and 0.0 <= report["references"]["fluent"] <= 1.0
    assert report["overlap"] is None                                      # one sample per target
    assert report["distinct_2"] == pytest.approx(6 / 9)                  # "is a", "a pub", "pub ." twice
    assert report["references"]["source"] == small_corpus.name
    assert report["flawed"] == report["references"]["flawed"] == 0.0    # no semantic classifier: no contradictions


class SaysCheap:
    name = "cheap"

    def flaws(self, model, texts):
        return [["says cheap"] if "Cheap" in t else [] for t in texts]


def test_flawed_shares_per_control_and_overall(tmp_path, host, tiny_model, use_critics):
    from dlmctl.evaluation import add_flaw_shares, flawed_share

    use_critics(SaysCheap())
    samples = read_samples(write(tmp_path / "out.jsonl", RECORDS))
    results = score_controls(samples, tiny_model, host=host, show_progress=False)
    assert add_flaw_shares(results, samples, tiny_model) == pytest.approx(1 / 4)
    assert results["words"].flawed == pytest.approx(1 / 3)
    assert flawed_share(tiny_model, ["Cheap .", "A pub ."]) == 0.5 and flawed_share(tiny_model, []) is None


def test_teacher_scores_count_fluent_sentences_by_their_worst_token(tmp_path, host, tiny_model, quick_teacher):
    from dlmctl.evaluation import judge

    samples = [Sample(r["target"], r["controls"], r["text"], i) for i, r in enumerate(RECORDS, 1)]
    teacher = load_teacher(quick_teacher)
    worst = [float(row.max()) for row in teacher.token_nlls([r["text"] for r in RECORDS])]
    threshold = sorted(worst)[1]                                  # the two least surprising pass
    results = score_controls(samples, tiny_model, host, show_progress=False)
    overall = add_teacher_scores(results, samples, teacher, threshold)
    assert overall.fluent == pytest.approx(2 / 4)
    assert results["words"].fluent == pytest.approx(sum(w <= threshold for w in worst[:3]) / 3)
    assert judge(teacher, ["The Eagle is a pub ."], 1e-6).fluent == 0.0
    assert judge(teacher, ["The Eagle is a pub ."], 1e6).fluent == 1.0


def test_a_repeated_word_counts_as_a_very_unlikely_one(quick_teacher):
    from dlmctl.evaluation import judge
    from dlmctl.fluency import REPEAT_NLL, floor_repeats, repeats, sentence_scores

    def flagged(text):
        return [word for word, flag in zip(text.split(), repeats(text.split())) if flag]

    assert flagged("The Mill serves food food , , near the river") == ["food", ","]
    assert flagged("It is in the high price range in the high price range .") == ["in", "the", "high", "price", "range"]
    assert flagged("It is in a high price range in the high price range .") == ["high", "price", "range"]
    assert flagged("The Mill is a pub . It is cheap . It is rated 5 out of 5 .") == []   # punctuation, not trigrams
    assert floor_repeats(torch.tensor([1.0, 9.0, 2.0, 3.0, 0.5]), "a pub pub .".split()).tolist() == \
        [1.0, 9.0, REPEAT_NLL, 3.0, 0.5]                           # raised, never lowered; END last
    assert floor_repeats(torch.ones(2), "a pub pub".split()).tolist() == [1.0, 1.0]   # cut by the teacher
    teacher = load_teacher(quick_teacher)
    text = "The Eagle is a pub pub ."
    raw = float(teacher.token_nlls([text])[0].max())
    assert raw < REPEAT_NLL - 1e-3                                  # the teacher alone would pass it
    assert sentence_scores(teacher, [text.split()]).item() == REPEAT_NLL
    assert judge(teacher, [text], REPEAT_NLL - 1e-3).fluent == 0.0


def test_overlap_compares_the_samples_of_each_target(tmp_path, host, tiny_model):
    from dlmctl.diversity import bigram_jaccard

    results = score_controls(read_samples(write(tmp_path / "out.jsonl", RECORDS)), tiny_model, host,
                             show_progress=False)
    assert results["words"].overlap == pytest.approx(bigram_jaccard(RECORDS[0]["text"], RECORDS[1]["text"]))
