from pathlib import Path

import pytest

from rllab.agents.go.dqn import MaskableDQN
from rllab.agents.go.selfplay import SelfPlaySnapshots
from rllab.agents.sb3.algos import algo_class
from rllab.agents.sb3.algos import model_kwargs as _model_kwargs
from rllab.agents.sb3.callbacks import build_callback
from rllab.core.config import TRAIN_PRESETS, parse_overrides, read_yaml
from rllab.core.errors import UserError
from rllab.core.imports import import_object
from rllab.core.runs import RunDir
from rllab.core.train_config import TrainConfig, apply_overrides, build_config
from rllab.envs.go.env import GoLiteEnv


def test_default_preset_is_used_for_env_and_algo():
    config = build_config("CartPole-v1", "ppo")
    assert config.preset == "cartpole-ppo"
    assert config.n_envs == 8 and config.hyperparams["n_steps"] == 32


def test_unknown_env_without_preset_gets_sb3_defaults():
    config = build_config("Acrobot-v1", "dqn")
    assert config.preset is None and config.hyperparams == {} and config.n_envs == 1


def test_overrides_route_to_fields_hyperparams_and_nested_mappings():
    overrides = parse_overrides(["steps=5000", "learning_rate=1e-4", "env_kwargs.size=7", "eval.episodes=3",
                                 "policy_kwargs.net_arch=[32, 32]"])
    data = apply_overrides({"env": "X-v0", "algo": "ppo"}, overrides)
    assert data["steps"] == 5000
    assert data["hyperparams"]["learning_rate"] == pytest.approx(1e-4)
    assert data["env_kwargs"] == {"size": 7}
    assert data["eval"] == {"episodes": 3}
    assert data["policy_kwargs"]["net_arch"] == [32, 32]


@pytest.mark.parametrize("item", ["novalue", "=3"])
def test_malformed_set_is_a_clear_error(item):
    with pytest.raises(UserError, match="key=value"):
        parse_overrides([item])


def test_mistyped_field_names_the_field_and_suggests():
    with pytest.raises(UserError, match=r"unknown field 'step'.*did you mean 'steps'"):
        TrainConfig.from_dict({"env": "CartPole-v1", "algo": "ppo", "step": 10})


def test_wrong_type_names_the_field():
    with pytest.raises(UserError, match="'n_envs' must be int"):
        build_config("CartPole-v1", "ppo", overrides={"n_envs": "eight"})
    with pytest.raises(UserError, match="eval: unknown field 'episode'"):
        build_config("CartPole-v1", "ppo", overrides={"eval.episode": 3})


def test_unknown_algo_and_preset_list_valid_choices():
    with pytest.raises(UserError, match="valid: a2c, dqn, maskable_dqn, maskable_ppo, ppo, worker_ppo"):
        build_config("CartPole-v1", "ppx")
    with pytest.raises(UserError, match="unknown preset 'nope'.*cartpole-ppo"):
        TRAIN_PRESETS.load("nope")


def test_preset_for_another_env_is_refused():
    with pytest.raises(UserError, match="is for env 'CartPole-v1'"):
        build_config("Acrobot-v1", "ppo", preset="cartpole-ppo")


def test_malformed_yaml_reports_position(tmp_path: Path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("env: CartPole-v1\nalgo: [ppo\n")
    with pytest.raises(UserError, match=r"malformed YAML \(line"):
        read_yaml(bad)


def test_yaml_is_parsed_safely(tmp_path: Path):
    evil = tmp_path / "evil.yaml"
    evil.write_text("env: !!python/object/apply:os.system ['echo hacked']\nalgo: ppo\n")
    with pytest.raises(UserError, match="malformed YAML"):
        TRAIN_PRESETS.load(str(evil))


def test_every_shipped_preset_is_valid():

    presets = TRAIN_PRESETS.all()
    assert "cartpole-ppo" in presets
    for name, data in presets.items():
        TrainConfig.from_dict({k: v for k, v in data.items()}, source=name)


def test_policy_kwargs_classes_and_activations_are_resolved():
    import torch.nn as nn
    from stable_baselines3 import PPO
    from stable_baselines3.common.torch_layers import FlattenExtractor


    config = build_config("CartPole-v1", "ppo", overrides={
        "policy_kwargs.activation_fn": "relu",
        "policy_kwargs.features_extractor_class": "stable_baselines3.common.torch_layers:FlattenExtractor"})
    kwargs = _model_kwargs(config, PPO)
    assert kwargs["policy_kwargs"]["activation_fn"] is nn.ReLU
    assert kwargs["policy_kwargs"]["features_extractor_class"] is FlattenExtractor
    bad = build_config("CartPole-v1", "ppo", overrides={"policy_kwargs.features_extractor_class": "nope.mod:X"})
    with pytest.raises(UserError, match="cannot import 'nope.mod'"):
        _model_kwargs(bad, PPO)


def test_run_directories_from_before_the_package_move_still_load(tmp_path):
    """Old configs name modules by their pre-``rllab.envs``/``rllab.agents`` paths; they resolve to the new ones."""
    old = {"env": "rllab/GoLite-v0", "algo": "agents.go_dqn:MaskableDQN",
           "env_kwargs": {"size": 5, "illegal": "pass"},
           "callbacks": [{"agents.go_selfplay:SelfPlaySnapshots": {"freq": 100, "keep": 2}}]}
    run = RunDir.create(tmp_path / "old", old, seed=0)
    config = TrainConfig.from_dict(run.config)
    assert algo_class(config.algo) is MaskableDQN
    assert isinstance(build_callback(config.callbacks[0]), SelfPlaySnapshots)
    assert import_object("envs.go.env:GoLiteEnv") is GoLiteEnv
