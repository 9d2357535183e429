"""AZ runs: the training loop in a run directory, resume, Ctrl-C, bad input, the az: player, export, CLI, Ray."""

from __future__ import annotations

import importlib.util
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from cli_helpers import run_main

from rllab.agents.go.az.config import AZConfig
from rllab.agents.go.az.export import export_net
from rllab.agents.go.az.net import load_net
from rllab.agents.go.az.train import AZTrainer, train_az
from rllab.core.errors import Interrupted, UserError
from rllab.core.runs import RunDir, load_torch
from rllab.core.shipped import shipped_model
from rllab.envs.go.gtp_engine import GtpEngine
from rllab.envs.go.player_specs import make_player
from rllab.lab.go_match import match_specs

TINY = {"size": 5, "blocks": 1, "width": 8, "games": 4, "round_moves": 6, "sims": 4, "considered": 4,
        "min_replay": 40, "batch_size": 16, "eval_every": 3, "eval_games": 2, "eval_sims": 2, "checkpoint_every": 2,
        "max_steps": 6, "replay_size": 400, "jit": False, "device": "cpu", "baseline": "random"}


def tiny_run(path: Path, **changes) -> RunDir:
    return train_az(path, overrides={**TINY, **changes}, progress=False)


def csv_column(path: Path, column: str) -> list[float]:
    import csv

    with path.open(newline="") as handle:
        return [float(row[column]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """One finished tiny 5x5 run shared by the tests that only read it."""
    return tiny_run(tmp_path_factory.mktemp("az") / "run").path


def test_a_run_trains_evaluates_and_leaves_its_artefacts(trained):
    status = RunDir.open(trained).status
    assert status["state"] == "finished" and status["steps"] == 6 and status["games"] > 0
    assert status["positions"] >= 40 and status["network_evaluations_per_s"] > 0 and status["commit"] is not None
    for name in ("config.yaml", "meta.json", "net.pt", "best.pt", "eval.csv", "progress.csv", "elo.png"):
        assert (trained / name).is_file(), name
    assert csv_column(trained / "eval.csv", "step") == [0, 3, 6]
    assert RunDir.open(trained).latest_checkpoint(".pt").step == 6
    net, meta = load_net(trained / "net.pt")
    assert meta["size"] == 5 and meta["info"]["steps"] == 6
    ckpt = load_torch(RunDir.open(trained).latest_checkpoint(".pt").path)
    assert all(torch.equal(net.state_dict()[k], v) for k, v in ckpt["net"].items())


def test_training_steps_learn_the_replay_targets(tmp_path):
    config = AZConfig.from_dict({**TINY, "batch_size": 32, "lr": 3e-3})
    trainer = AZTrainer(RunDir.create(tmp_path / "r", config.to_dict(), 0, command=["test"]), config, progress=False)
    from rllab.agents.go.az.selfplay import SelfPlay

    trainer.replay.add(SelfPlay(trainer.net, 4, 24.5, config.search_config(), 0, seed=0).play(50))
    losses = []
    for _ in range(100):
        trainer.train_step()
        losses.append(trainer.losses["policy"] + trainer.losses["value"] + trainer.losses["ownership"])
    assert losses[-1] < 0.8 * losses[5]


def test_ctrl_c_checkpoints_and_resume_continues_from_there(tmp_path, monkeypatch):
    path = tmp_path / "run"
    original = AZTrainer.train_step

    def interrupted_at_3(self):
        if self.steps == 3:
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(AZTrainer, "train_step", interrupted_at_3)
    with pytest.raises(Interrupted, match="--resume"):
        tiny_run(path)
    monkeypatch.setattr(AZTrainer, "train_step", original)
    run = RunDir.open(path)
    assert run.status["state"] == "interrupted" and run.latest_checkpoint(".pt").step == 3
    ckpt = load_torch(run.latest_checkpoint(".pt").path)
    trainer = AZTrainer(run, AZConfig.from_dict(run.config), progress=False)
    trainer.restore()
    assert trainer.steps == 3 and trainer.counters["games"] == ckpt["counters"]["games"] > 0
    assert all(torch.equal(trainer.net.state_dict()[k], v) for k, v in ckpt["net"].items())
    assert len(trainer.replay) == len(ckpt["replay"]["value"]) > 0
    train_az(path, resume=True, overrides={"max_steps": 7}, progress=False)
    status = RunDir.open(path).status
    assert status["state"] == "finished" and status["steps"] == 7 and status["games"] >= ckpt["counters"]["games"]
    assert csv_column(path / "eval.csv", "step") == [0, 3, 6, 7]     # nothing logged twice
    steps = csv_column(path / "progress.csv", "step")
    assert steps == sorted(steps) and RunDir.open(path).config["max_steps"] == 7


def snapshot(path: Path) -> dict[str, bytes]:
    return {str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def test_resume_with_another_config_is_refused_and_nothing_changes(trained, tmp_path):
    before = snapshot(trained)
    with pytest.raises(UserError, match=r"another config \(blocks 1 -> 2\)") as info:
        train_az(trained, resume=True, overrides={"blocks": 2}, progress=False)
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="another config"):
        train_az(trained, resume=True, size=7, progress=False)
    with pytest.raises(UserError, match="already holds a run"):
        train_az(trained, overrides=TINY, progress=False)
    assert snapshot(trained) == before
    with pytest.raises(UserError, match="not found"):
        train_az(tmp_path / "nothing", resume=True, progress=False)


@pytest.mark.parametrize(("changes", "message"), [
    ({"baseline": "gnugo:99"}, "level"),
    ({"blokcs": 2}, "did you mean 'blocks'"),
    ({"search": "alphabeta"}, "valid: gumbel, puct"),
    ({"eval_games": 3}, "even"),
    ({"backend": "ray", "ray_address": "127.0.0.1:1"}, "does not answer"),
])
def test_bad_config_fails_before_anything_is_written(tmp_path, changes, message):
    if "ray_address" in changes and importlib.util.find_spec("ray") is None:
        pytest.skip("the [ray] extra is not installed")
    started = time.perf_counter()
    with pytest.raises(UserError, match=message):
        tiny_run(tmp_path / "run", **changes)
    assert not (tmp_path / "run" / "config.yaml").exists() and time.perf_counter() - started < 20


def test_bad_nets_are_one_clear_error(trained, tmp_path):
    with pytest.raises(UserError, match="plays 5x5 boards, not 7x7"):
        match_specs(f"az:{trained}:sims=2", "random", 7, 2, tmp_path / "m")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "net.pt").write_bytes(b"\x00garbage")
    with pytest.raises(UserError, match="cannot load") as info:
        make_player(f"az:{broken}")
    assert "\n" not in str(info.value)
    with pytest.raises(UserError, match="no AZ net"):
        make_player(f"az:{tmp_path}")
    with pytest.raises(UserError, match="neither a run directory"):
        make_player("az:no-such-net")
    with pytest.raises(UserError, match="sims must be >= 1"):
        make_player(f"az:{trained}:sims=0")
    with pytest.raises(UserError, match="unknown option 'simz'"):
        make_player(f"az:{trained}:simz=3")


def test_a_corrupt_checkpoint_is_one_clear_error_and_is_kept(trained, tmp_path):
    path = tmp_path / "copy"
    shutil.copytree(trained, path)
    latest = RunDir.open(path).latest_checkpoint(".pt").path
    latest.write_bytes(b"cut short")
    with pytest.raises(UserError, match="cannot load checkpoint"):
        train_az(path, resume=True, overrides={"max_steps": 8}, progress=False)
    assert latest.read_bytes() == b"cut short"


def test_the_az_player_plays_matches_and_gtp(trained, tmp_path):
    result = match_specs(f"az:{trained}:sims=4", "random", None, 2, tmp_path / "m")
    assert result.games == 2 and len(list((tmp_path / "m").glob("*.sgf"))) == 2
    engine = GtpEngine(make_player(f"az:{trained}:sims=4:net=best"), size=5, fixed_size=True)
    assert engine.handle("play b C3").startswith("=")
    reply = engine.handle("genmove w")
    assert reply.startswith("=") and reply.split()[1].upper() != "C3"
    assert engine.handle("undo").startswith("=") and engine.handle("genmove w").startswith("=")


def test_the_az_player_is_an_env_opponent(trained):
    import gymnasium as gym

    env = gym.make("rllab/GoLite-v0", size=5, opponent=f"az:{trained}:sims=2", agent_color="white")
    obs, info = env.reset(seed=0)
    assert obs.any()   # the az opponent (Black) has already moved
    obs, reward, terminated, truncated, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    assert not truncated
    env.close()


def test_export_ships_a_net_that_az_finds_by_name(trained, tmp_path, monkeypatch):
    target = export_net(trained, root=tmp_path / "models")
    assert target.name == "az-5x5" and (target / "net.pt").stat().st_size < 1_000_000
    provenance = json.loads((target / "provenance.json").read_text())
    for key in ("command", "commit", "seed", "steps", "wall_s", "games", "config"):
        assert provenance[key] is not None, key
    assert provenance["steps"] == load_net(trained / "best.pt")[1]["info"]["steps"]
    monkeypatch.setattr("rllab.core.shipped.models_root", lambda: tmp_path / "models")
    player = make_player("az:az-5x5:sims=2")
    assert player.size == 5 and player.name == "az:az-5x5:sims=2"
    assert make_player("az:az-5x5:sims=2:search=puct").name == "az:az-5x5:sims=2:search=puct"  # tells them apart
    with pytest.raises(UserError, match="shipped AZ nets: az-5x5"):
        make_player("az:az-9x9")


def test_cli_trains_resumes_and_exports(tmp_path, capsys):
    sets = [arg for key, value in TINY.items() if key not in ("size", "max_steps")
            for arg in ("--set", f"{key}={value}")]
    out = tmp_path / "cli"
    assert run_main(["go", "az", "--size", "5", "--out", str(out), "--no-progress", "--set", "max_steps=3",
                     *sets]) == 0
    assert "self-play games" in capsys.readouterr().out
    assert run_main(["go", "az", "--out", str(out), "--resume", "--no-progress", "--set", "max_steps=4"]) == 0
    assert RunDir.open(out).status["steps"] == 4
    assert run_main(["go", "az", "--out", str(out), "--resume", "--no-progress", "--set", "width=9"]) == 2
    assert "another config (width 8 -> 9)" in capsys.readouterr().err.replace("\n", " ")
    assert run_main(["go", "az-export", str(out), "--net", "latest", "--root", str(tmp_path / "models")]) == 0
    assert (tmp_path / "models" / "az-5x5" / "provenance.json").is_file()


@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="the [ray] extra is not installed")
def test_ray_workers_run_the_same_self_play(tmp_path):
    run = tiny_run(tmp_path / "ray", backend="ray", workers=1)
    status = run.status
    assert status["state"] == "finished" and status["backend"] == "ray" and status["steps"] == 6
    assert status["games"] > 0 and (run.path / "net.pt").is_file()


def test_the_shipped_7x7_net_plays_by_its_short_name_and_beats_random(tmp_path):
    shipped = shipped_model("az-7x7")  # where the installed package keeps it
    provenance = json.loads((shipped / "provenance.json").read_text())
    assert provenance["board_size"] == 7 and provenance["last_evaluation"]["hours"]
    assert (shipped / "net.pt").stat().st_size < 1_000_000
    assert make_player("az:7x7:sims=8").size == 7  # the spelling of az:az-7x7
    result = match_specs("az:7x7:sims=8", "random", size=7, games=2, out=tmp_path / "m", seed=0)
    assert result.wins[0] == 2  # one game with each colour
    with pytest.raises(UserError, match="7x7"):
        match_specs("az:7x7:sims=8", "random", size=9, games=1, out=tmp_path / "m9", seed=0)
