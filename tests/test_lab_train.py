"""End-to-end training through the CLI: run directory contents, evaluation, kill + resume, bad input."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import pytest
import yaml
from cli_helpers import run_main

from rllab.agents import sb3
from rllab.agents.sb3.algos import algo_class, build_model, model_kwargs
from rllab.core.errors import UserError
from rllab.core.runs import RunDir
from rllab.core.train_config import build_config

TINY = ["--set", "n_envs=2", "--set", "batch_size=64", "--set", "eval.freq=256", "--set", "eval.episodes=2",
        "--set", "checkpoint.freq=256", "--set", "stop_at_reward=null"]


def test_train_writes_a_complete_run_directory(cli, tmp_path: Path):
    out = tmp_path / "run"
    result = cli("train", "CartPole-v1", "--algo", "ppo", "--steps", "1024", "--seed", "3", "--out", str(out),
                 "--no-progress", *TINY)
    assert result.returncode == 0, result.stderr
    for name in ("config.yaml", "meta.json", "command.txt", "status.json", "progress.csv", "evaluations.csv",
                 "model.zip", "monitor/0.monitor.csv"):
        assert (out / name).is_file(), name
    run = RunDir.open(out)
    assert run.finished and run.status["steps"] >= 1024
    assert run.meta["seed"] == 3 and run.config["seed"] == 3 and "stable-baselines3" in run.meta["versions"]
    assert len(run.checkpoints(".zip")) == 3  # keep newest 3 of the 256-step checkpoints

    result = cli("evaluate", str(out), "--episodes", "3")
    assert result.returncode == 0, result.stderr
    evaluation = json.loads((out / "evaluation.json").read_text())
    assert evaluation["episodes"] == 3 and len(evaluation["episodes_detail"]) == 3
    assert (out / "evaluation.csv").read_text().splitlines()[0] == "episode,return,length"


def test_same_seed_same_result(tmp_path: Path):
    returns = []
    for name in ("a", "b"):
        config = build_config("CartPole-v1", "ppo", overrides={"steps": 512, "n_envs": 2, "batch_size": 64,
                                                              "eval.freq": 0, "seed": 5})
        run = RunDir.create(tmp_path / name, config.to_dict(), seed=5)
        sb3.train(config, run, progress=False)
        returns.append(sb3.evaluate_run(run, episodes=2)["return_mean"])
    assert returns[0] == returns[1]


def _evaluated_past(run: RunDir) -> bool:
    """Whether ``evaluations.csv`` has a row later than the newest checkpoint."""
    latest, curve = run.latest_checkpoint(".zip"), run.path / "evaluations.csv"
    if latest is None or not curve.exists():
        return False
    with curve.open() as handle:
        return any(int(float(r["timesteps"])) > latest.step for r in csv.DictReader(handle) if r.get("timesteps"))


def test_sigkill_then_resume_continues_from_the_checkpoint(tmp_path: Path):
    out = tmp_path / "killed"
    args = [sys.executable, "-m", "rllab.cli", "train", "CartPole-v1", "--algo", "dqn", "--steps", "200000",
            "--out", str(out), "--no-progress", "--set", "checkpoint.freq=1000", "--set", "eval.freq=250",
            "--set", "eval.episodes=1", "--set", "learning_starts=100", "--set", "stop_at_reward=null"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    try:
        while time.time() < deadline:
            run = RunDir(out)
            if (out / "config.yaml").exists() and len(run.checkpoints(".zip")) >= 2 and _evaluated_past(run):
                break   # killed with evaluation rows past its newest checkpoint, which the resume must drop
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        else:
            pytest.fail("no checkpoint within 120 s")
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    run = RunDir.open(out)
    assert run.status["state"] == "running"  # died without a chance to say otherwise
    last = run.latest_checkpoint(".zip").step
    assert (out / f"checkpoints/ckpt_{last:010d}.replay.pkl").exists()

    with (out / "evaluations.csv").open() as handle:
        evaluated_before = [int(float(r["timesteps"])) for r in csv.DictReader(handle)]
    assert max(evaluated_before) > last   # evaluations logged after the checkpoint, which the resume must drop

    # Finish quickly: the resumed run keeps its config, so shorten the budget in the stored config.
    config = run.config
    config["steps"] = last + 1000
    (out / "config.yaml").write_text(yaml.safe_dump(config))
    result = subprocess.run([sys.executable, "-m", "rllab.cli", "train", "--resume", str(out), "--no-progress"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    status = RunDir.open(out).status
    assert status["state"] == "finished" and status["resumed_from"] == last
    assert status["steps"] >= last + 1000
    _, model = sb3.load_run_model(RunDir.open(out))
    assert model.num_timesteps == status["steps"]
    with (out / "progress.csv").open() as handle:
        logged = [float(r["time/total_timesteps"]) for r in csv.DictReader(handle) if r["time/total_timesteps"]]
    assert logged == sorted(logged) and logged[-1] > last  # rows from before the kill kept, then continued
    with (out / "evaluations.csv").open() as handle:
        evaluated = [int(float(r["timesteps"])) for r in csv.DictReader(handle)]
    assert evaluated == sorted(set(evaluated))                    # no duplicate rows from the replayed stretch
    assert [s for s in evaluated if s <= last] == [s for s in evaluated_before if s <= last]
    # the replay buffer came back with the model: the final one holds the transitions from before the kill too
    # (SB3 calls the callback before storing a step's transition, so a checkpoint's buffer lacks that one step)
    final = RunDir.open(out).latest_checkpoint(".replay.pkl")
    model.load_replay_buffer(str(final.path))
    assert model.replay_buffer.size() == status["steps"] - 1


def test_corrupt_checkpoint_is_a_clear_error(tmp_path: Path):
    config = build_config("CartPole-v1", "ppo", overrides={"steps": 256, "n_envs": 1, "eval.freq": 0,
                                                          "checkpoint.freq": 128})
    run = RunDir.create(tmp_path / "r", config.to_dict(), seed=0)
    run.save_checkpoint(128, lambda p: p.write_bytes(b"PK garbage"), suffix=".zip")
    with pytest.raises(UserError, match="cannot load checkpoint"):
        sb3.resume(run, progress=False)


@pytest.mark.parametrize("args, message", [
    (["train", "NoSuchEnv-v0", "--algo", "ppo"], "cannot make env 'NoSuchEnv-v0'"),
    (["train", "CartPole-v1", "--algo", "sac2"], "unknown algo 'sac2'"),
    (["train", "CartPole-v1", "--algo", "ppo", "--preset", "nope"], "unknown preset 'nope'"),
    (["train", "CartPole-v1", "--algo", "ppo", "--set", "lerning_rate=0.1"], "did you mean 'learning_rate'"),
    (["train", "--resume", "/nonexistent/run"], "run directory not found"),
    (["evaluate", "/nonexistent/run"], "not found: it is neither a run directory"),
    (["train", "CartPole-v1", "--algo", "ppo", "--device", "tpu"], "unknown device"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(cli, tmp_path: Path, args, message):
    result = cli(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_existing_results_are_never_overwritten(cli, tmp_path: Path):
    out = tmp_path / "r"
    RunDir.create(out, {"env": "CartPole-v1", "algo": "ppo"}, seed=0)
    before = (out / "config.yaml").read_text()
    result = cli("train", "CartPole-v1", "--algo", "ppo", "--out", str(out))
    assert result.returncode == 2 and "already holds a run" in result.stderr
    assert (out / "config.yaml").read_text() == before


def test_ctrl_c_saves_a_checkpoint_first(tmp_path: Path):
    out = tmp_path / "interrupted"
    # A shell starts background jobs with SIGINT ignored and children inherit that (pytest run with `cmd &` would
    # pass it on): restore Python's Ctrl-C handler in the child, since Ctrl-C is what this test sends.
    launcher = ("import signal, sys; signal.signal(signal.SIGINT, signal.default_int_handler); "
                "from rllab.cli.app import main; main(sys.argv[1:])")
    args = [sys.executable, "-c", launcher, "train", "CartPole-v1", "--algo", "ppo", "--steps", "500000",
            "--out", str(out), "--no-progress", "--set", "checkpoint.freq=100000", "--set", "eval.freq=0",
            "--set", "stop_at_reward=null"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and not (out / "progress.csv").exists():
        time.sleep(0.2)
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    try:
        _, stderr = proc.communicate(timeout=180)   # generous: CI machines may be loaded; reads stderr as it comes
    except subprocess.TimeoutExpired:
        signals = [line for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines() if line.startswith("Sig")]
        proc.kill()
        pytest.fail(f"no exit within 180 s of SIGINT; the child's signal state: {signals}")
    assert proc.returncode == 130
    assert f"rllab train --resume {out}" in stderr.decode()   # says how to continue
    run = RunDir.open(out)
    assert run.status["state"] == "interrupted"
    latest = run.latest_checkpoint(".zip")
    assert latest is not None and latest.step == run.status["steps"] > 0


def test_stop_at_reward_ends_training_at_the_first_good_evaluation(tmp_path: Path):
    config = build_config("CartPole-v1", "ppo", overrides={"steps": 4096, "n_envs": 1, "n_steps": 128,
                                                          "batch_size": 64, "eval.freq": 256, "eval.episodes": 1,
                                                          "stop_at_reward": 1.0})
    run = RunDir.create(tmp_path / "r", config.to_dict(), seed=0)
    sb3.train(config, run, progress=False)
    with (tmp_path / "r" / "evaluations.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1 and float(rows[0]["return_mean"]) >= 1.0   # every CartPole episode returns >= 1
    assert run.finished and run.status["steps"] < 4096


def test_a_finished_run_trains_on_when_given_more_steps(tmp_path: Path):
    config = build_config("CartPole-v1", "ppo", overrides={"steps": 256, "n_envs": 1, "n_steps": 128,
                                                          "batch_size": 64, "eval.freq": 0, "checkpoint.freq": 128,
                                                          "stop_at_reward": None})
    run = RunDir.create(tmp_path / "r", config.to_dict(), seed=0)
    sb3.train(config, run, progress=False)
    with pytest.raises(UserError, match="pass --steps N to train it further"):
        sb3.resume(run, progress=False)
    with pytest.raises(UserError, match="pass a larger --steps"):
        sb3.resume(run, progress=False, steps=256)
    sb3.resume(run, progress=False, steps=512)
    assert run.finished and run.status["steps"] == 512 and run.config["steps"] == 512


@pytest.mark.parametrize("value, expected", [("lin_0.001", [0.001, 0.0005, 0.0]), ("lin_3e-4", [3e-4, 1.5e-4, 0.0])])
def test_linear_schedules_fall_from_the_start_value_to_zero(value, expected):
    config = build_config("CartPole-v1", "ppo", overrides={"learning_rate": value, "clip_range": value})
    kwargs = model_kwargs(config, algo_class("ppo"))
    for name in ("learning_rate", "clip_range"):
        schedule = kwargs[name]
        assert [schedule(p) for p in (1.0, 0.5, 0.0)] == pytest.approx(expected)
    model = build_model(config, gym.make("CartPole-v1"), "cpu")
    assert model.lr_schedule(1.0) == pytest.approx(expected[0]) and model.lr_schedule(0.5) == pytest.approx(expected[1])
    with pytest.raises(UserError, match="bad linear schedule 'lin_fast'"):
        model_kwargs(build_config("CartPole-v1", "ppo", overrides={"learning_rate": "lin_fast"}), algo_class("ppo"))


def test_a_run_that_crashes_says_failed_with_the_error(tmp_path: Path):
    out = tmp_path / "r"
    with pytest.raises(RuntimeError, match="crashed"):
        run_main(["train", "CartPole-v1", "--algo", "ppo", "--steps", "1024", "--out", str(out), "--no-progress",
                  "--set", "n_envs=1", "--set", "eval.freq=0",
                  "--set", "wrappers=[{cli_helpers:FailAfter: {steps: 300}}]"])
    status = RunDir.open(out).status
    assert status["state"] == "failed" and "crashed" in status["error"]


def test_update_threads_widens_only_the_gradient_update(monkeypatch: pytest.MonkeyPatch):
    import torch
    from stable_baselines3 import PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from rllab.agents.sb3.callbacks import UpdateThreads

    seen: dict[str, set[int]] = {"rollout": set(), "update": set()}

    class RolloutThreads(BaseCallback):
        def _on_step(self) -> bool:
            seen["rollout"].add(torch.get_num_threads())
            return True

    train = PPO.train

    def spy_train(self: PPO) -> None:
        seen["update"].add(torch.get_num_threads())
        train(self)

    monkeypatch.setattr(PPO, "train", spy_train)
    torch.set_num_threads(1)
    model = PPO("MlpPolicy", "CartPole-v1", n_steps=64, batch_size=32, n_epochs=1, device="cpu", seed=0)
    model.learn(192, callback=[UpdateThreads(threads=2), RolloutThreads()])
    assert seen == {"rollout": {1}, "update": {2}}
    assert torch.get_num_threads() == 1  # left as the lab's default for whatever runs next
    with pytest.raises(UserError, match="threads"):
        UpdateThreads(threads=0)
