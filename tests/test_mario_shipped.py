"""The shipped World 1-1 agent: package data with provenance, evaluated by name wherever a run directory is taken."""

from __future__ import annotations

import json

import pytest

from rllab.cli.app import main
from rllab.core.config import read_yaml
from rllab.core.errors import UserError
from rllab.core.shipped import PROVENANCE_FILE, shipped_model, shipped_names
from rllab.core.train_config import TrainConfig
from rllab.envs.mario.env import mario_available
from rllab.lab import api

NAME = "mario-1-1"
needs_mario = pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`")


def test_shipped_agent_is_small_and_says_how_it_was_made() -> None:
    assert NAME in shipped_names()
    folder = shipped_model(NAME)
    provenance = json.loads((folder / PROVENANCE_FILE).read_text())
    assert {"command", "commit", "seed", "steps", "wall_time_s"} <= set(provenance)
    assert "--preset mario-ram-ppo" in provenance["command"] and provenance["steps"] > 0
    assert (folder / "model.zip").stat().st_size < 4_000_000
    config = TrainConfig.from_dict(read_yaml(folder / "config.yaml"))
    assert config.env == "rllab/SuperMario-v0" and config.env_kwargs["obs"] == "ram"


def test_unknown_shipped_name_lists_the_shipped_ones(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(UserError, match=f"neither a run directory nor a shipped model; shipped models: .*{NAME}"):
        api.evaluate("mario-9-9", 1)
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", "mario-1-l"])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and NAME in err and err.strip().count("\n") == 0


@needs_mario
@pytest.mark.mario
def test_evaluate_by_name_prints_and_writes_flag_rate_and_max_x(tmp_path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)  # without --out, results go to ./evaluations/<name>: package data is read-only
    with pytest.raises(SystemExit) as exit_info:
        main(["evaluate", NAME, "-n", "1", "--stochastic"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "flag_rate" in out and "x_pos_max_mean" in out
    summary = json.loads((tmp_path / "evaluations" / NAME / "evaluation.json").read_text())
    assert summary["flag_rate"] in (0.0, 1.0) and summary["x_pos_max_mean"] > 300
    assert summary["episodes_detail"][0]["start_x"] == 40  # evaluation always starts at the level start
    assert not (shipped_model(NAME) / "evaluation.json").exists()
