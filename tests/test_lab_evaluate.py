"""`rllab evaluate` on any checkpoint (run directory, its zips, a bare .zip) with env overrides and --device."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_main

from rllab.agents import sb3
from rllab.core.runs import RunDir
from rllab.core.train_config import build_config


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """A finished 256-step CartPole PPO run with two checkpoints."""
    path = tmp_path_factory.mktemp("eval") / "run"
    config = build_config("CartPole-v1", "ppo", overrides={"steps": 256, "n_envs": 1, "n_steps": 128,
                                                          "batch_size": 64, "eval.freq": 0, "checkpoint.freq": 128})
    sb3.train(config, RunDir.create(path, config.to_dict(), seed=0), progress=False)
    return path


def evaluation(folder: Path) -> dict:
    return json.loads((folder / "evaluation.json").read_text())


def test_a_checkpoint_zip_is_evaluated_on_its_runs_env_next_to_the_run(run, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    checkpoint = sorted((run / "checkpoints").glob("ckpt_*.zip"))[-1]
    assert run_main(["evaluate", str(checkpoint), "-n", "2", "--device", "cpu"]) == 0
    result = evaluation(run / "evaluations" / checkpoint.stem)
    assert result["model"] == str(checkpoint) and result["env"] == "CartPole-v1" and result["episodes"] == 2
    assert result["device"] == "cpu"
    assert run_main(["evaluate", str(run / "model.zip"), "-n", "1"]) == 0   # the final model: like the run
    assert evaluation(run)["model"] == str(run / "model.zip")


def test_a_bare_zip_needs_env_and_algo_or_a_preset(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    bare = tmp_path / "downloaded.zip"
    shutil.copy(run / "model.zip", bare)
    assert run_main(["evaluate", str(bare)]) == 2
    assert "--env ENV --algo ALGO or --preset" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == [bare]                                   # nothing written
    assert run_main(["evaluate", str(bare), "--env", "CartPole-v1", "--algo", "ppo", "-n", "1"]) == 0
    assert evaluation(tmp_path / "evaluations" / "downloaded")["algo"] == "ppo"
    assert run_main(["evaluate", str(bare), "--preset", "cartpole-ppo", "-n", "1", "--out", "p"]) == 0
    assert evaluation(tmp_path / "p")["env"] == "CartPole-v1"


def test_set_overrides_the_env_side_and_refuses_the_rest(run, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_main(["evaluate", str(run), "-n", "1", "--set", "env_kwargs.max_episode_steps=5"]) == 0
    result = evaluation(run / "evaluations" / "env_kwargs.max_episode_steps=5")   # the run's own result stays
    assert result["env_kwargs"] == {"max_episode_steps": 5} and result["length_mean"] <= 5
    assert run_main(["evaluate", str(run), "--set", "env_kwarg.max_episode_steps=5"]) == 2
    assert "did you mean 'env_kwargs'" in capsys.readouterr().err
    assert run_main(["evaluate", str(run), "--set", "learning_rate=0.1"]) == 2   # the weights fix it
    assert "only env_kwargs, wrappers, eval can change" in capsys.readouterr().err
    assert run_main(["evaluate", str(run), "--env", "CartPole-v1", "--algo", "ppo"]) == 2
    assert "its config.yaml says" in capsys.readouterr().err


def test_a_path_that_is_no_model_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    assert run_main(["evaluate", "notes.txt"]) == 2
    assert "neither a run directory nor an SB3 .zip" in capsys.readouterr().err
