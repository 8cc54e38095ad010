"""The command line: results on stdout, one-line errors on stderr with exit 2 for usage errors."""

import json
import shutil

import pytest
import torch

from dlmctl.cli import main


def run(monkeypatch, capsys, *args):
    monkeypatch.setattr("sys.argv", ["dlmctl", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = exc.code or 0
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_json_with_length(monkeypatch, capsys, tiny_model_dir):
    code, out, _ = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "-n", "3",
                       "--steps", "20", "--control", "length=6", "--json")
    assert code == 0
    records = [json.loads(line) for line in out.splitlines()]
    assert [r["sample"] for r in records] == [0, 1, 2]
    assert all(len(r["text"].split()) == 6 and r["controls"] == {"length": "6"} for r in records)


def test_batch_targets_write_jsonl(monkeypatch, capsys, tiny_model_dir, tmp_path):
    targets = tmp_path / "targets.jsonl"
    targets.write_text('{"controls": {"length": "5"}}\n{"controls": {"length": "8"}}\n')
    output = tmp_path / "out.jsonl"
    code, _, _ = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "--targets", str(targets),
                     "--samples-per-target", "2", "--steps", "20", "--output", str(output))
    assert code == 0
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["target"], r["sample"]) for r in records] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert [len(r["text"].split()) for r in records] == [5, 5, 8, 8]


@pytest.mark.parametrize("args, message", [
    (["--control", "lenght=12"], "unknown control 'lenght'; did you mean 'length'?"),
    (["--control", "length"], "--control expects NAME=VALUE"),
    (["--control", "length=twelve"], "'twelve' is not a number"),
    (["--control", "length=1\n2"], "'1\\n2' is not a number"),            # shown escaped, on one line
    (["--control", "length=0"], "does not fit"),
    (["--control", "length=31"], "does not fit"),
    (["--control", "infill=The ___ .", "--weight", "infill=-1"], "λ must be between 1e-12 and 1e+12"),
    (["--control", "infill=The ___ .", "--weight", "infill=1e-300"], "smaller steers harder; infill's default is 0.1"),
    (["--control", "length=5", "--weight", "length=0.1"], "length steers without a gradient term, so it has no λ"),
    (["--seed", "99999999999999999999999"], "seed must be a whole number from 0 to 2^63 - 1"),
    (["--seed", "-1"], "seed must be a whole number from 0"),
    (["-n", "1000000000"], "1,000,000,000 sentences in one call; at most 1,000,000"),
    (["--candidates", "100000000"], "candidates must be between 1 and 1024"),
    (["--steps", "0"], "--steps must be between 1"),
    (["--temperature", "0"], "--temperature must be in (0, 2]"),
    (["--word-temperature", "-1"], "--word-temperature must be in [0, 10]"),
    (["--tail-stride", "0"], "--tail-stride must be a whole number, 1 (every step) or more, got 0"),
    (["--guide-every", "0"], "--guide-every must be a whole number, 1 (every step) or more, got 0"),
    (["--guide-norm", "row"], "--guide-norm must be coordinate or sentence, got 'row'"),
    (["--repel", "-1"], "--repel must be a number, 0 (samples drawn independently) or more, got -1.0"),
    (["--guided-share", "2"], "--guided-share must be in [0, 1], got 2.0"),
    (["--teacher-weight", "-1"], "--teacher-weight must be a number, 0 (the teacher takes no part) or more, got -1.0"),
])
def test_bad_generate_input_is_one_line_and_exit_2(monkeypatch, capsys, tiny_model_dir, args, message):
    code, out, err = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), *args)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert out == ""


def test_missing_and_corrupt_models_name_the_file_and_the_fix(monkeypatch, capsys, tiny_model_dir, tmp_path):
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(tmp_path / "nowhere"))
    assert code == 1 and "does not exist" in err and "dlmctl train" in err
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"not a safetensors file")
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(broken))
    assert code == 1 and "model.safetensors is corrupt" in err
    (broken / "config.json").unlink()
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(broken))
    assert code == 1 and "config.json is missing" in err


@pytest.mark.parametrize("change, message", [
    (lambda c: c.update(format_version="1"), 'expected a whole-number "format_version"'),
    (lambda c: c.update(model=[]), 'and a "model" object'),
    (lambda c: c["model"].update(heads=5), "'hidden' (64) must be a multiple of 'heads' (5)"),
    (lambda c: c["model"].update(layers="2"), "'layers' must be a whole number ≥ 1, got '2'"),
    (lambda c: c["model"].update(dropout=5), "'dropout' must be a number in [0, 1)"),
])
def test_a_config_with_wrong_types_names_the_field(monkeypatch, capsys, tiny_model_dir, tmp_path, change, message):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    config = json.loads((broken / "config.json").read_text())
    change(config)
    (broken / "config.json").write_text(json.dumps(config))
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(broken), "-n", "1", "--steps", "2")
    assert code == 1 and message in err and "config.json is corrupt" in err and "Traceback" not in err


def test_a_vocabulary_that_is_not_a_word_list_is_corrupt(monkeypatch, capsys, tiny_model_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model_dir, broken)
    (broken / "vocab.json").write_text('{"the": 1}')
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(broken), "-n", "1", "--steps", "2")
    assert code == 1 and "vocab.json is corrupt (expected a JSON list of words)" in err


def test_an_argument_that_is_not_utf8_is_a_usage_error(monkeypatch, capsys):
    code, out, err = run(monkeypatch, capsys, "annotate", "caf\udce9 is cheap")
    assert code == 2 and "argument 2 ('caf'…) is not UTF-8 text" in err and out == ""


def test_wrong_device_is_a_usage_error(monkeypatch, capsys, tiny_model_dir):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "--device", "cuda")
    assert code == 2 and "CUDA is not available" in err


def test_train_refuses_to_overwrite_a_run_without_resume(monkeypatch, capsys, tiny_model_dir, small_corpus):
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(tiny_model_dir))
    assert code == 2 and "--resume" in err


@pytest.mark.parametrize("args, message", [
    (["--steps", "0"], "--steps must be at least 1, got 0"),
    (["--batch-size", "0"], "--batch-size must be at least 1"),
    (["--lr", "-1"], "--lr must be a positive number, got -1"),
    (["--dropout", "5"], "--dropout must be in [0, 1), got 5"),
    (["--seq-len", "1"], "--seq-len must be at least 3"),
    (["--save-every", "0"], "--save-every must be at least 1"),
    (["--predict", "tokens"], "--predict must be one of embedding, words, got 'tokens'"),
])
def test_bad_training_settings_are_refused_before_any_work(monkeypatch, capsys, small_corpus, tmp_path, args, message):
    code, out, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(tmp_path / "m"), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""
    assert not (tmp_path / "m").exists()


def test_train_never_writes_over_an_exported_model_or_a_file(monkeypatch, capsys, tiny_model_dir, small_corpus,
                                                             tmp_path):
    exported = tmp_path / "shipped"
    shutil.copytree(tiny_model_dir, exported, ignore=shutil.ignore_patterns("train_state.pt"))
    before = (exported / "model.safetensors").read_bytes()
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(exported))
    assert code == 2 and "already holds a model: pass --overwrite" in err
    assert (exported / "model.safetensors").read_bytes() == before
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(a_file))
    assert code == 2 and "is a file" in err and a_file.read_text() == "mine"


@pytest.mark.parametrize("args, message", [
    (["--hidden", "32"], "--init-from keeps the trained model's shape but for --layers (more of them): drop --hidden"),
    (["--preset", "e2e-small"], "--init-from keeps the trained model's shape but for --layers (more of them): drop "
                                "--preset"),
    (["--layers", "1"], "has 2 layers; a model can only grow deeper"),
    (["--resume"], "pass only one"),
])
def test_bad_warm_starts_are_usage_errors(monkeypatch, capsys, tiny_model_dir, small_corpus, tmp_path, args, message):
    code, out, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(tmp_path / "new"),
                         "--init-from", str(tiny_model_dir), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()


def test_a_model_trained_in_chunks_records_every_chunk(monkeypatch, capsys, tiny_model_dir, small_corpus, tmp_path):
    common = ["--data", str(small_corpus), "--steps", "2", "--batch-size", "8", "--save-every", "2"]
    for previous, out in ((tiny_model_dir, tmp_path / "chunk2"), (tmp_path / "chunk2", tmp_path / "chunk3")):
        code, _, err = run(monkeypatch, capsys, "train", "--out", str(out), "--init-from", str(previous), *common)
        assert code == 0, err
    record = json.loads((tmp_path / "chunk3" / "config.json").read_text())
    assert record["init_from"]["model"] == str(tmp_path / "chunk2")
    assert record["init_from"]["training"]["steps_done"] == 2
    assert record["init_from"]["init_from"]["model"] == str(tiny_model_dir)
    assert record["init_from"]["init_from"]["training"]["steps_done"] == 400


def test_export_refuses_symbolic_links_out_of_the_model(monkeypatch, capsys, tiny_model_dir, tmp_path):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    secret = tmp_path / "secret.txt"
    secret.write_text("not part of the model")
    (model / "notes.txt").symlink_to(secret)
    code, _, err = run(monkeypatch, capsys, "export", "--model", str(model), "--out", str(tmp_path / "shipped"))
    assert code == 2 and "is a symbolic link" in err and not (tmp_path / "shipped").exists()


def test_a_new_denoiser_on_a_trained_models_frozen_embeddings(monkeypatch, capsys, tiny_model_dir, small_corpus,
                                                             tmp_path):
    """``--embeddings-from`` trains a denoiser of another shape on the same vocabulary and frozen
    word embeddings, so that model's control classifiers stay valid for the new one."""
    from dlmctl.checkpoint import load_model

    out = tmp_path / "wider"
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(out),
                       "--embeddings-from", str(tiny_model_dir), "--hidden", "32", "--layers", "1", "--heads", "2",
                       "--steps", "3", "--batch-size", "8", "--save-every", "3")
    assert code == 0, err
    old, new = load_model(tiny_model_dir), load_model(out)
    assert new.config.hidden == 32 and new.vocab.words == old.vocab.words
    assert (new.config.seq_len, new.config.diffusion_steps) == (old.config.seq_len, old.config.diffusion_steps)
    assert torch.equal(new.embeddings, old.embeddings)
    assert json.loads((out / "config.json").read_text())["embeddings_from"]["model"] == str(tiny_model_dir)
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(tmp_path / "x"),
                       "--embeddings-from", str(tiny_model_dir), "--embed-dim", "8")
    assert code == 2 and "--embeddings-from keeps that model's vocabulary, embedding size and sequence length" in err


def test_export_ships_fp16_weights_without_training_state(monkeypatch, capsys, tiny_model_dir, tmp_path):
    from safetensors.torch import load_file

    from dlmctl.checkpoint import load_model

    out = tmp_path / "shipped"
    code, stdout, _ = run(monkeypatch, capsys, "export", "--model", str(tiny_model_dir), "--out", str(out), "--fp16")
    assert code == 0 and "exported" in stdout
    assert not (out / "train_state.pt").exists()
    assert {v.dtype for v in load_file(str(out / "model.safetensors")).values()} == {torch.float16}
    config = json.loads((out / "config.json").read_text())
    assert config["exported"].startswith("dlmctl export --model ")      # the history names the export
    original, shipped = load_model(tiny_model_dir), load_model(out)
    assert (original.embeddings - shipped.embeddings).abs().max() < 1e-2
    code, _, err = run(monkeypatch, capsys, "export", "--model", str(tiny_model_dir), "--out", str(tiny_model_dir))
    assert code == 2 and "--out must differ" in err


@pytest.mark.parametrize("where, message", [
    ("missing/out.jsonl", "does not exist"), ("a_file/out.jsonl", "is a file"), (".", "is a directory"),
])
def test_an_output_that_cannot_be_written_is_refused_before_sampling(monkeypatch, capsys, tiny_model_dir, tmp_path,
                                                                     where, message):
    (tmp_path / "a_file").write_text("mine")
    code, out, err = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "--steps", "2000",
                         "--output", str(tmp_path / where))
    assert code == 2 and message in err and out == "" and "sampling" not in err
    assert (tmp_path / "a_file").read_text() == "mine"


def test_every_bad_target_line_is_named_before_sampling_or_skipped(monkeypatch, capsys, tiny_model_dir, tmp_path):
    targets = tmp_path / "targets.jsonl"
    targets.write_text('{"controls": {"length": "5"}}\nnot json\n{"controls": {"length": "many"}}\n'
                       '{"controls": {"lenght": "5"}}\n{"controls": {"length": "7"}}\n')
    output = tmp_path / "out.jsonl"
    args = ["generate", "--model", str(tiny_model_dir), "--targets", str(targets), "--steps", "5", "--output",
            str(output)]
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1 and not output.exists()
    assert "3 bad target line(s)" in err and "sampling" not in err
    assert ":2: expected a JSON object" in err and ":3: length: 'many'" in err and ":4: unknown control 'lenght'" in err
    code, _, err = run(monkeypatch, capsys, *args, "--on-error", "skip")
    assert code == 0 and "skipping 3 bad target line(s)" in err
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [(r["target"], r["line"], len(r["text"].split())) for r in records] == [(0, 1, 5), (1, 5, 7)]
    targets.write_text('not json\n')
    code, _, err = run(monkeypatch, capsys, *args, "--on-error", "skip")
    assert code == 2 and "every target line is bad (1), nothing generated" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("content, message", [
    (b"\xff\xfe{}", "is not UTF-8 text"), (b"", "has no targets"), (b"\n\n", "has no targets"),
])
def test_unreadable_target_files_are_one_line(monkeypatch, capsys, tiny_model_dir, tmp_path, content, message):
    targets = tmp_path / "targets.jsonl"
    targets.write_bytes(content)
    code, out, err = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "--targets", str(targets))
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1 and out == ""


def test_targets_from_standard_input(monkeypatch, capsys, tiny_model_dir):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b'{"controls": {"length": "4"}}\n')))
    code, out, _ = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "--targets", "-",
                       "--steps", "5", "--json")
    assert code == 0 and [len(json.loads(line)["text"].split()) for line in out.splitlines()] == [4]


def test_ctrl_c_says_interrupted_exits_130_and_leaves_no_output(tiny_model_dir, tmp_path):
    """A real SIGINT to a running ``dlmctl generate``: "interrupted" on stderr, status 130, no
    traceback, and no --output file (it is written atomically at the end)."""
    import signal
    import subprocess
    import sys
    import time

    output = tmp_path / "out.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-c", "from dlmctl.cli import main; main()", "generate", "--model", str(tiny_model_dir),
         "-n", "2000", "--steps", "200", "--output", str(output)],
        stderr=subprocess.PIPE, text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    time.sleep(4)
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "interrupted" and "Traceback" not in err
    assert not output.exists() and not list(tmp_path.glob(".out.jsonl.*"))


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_stopping_training_keeps_a_checkpoint_and_prints_the_resume_command(small_corpus, tmp_path, stop):
    """A real SIGINT (Ctrl-C) or SIGTERM (``kill``, a job scheduler) to ``dlmctl train``: status 130,
    the last state saved, and a printed command that resumes the run and finishes it."""
    import shlex
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "run"
    command = [sys.executable, "-c", "from dlmctl.cli import main; main()", "train", "--data", str(small_corpus),
               "--out", str(out), "--steps", "100000", "--batch-size", "8", "--hidden", "32", "--layers", "1",
               "--seq-len", "24", "--save-every", "100000"]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    before = []
    for line in process.stderr:                   # until the progress log's first line: the steps have begun
        before.append(line)
        if line.startswith("training: "):
            break
    assert before and before[-1].startswith("training: "), "".join(before)
    time.sleep(1)
    process.send_signal(getattr(signal, stop))
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    assert (out / "train_state.pt").is_file() and "Traceback" not in err
    resume = err.strip().splitlines()[-2].split("continue with: ", 1)[1]
    assert resume.startswith("dlmctl train --data") and resume.endswith("--resume")
    finish = [*command[:3], *shlex.split(resume)[1:], "--steps", "1"]   # 1 step: already past it, saves at once
    result = subprocess.run(finish, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_resume_command_drops_the_options_that_start_a_new_run():
    from dlmctl.cli.train import resume_command

    assert resume_command(["train", "--data", "c.csv", "--out", "m", "--init-from", "old", "--overwrite",
                           "--preset=small", "--hidden", "32", "--steps", "9"]) == \
        "dlmctl train --data c.csv --out m --steps 9 --resume"
    assert resume_command(["train", "--out", "m", "--resume"]) == "dlmctl train --out m --resume"


@pytest.mark.parametrize("args, message", [
    (["generate", "-c", "length=5", "-c", "length=7"], "--control length is given twice ('5' and '7')"),
    (["generate", "--guide-steps", "-1"], "--guide-steps must be 0 or more"),
    (["generate", "-c", "tree=(S (XYZ foo))"], "unknown part-of-speech tag 'XYZ'"),
    (["generate", "-n", "abc"], "Invalid value for '-n'"),
    (["annotate", " ".join(["cheap"] * 1000)], "TEXT has 1000 words; annotate reads one sentence of at most 400"),
    (["annotate", "\x01\x02\x03"], "TEXT has no words"),
])
def test_more_bad_input_found_by_a_sweep_is_one_line_and_exit_2(monkeypatch, capsys, tiny_model_dir, args, message):
    if args[0] == "generate":
        args = [*args, "--model", str(tiny_model_dir), "--steps", "2"]
    code, out, err = run(monkeypatch, capsys, *args)
    assert code == 2, err
    assert message in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1 and out == ""


def test_files_given_for_folders_and_outputs_over_inputs_are_refused(monkeypatch, capsys, tiny_model_dir, tmp_path):
    a_file = tmp_path / "afile"
    a_file.write_text("x")
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(a_file))
    assert code == 1 and "is a file; expected a model directory" in err
    targets = tmp_path / "t.jsonl"
    targets.write_text('{"controls": {"length": "5"}}\n')
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "--targets", str(targets),
                       "--output", str(targets))
    assert code == 2 and "is the --targets file" in err and targets.read_text() == '{"controls": {"length": "5"}}\n'
    code, _, err = run(monkeypatch, capsys, "export", "--model", str(tiny_model_dir), "--out", str(a_file))
    assert code == 2 and "is a file" in err and a_file.read_text() == "x"
    shipped = tmp_path / "shipped"
    assert run(monkeypatch, capsys, "export", "--model", str(tiny_model_dir), "--out", str(shipped))[0] == 0
    before = (shipped / "model.safetensors").read_bytes()
    code, _, err = run(monkeypatch, capsys, "export", "--model", str(tiny_model_dir), "--out", str(shipped), "--fp32")
    assert code == 2 and "already holds a model: pass --overwrite" in err
    assert (shipped / "model.safetensors").read_bytes() == before


def test_a_debug_variable_that_is_not_true_does_not_turn_errors_into_tracebacks(monkeypatch, capsys, tiny_model_dir):
    monkeypatch.setenv("DLMCTL_DEBUG", "maybe")
    code, _, err = run(monkeypatch, capsys, "generate", "--model", str(tiny_model_dir), "-c", "lenght=5")
    assert code == 2 and err.startswith("error: unknown control 'lenght'") and "Traceback" not in err


def test_serve_says_when_it_cannot_listen_before_loading_the_model(monkeypatch, capsys, tmp_path):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(monkeypatch, capsys, "serve", "--model", str(tmp_path / "no-model"), "--port", str(port))
    assert code == 2 and f"cannot listen on --host 127.0.0.1 --port {port}" in err


def test_resume_refuses_another_shape_but_accepts_the_same_flags_again(monkeypatch, capsys, small_corpus, tmp_path):
    out = tmp_path / "run"
    shape = ["--hidden", "32", "--layers", "1", "--heads", "2", "--seq-len", "24", "--batch-size", "4"]
    assert run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(out), "--steps", "1", *shape)[0] == 0
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(out), "--steps", "2",
                       "--resume", "--hidden", "64", "--heads", "2")
    assert code == 2 and "drop --hidden 64 (the run has 32)" in err
    assert run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(out), "--steps", "2",
               "--resume", *shape)[0] == 0


def test_controls_that_fix_different_lengths_are_refused(monkeypatch, capsys):
    """A tree (or tag sequence) of n words with a length other than n is a contradiction, refused
    before sampling (it gave a cut sentence)."""
    from dlmctl.plugins import get_host

    if "default" not in get_host().models():
        pytest.skip("the bundled model (dlmctl-e2e) is not installed")
    code, out, err = run(monkeypatch, capsys, "generate", "-c", "pos=DET NOUN AUX ADJ PUNCT", "-c", "length=3")
    assert code == 2 and "different lengths (length 3 words, pos 5 words)" in err and out == ""


def test_resuming_from_the_state_of_another_model_is_one_line(monkeypatch, capsys, small_corpus, tmp_path):
    out, other = tmp_path / "run", tmp_path / "other"
    base = ["--data", str(small_corpus), "--steps", "1", "--layers", "1", "--heads", "2", "--seq-len", "24",
            "--batch-size", "4"]
    assert run(monkeypatch, capsys, "train", *base, "--out", str(out), "--hidden", "32")[0] == 0
    assert run(monkeypatch, capsys, "train", *base, "--out", str(other), "--hidden", "64")[0] == 0
    shutil.copy(other / "train_state.pt", out / "train_state.pt")
    code, _, err = run(monkeypatch, capsys, "train", "--data", str(small_corpus), "--out", str(out), "--steps", "2",
                       "--resume")
    assert code == 1 and "train_state.pt does not match this run's model" in err and len(err.strip().splitlines()) == 1


def test_evaluate_checks_references_and_teacher_before_scoring(monkeypatch, capsys, tiny_model_dir, tmp_path):
    samples = tmp_path / "s.jsonl"
    samples.write_text('{"controls": {"length": "3"}, "text": "The pub ."}\n')
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("foo,bar\n1,2\n")
    for extra, message in ((["--references", str(wrong)], "has no column 'human_reference'"),
                           (["--teacher", str(tmp_path)], "is not a teacher LM (no teacher.json)")):
        code, _, err = run(monkeypatch, capsys, "evaluate", "--input", str(samples), "--model", str(tiny_model_dir),
                           *extra)
        assert code == 2 and message in err and err.startswith("error: ") and "scoring" not in err
