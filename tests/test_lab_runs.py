from pathlib import Path

import pytest
import torch

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.core.runs import RunDir, default_run_path, load_torch, save_torch


def test_create_records_config_seed_versions_and_refuses_overwrite(tmp_path: Path):
    run = RunDir.create(tmp_path / "r", {"env": "CartPole-v1", "algo": "ppo"}, seed=7, command=["rllab", "x"])
    assert run.config == {"env": "CartPole-v1", "algo": "ppo"}
    meta = run.meta
    assert meta["seed"] == 7 and meta["command"] == "rllab x"
    assert "torch" in meta["versions"] and "python" in meta["versions"]
    with pytest.raises(UserError, match="already holds a run"):
        RunDir.create(tmp_path / "r", {"env": "other"}, seed=0)
    assert run.config["env"] == "CartPole-v1"


def test_open_missing_or_foreign_directory_is_a_clear_error(tmp_path: Path):
    with pytest.raises(UserError, match="not found"):
        RunDir.open(tmp_path / "nope")
    with pytest.raises(UserError, match="not a run directory"):
        RunDir.open(tmp_path)


def test_checkpoints_keep_newest_and_ignore_partial_writes(tmp_path: Path):
    run = RunDir.create(tmp_path / "r", {}, seed=0)
    for step in (100, 200, 300, 400):
        run.save_checkpoint(step, lambda p, s=step: p.write_text(str(s)), suffix=".txt", keep=2)
    (run.checkpoint_dir / ".ckpt_0000000500.txt.abc.tmp.txt").write_text("half")  # a write killed midway
    assert [c.step for c in run.checkpoints(".txt")] == [300, 400]
    assert run.latest_checkpoint(".txt").path.read_text() == "400"


def test_failed_atomic_write_leaves_the_old_file(tmp_path: Path):
    target = tmp_path / "f.json"
    atomic.write_json(target, {"a": 1})

    def broken(path: Path) -> None:
        path.write_text("{partial")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        atomic.write_with(target, broken)
    assert target.read_text().strip().startswith("{") and '"a": 1' in target.read_text()
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]


def test_torch_checkpoints_load_safely_and_corrupt_ones_fail_clearly(tmp_path: Path):
    path = tmp_path / "w.pt"
    save_torch({"w": torch.arange(3), "step": 5}, path)
    loaded = load_torch(path)
    assert loaded["step"] == 5 and torch.equal(loaded["w"], torch.arange(3))
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UserError, match="cannot load checkpoint"):
        load_torch(path)


def test_default_run_paths_are_unique(tmp_path: Path):
    first = default_run_path(tmp_path, "rllab/GoLite-v0", "ppo", seed=3)
    first.mkdir(parents=True)
    second = default_run_path(tmp_path, "rllab/GoLite-v0", "ppo", seed=3)
    assert first != second and first.parent == second.parent
    assert first.parent.parent.name == "rllab-GoLite-v0" and first.name.endswith("-s3")


def test_atomic_files_get_normal_permissions(tmp_path: Path):
    import os

    target = tmp_path / "artefact.txt"
    atomic.write_text(target, "x")
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_status_keeps_fields_but_drops_a_stale_error_on_resume(tmp_path: Path):
    run = RunDir.create(tmp_path / "r", {"env": "CartPole-v1"}, seed=0)
    run.set_status("failed", steps=0, error="no model yet")
    run.set_status("running", steps=500)
    assert run.status["state"] == "running" and run.status["steps"] == 500
    assert "error" not in run.status
    run.set_status("failed", error="killed")
    assert run.status["error"] == "killed" and run.status["steps"] == 500


def test_resuming_adds_its_command_line_to_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    RunDir.create(tmp_path / "r", {"games_per_pair": 6}, seed=0, command=["rllab", "go", "ladder", "--games", "6"])
    RunDir.open(tmp_path / "r").record_command(["rllab", "train", "--resume", "r"])
    monkeypatch.setattr("sys.argv", ["rllab", "go", "ladder", "--games", "20"])
    run = RunDir.open_or_create(tmp_path / "r", {"games_per_pair": 20}, seed=0, ignore=("games_per_pair",))
    assert (run.path / "command.txt").read_text().splitlines() == [
        "rllab go ladder --games 6", "rllab train --resume r", "rllab go ladder --games 20"]
    assert run.meta["command"] == "rllab go ladder --games 6"  # meta keeps the command that created the run
