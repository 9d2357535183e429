"""``rllab tutor`` end to end on a tiny budget, its bad-input errors, and ``rllab bench melody``."""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
import yaml
from cli_helpers import run_main as run_cli

from rllab.agents.tutor import TunerConfig
from rllab.core.config import TUTOR_PRESETS, from_mapping
from rllab.envs.melody import default_note_rnn_path
from rllab.lab.tutor import TutorConfig, pipeline, run_tutor
from rllab.lab.tutor.pipeline import load_tutor_preset
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
            f"sample_{i:03d}.{ext}" for i in range(3) for ext in ("mid", "png", "wav")]   # wav: for report.html
    assert (out / "report.html").is_file()
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
    for episode in result["episodes_detail"]:         # a missing info keyword would be stored as NaN
        assert math.isfinite(episode["music_theory_score"]) and episode["log_p_mean"] < 0


def test_a_seed_fixes_the_tuned_models_and_the_table(note_rnn_path, tmp_path):
    """The same seed twice, once tuning the methods one after another and once in two processes: same bytes."""
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, workers in zip(outs, ("1", "2"), strict=True):
        assert run_cli(["tutor", "--out", str(out), "--note-rnn", str(note_rnn_path), "--methods", "q,psi",
                        "--steps", "1024", "--compositions", "64", "--samples", "1", "--device", "cpu",
                        "--seed", "3", "--workers", workers]) == 0
    assert "(2 processes)" in json.dumps(json.loads((outs[1] / "timings.json").read_text()))
    assert (outs[0] / "table.json").read_bytes() == (outs[1] / "table.json").read_bytes()
    for method in ("q", "psi"):
        a = torch.load(outs[0] / "runs" / method / "model.pt", weights_only=True)["state_dict"]
        b = torch.load(outs[1] / "runs" / method / "model.pt", weights_only=True)["state_dict"]
        assert all(torch.equal(a[k], b[k]) for k in a)
    other = tmp_path / "c"
    assert run_cli(["tutor", "--out", str(other), "--note-rnn", str(note_rnn_path), "--methods", "q,psi",
                    "--steps", "1024", "--compositions", "64", "--samples", "1", "--device", "cpu",
                    "--seed", "4"]) == 0
    assert (other / "table.json").read_bytes() != (outs[0] / "table.json").read_bytes()


def test_seeds_run_one_report_per_seed_and_a_summary(note_rnn_path, tmp_path):
    out = tmp_path / "seeds"
    assert run_cli(["tutor", "--out", str(out), "--note-rnn", str(note_rnn_path), "--methods", "q", "--steps",
                    "1024", "--compositions", "64", "--samples", "1", "--device", "cpu", "--seeds", "0,1"]) == 0
    summary = json.loads((out / "table.json").read_text())
    assert summary["seeds"] == [0, 1]
    rows = [json.loads((out / f"seed-{s}" / "table.json").read_text())["rows"]["q"] for s in (0, 1)]
    motif = summary["summary"]["q"]["notes_in_motif"]
    assert motif["mean"] == pytest.approx((rows[0]["notes_in_motif"] + rows[1]["notes_in_motif"]) / 2)
    assert motif["min"] == min(r["notes_in_motif"] for r in rows)
    report = (out / "report.md").read_text()
    assert "paper Q" in report and "worst seed" in report and "75.70%" in report   # the paper's motif figure
    worst = min((0, 1), key=lambda s: rows[s]["notes_in_motif"])
    assert f"(seed {worst})" in report


def test_first_use_trains_the_prior_once_then_reuses_it(tmp_path, monkeypatch):
    pattern = np.array([14, 1, 18, 1, 21, 1, 1, 0], dtype=np.uint8)
    melodies = [np.tile(pattern, 4 + i % 3) for i in range(12)]
    corpus = SimpleNamespace(train=melodies[:10], valid=melodies[10:], manifest={})
    monkeypatch.setattr(pipeline, "load_corpus", lambda *args, **kwargs: corpus)
    monkeypatch.setenv("RLLAB_CACHE", str(tmp_path / "cache"))
    preset = tmp_path / "tiny.yaml"
    preset.write_text(yaml.safe_dump({
        "note_rnn": {"preset": "fast", "hidden_size": 16, "steps": 30, "batch_size": 8, "seq_len": 16,
                     "eval_every": 30, "checkpoint_every": 30},
        "tuner": {"steps": 1024, "eval_every": 1024, "checkpoint_every": 1024},
        "eval": {"compositions": 32, "samples": 1}}))
    config = TutorConfig(out=tmp_path / "a", preset=str(preset), methods=("q",), device="cpu", seed=0)
    first = run_tutor(config)
    priors = list((tmp_path / "cache" / "tutor" / "priors").glob("*-s0"))
    assert len(priors) == 1 and (priors[0] / "model.pt").is_file()
    assert first.prior_metrics["steps"] == 30 and first.prior_metrics["valid_accuracy"] > 0
    stamp = (priors[0] / "model.pt").stat().st_mtime_ns
    second = run_tutor(dataclasses.replace(config, out=tmp_path / "b"))
    assert (priors[0] / "model.pt").stat().st_mtime_ns == stamp            # reused, not trained again
    assert second.rows == first.rows                                          # same seed, same prior: same table
    assert default_note_rnn_path() == priors[0] / "model.pt"                 # the env's default prior
