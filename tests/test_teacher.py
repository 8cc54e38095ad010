"""The teacher LM: training, saving/loading, lm-score of real versus shuffled text, OOV handling."""

import csv
import math
import random

import pytest
import torch

from dlmctl.corpus import tokenized
from dlmctl.errors import ModelError
from dlmctl.teacher import TeacherConfig, TeacherTrainConfig, load_teacher, train_teacher
from dlmctl.vocab import Vocabulary


def held_out(e2e_dir, n=80):
    with open(e2e_dir / "valid.csv", newline="") as f:
        return [row["human_reference"] for _, row in zip(range(n), csv.DictReader(f))]


@pytest.fixture(scope="module")
def teacher_dir(small_corpus, e2e_dir, tmp_path_factory):
    torch.set_num_threads(1)
    sentences = tokenized(str(small_corpus), "human_reference")
    vocab = Vocabulary.build(sentences, 2)
    out = tmp_path_factory.mktemp("teacher")
    cfg = TeacherConfig(len(vocab), seq_len=48, hidden=32, layers=1, heads=2, dropout=0.0)
    train_teacher(sentences, vocab, out, cfg, TeacherTrainConfig(steps=160, batch_size=32, lr=5e-3, warmup=20,
                                                                 eval_every=80),
                  torch.device("cpu"), valid=held_out(e2e_dir, 40), meta={"data": {"valid": "valid.csv"}},
                  show_progress=False)
    return out


def test_references_score_lower_than_shuffled_words(teacher_dir, e2e_dir):
    teacher = load_teacher(teacher_dir)
    texts = held_out(e2e_dir)
    rng = random.Random(0)
    shuffled = []
    for text in texts:
        words = text.split()
        rng.shuffle(words)
        shuffled.append(" ".join(words))
    real, mixed = teacher.lm_score(texts), teacher.lm_score(shuffled)
    assert 1.0 < real < 0.7 * mixed
    assert real < len(teacher.vocab)


def test_lm_score_is_exp_of_mean_token_nll_and_handles_oov(teacher_dir):
    teacher = load_teacher(teacher_dir)
    texts = ["The Eagle is a pub .", "zyzzyva qwerty ."]
    total, count = teacher.nll(texts)
    assert count.tolist() == [6 + 1, 3 + 1]       # words + END
    assert teacher.lm_score(texts) == pytest.approx(math.exp(total.sum().item() / count.sum().item()), rel=1e-5)
    # unknown words are all scored as UNK: any two give the same NLL
    assert "zyzzyva" not in teacher.vocab and "flibber" not in teacher.vocab
    assert teacher.nll(["zyzzyva qwerty ."])[0].item() == pytest.approx(teacher.nll(["flibber gnarf ."])[0].item())


def test_saved_teacher_records_the_best_held_out_score(teacher_dir, e2e_dir):
    teacher = load_teacher(teacher_dir)
    training = teacher.meta["training"]
    scores = [h["valid_lm_score"] for h in training["history"]]
    assert training["valid_lm_score"] == min(scores)
    assert teacher.lm_score(held_out(e2e_dir, 40)) == pytest.approx(training["valid_lm_score"], rel=1e-4)


def test_missing_or_corrupt_teacher_is_a_model_error(tmp_path, teacher_dir):
    with pytest.raises(ModelError, match="teacher.json is missing.*dlmctl train-teacher"):
        load_teacher(tmp_path)
    for name in ("teacher.json", "vocab.json"):
        (tmp_path / name).write_text((teacher_dir / name).read_text())
    (tmp_path / "teacher.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ModelError, match="corrupt"):
        load_teacher(tmp_path)


def test_reference_score_falls_back_to_the_recorded_held_out_score(teacher_dir, e2e_dir):
    from dlmctl.evaluation import reference_scores

    teacher = load_teacher(teacher_dir)
    recorded, source = reference_scores(teacher)
    assert (recorded.lm_score, recorded.fluent) == (teacher.meta["training"]["valid_lm_score"], None)
    assert source == "valid.csv (recorded with the teacher)"
    texts = held_out(e2e_dir, 10)
    judged, source = reference_scores(teacher, texts, "mine.csv")
    assert source == "mine.csv" and judged.lm_score == pytest.approx(teacher.lm_score(texts))
    assert 0.0 <= judged.fluent <= 1.0


def test_a_reverse_teacher_reads_each_sentence_last_word_first(teacher_dir):
    from dataclasses import replace

    from dlmctl.teacher import Teacher, TeacherLM

    forward = load_teacher(teacher_dir)
    net = TeacherLM(replace(forward.net.cfg, reverse=True))
    net.load_state_dict(forward.net.state_dict())
    reverse = Teacher(net, forward.vocab)
    words = [["The", "Eagle", "is", "a", "pub", "."], ["It", "is", "cheap"]]
    for got, want in zip(reverse.word_nlls(words), forward.word_nlls([w[::-1] for w in words])):
        assert torch.allclose(got, want)


def test_training_a_reverse_teacher_records_its_direction(small_corpus, tmp_path):
    sentences = tokenized(str(small_corpus), "human_reference")
    vocab = Vocabulary.build(sentences, 2)
    cfg = TeacherConfig(len(vocab), seq_len=48, hidden=16, layers=1, heads=2, dropout=0.0, reverse=True)
    train_teacher(sentences, vocab, tmp_path, cfg, TeacherTrainConfig(steps=2, batch_size=8, warmup=1, eval_every=2),
                  torch.device("cpu"), show_progress=False)
    assert load_teacher(tmp_path).net.cfg.reverse
