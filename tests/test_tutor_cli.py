"""``rllab tutor`` end to end on a tiny budget, its bad-input errors, and ``rllab bench melody``."""

from __future__ import annotations

import json

import pytest
import torch
from cli_helpers import run_main as run_cli

from rllab.music.note_rnn import NoteRNN, save_note_rnn


@pytest.fixture(scope="module")
def note_rnn_path(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("prior") / "model.pt"
    save_note_rnn(NoteRNN(), path)
    return path


def test_tutor_writes_the_report_directory_and_resumes(note_rnn_path, tmp_path, capsys):
    out = tmp_path / "report"
    args = ["tutor", "--out", str(out), "--note-rnn", str(note_rnn_path), "--methods", "q,g", "--steps", "2048",
            "--compositions", "64", "--samples", "3", "--device", "cpu"]
    assert run_cli(args) == 0
    printed = capsys.readouterr().out
    assert "report.md" in printed
    report = (out / "report.md").read_text()
    assert "| " in report and "Note RNN" in report and "Targets for the Q model" in report
    table = json.loads((out / "table.json").read_text())
    assert set(table["rows"]) == {"note_rnn", "q", "g"}
    for row in table["rows"].values():
        assert {"notes_not_in_key", "starts_with_tonic", "log_p_mean", "kl_mean", "entropy_mean"} <= set(row)
    assert table["rows"]["note_rnn"]["kl_mean"] == pytest.approx(0.0, abs=1e-5)
    for method in ("note_rnn", "q", "g"):
        assert sorted(p.name for p in (out / method).iterdir()) == [
            f"sample_{i:03d}.{ext}" for i in range(3) for ext in ("mid", "png")]
    assert (out / "curves.png").stat().st_size > 0
    assert (out / "runs" / "q" / "model.pt").is_file()
    # a second run with the same --out reuses the finished tuning runs
    status = json.loads((out / "runs" / "q" / "status.json").read_text())
    assert run_cli(args) == 0
    assert json.loads((out / "runs" / "q" / "status.json").read_text())["updated"] == status["updated"]


@pytest.mark.parametrize("extra, message", [
    (["--methods", "q,dqn"], "unknown method 'dqn'"),
    (["--preset", "nope"], "unknown tutor preset 'nope'"),
    (["--c", "0"], "c must be a positive"),
    (["--c", "-2"], "c must be a positive"),
    (["--note-rnn", "/nonexistent/model.pt"], "not found"),
])
def test_tutor_bad_input_is_one_line(extra, message, tmp_path, capsys):
    assert run_cli(["tutor", "--out", str(tmp_path / "o"), "--device", "cpu", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1 and "Traceback" not in err


def test_tutor_rejects_an_incompatible_note_rnn(tmp_path, capsys):
    save_note_rnn(NoteRNN(num_classes=12), tmp_path / "small.pt")
    assert run_cli(["tutor", "--out", str(tmp_path / "o"), "--note-rnn", str(tmp_path / "small.pt"),
                    "--device", "cpu"]) == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error raised without a GPU")
def test_tutor_cuda_without_gpu(tmp_path, capsys):
    assert run_cli(["tutor", "--out", str(tmp_path / "o"), "--device", "cuda"]) == 2
    assert "CUDA" in capsys.readouterr().err


def test_bench_melody_prints_throughput(capsys):
    assert run_cli(["bench", "melody", "--batch", "64", "--episodes", "1", "--tuner-steps", "1024",
                    "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "steps/s" in out and "gradient steps/s" in out


def test_tutor_presets_hold_the_paper_constants():
    from rllab.agents.tutor import TunerConfig
    from rllab.core.config import TUTOR_PRESETS, from_mapping
    from rllab.lab.tutor.pipeline import load_tutor_preset

    assert {"fast", "paper"} <= set(TUTOR_PRESETS.names())
    paper = from_mapping(TunerConfig, load_tutor_preset("paper").tuner, "tuner")
    assert (paper.gamma, paper.c, paper.batch_size, paper.target_update, paper.steps) == (0.5, 0.5, 32, 0.01, 1_000_000)
    for name in TUTOR_PRESETS.names():
        preset = load_tutor_preset(name)
        from_mapping(TunerConfig, preset.tuner, "tuner")
        assert preset.prior_config().hidden_size == 100


def test_sb3_trains_on_the_melody_env_through_rllab_train(note_rnn_path, tmp_path):
    out = tmp_path / "ppo"
    assert run_cli(["train", "rllab/Melody-v0", "--algo", "ppo", "--steps", "256", "--out", str(out),
                    "--no-progress", "--set", f"env_kwargs.note_rnn={note_rnn_path}", "--set", "n_envs=2",
                    "--set", "n_steps=64", "--set", "batch_size=64", "--set", "eval.freq=0",
                    "--set", "checkpoint.freq=0"]) == 0
    assert (out / "model.zip").is_file()
    assert run_cli(["evaluate", str(out), "-n", "2"]) == 0
    result = json.loads((out / "evaluation.json").read_text())
    assert "music_theory_score" in json.dumps(result) and "log_p_mean" in json.dumps(result)
