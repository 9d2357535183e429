"""Every shipped preset and experiment spec builds a valid run (algo, hyperparameters, env); the masked-algorithm
path of the lab (train + evaluate with masks, wrappers and callbacks from a preset); evaluation options."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from cli_helpers import run_main

from rllab.agents import sb3
from rllab.core.config import EXPERIMENT_SPECS, TRAIN_PRESETS
from rllab.core.errors import UserError
from rllab.core.runs import RunDir
from rllab.core.train_config import build_config
from rllab.envs.mario.env import mario_available
from rllab.lab.experiment import load_spec
from rllab.music.note_rnn import NoteRNN, save_note_rnn


@pytest.fixture(scope="module")
def prior(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("prior") / "model.pt"
    save_note_rnn(NoteRNN(hidden_size=16), path)
    return path


@pytest.mark.parametrize("name", TRAIN_PRESETS.names())
def test_every_training_preset_builds_a_valid_run(name, prior, tmp_path, monkeypatch):
    data = TRAIN_PRESETS.all()[name]
    monkeypatch.chdir(tmp_path)   # a warm start's run must exist (checked before training): stand one in
    for item in data.get("callbacks", []):
        for kwargs in item.values():
            if "init_from" in kwargs:
                Path(kwargs["init_from"]).mkdir(parents=True)
    if data["env"] == "rllab/SuperMario-v0" and not mario_available():
        pytest.skip("needs the [mario] extra")
    overrides = {"env_kwargs.note_rnn": str(prior)} if data["env"] == "rllab/Melody-v0" else {}
    config = build_config(None, None, name, overrides)
    assert config.preset == name and config.env == data["env"] and config.algo == data["algo"]
    sb3.validate(config)   # the algorithm accepts every hyperparameter; the env builds with the kwargs


@pytest.mark.parametrize("name", EXPERIMENT_SPECS.names())
def test_every_experiment_spec_loads_and_validates_its_variants(name, prior):
    data = EXPERIMENT_SPECS.all()[name]
    if "mario" in name and not mario_available():
        pytest.skip("needs the [mario] extra")
    overrides = {"env_kwargs.note_rnn": str(prior)} if "melody" in name else None
    spec = load_spec(name, overrides)
    assert spec.name == data.get("name", name) and set(spec.variants) == set(data["variants"])
    assert len(spec.run_configs()) == len(spec.variants) * len(spec.seeds)


def test_maskable_ppo_trains_and_evaluates_through_the_lab(tmp_path):
    out = tmp_path / "go"
    args = ["train", "--preset", "golite5-maskable_ppo-selfplay", "--steps", "512", "--out", str(out),
            "--no-progress", "--set", "n_envs=2", "--set", "n_steps=64", "--set", "batch_size=64",
            "--set", "eval.freq=256", "--set", "eval.episodes=2", "--set", "checkpoint.freq=256",
            "--set", "callbacks=[{rllab.agents.go.selfplay:SelfPlaySnapshots: {freq: 128, keep: 2}}]",
            "--set", "wrappers=[{gymnasium.wrappers:TimeLimit: {max_episode_steps: 40}}]"]
    assert run_main(args) == 0
    run = RunDir.open(out)
    assert run.finished and run.config["algo"] == "maskable_ppo"
    # the env plays with `illegal: raise`: any unmasked action would end the run with an error
    for flags in ([], ["--stochastic"]):
        assert run_main(["evaluate", str(out), "-n", "4", *flags]) == 0
        result = json.loads((out / "evaluation.json").read_text())
        assert result["deterministic"] == (not flags)
        assert {r["win"] for r in result["episodes_detail"]} <= {0.0, 1.0}
        assert all(r["length"] <= 40 for r in result["episodes_detail"])   # the preset's wrapper is applied


def test_video_of_an_evaluation_and_a_clear_error_when_the_env_cannot_render(tmp_path):
    out = tmp_path / "go"
    assert run_main(["train", "rllab/GoLite-v0", "--algo", "maskable_ppo", "--steps", "128", "--out", str(out),
                     "--no-progress", "--set", "env_kwargs.size=5", "--set", "n_steps=64", "--set", "batch_size=64",
                     "--set", "eval.freq=0"]) == 0
    gif = tmp_path / "game.gif"
    assert run_main(["evaluate", str(out), "-n", "1", "--video", str(gif)]) == 0
    assert gif.read_bytes()[:6] == b"GIF89a"
    cartpole = tmp_path / "cp"
    assert run_main(["train", "CartPole-v1", "--algo", "ppo", "--steps", "64", "--out", str(cartpole),
                     "--no-progress", "--set", "n_envs=1", "--set", "n_steps=64", "--set", "eval.freq=0"]) == 0
    if importlib.util.find_spec("pygame") is None:
        with pytest.raises(UserError, match="--video needs CartPole-v1 to render"):
            sb3.evaluate_run(RunDir.open(cartpole), 1, video=tmp_path / "cp.gif")
        assert not (cartpole / "evaluation.json").exists() and not (tmp_path / "cp.gif").exists()
