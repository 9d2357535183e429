"""Learning glue for Go: self-play snapshots, masked DQN, trained policies as players (match, GTP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from cli_helpers import run_main
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from rllab.agents.go.curriculum import WarmStart
from rllab.agents.go.dqn import MaskableDQN
from rllab.agents.go.models import load_model
from rllab.agents.go.selfplay import SelfPlaySnapshots
from rllab.agents.sb3 import uses_masks
from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame
from rllab.envs.go.env import GoLiteEnv
from rllab.envs.go.gtp_engine import GtpEngine
from rllab.envs.go.player_specs import make_player
from rllab.envs.go.players import PolicyPlayer, RandomPlayer
from rllab.lab.go_match import run_match


def small_ppo(env) -> MaskablePPO:
    return MaskablePPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=1, seed=0,
                       policy_kwargs={"net_arch": [32]}, device="cpu")


def test_self_play_snapshots_reach_the_opponent_pool():
    vec = DummyVecEnv([lambda: GoLiteEnv(size=5, opponent="self", history=1) for _ in range(2)])
    model = small_ppo(vec)
    callback = SelfPlaySnapshots(freq=64, keep=2)
    model.learn(total_timesteps=384, callback=callback)
    assert callback.snapshots >= 3
    pools = vec.get_attr("opponent")
    assert all(len(pool.snapshots) == 2 for pool in pools)            # only the newest `keep`
    assert pools[0].snapshots[0] is not model.policy                  # frozen copies, not the learner
    env = vec.envs[0]
    env.reset(seed=1)                                                 # White: a snapshot plays Black's move
    assert env.game.moves == 1 and pools[0].current is not None


def test_masked_dqn_only_picks_legal_moves():
    env = GoLiteEnv(size=5, opponent="random", illegal="pass", history=1)
    model = MaskableDQN("MlpPolicy", env, learning_starts=50, buffer_size=500, train_freq=4, seed=0,
                        policy_kwargs={"net_arch": [32]}, device="cpu")
    model.learn(total_timesteps=300)
    obs, _ = env.reset(seed=0)
    for _ in range(10):
        mask = env.action_masks()
        action, _ = model.predict(obs, deterministic=True, action_masks=mask)
        assert mask[int(action)]
        obs, _, done, _, _ = env.step(int(action))
        if done:
            obs, _ = env.reset()


def test_bare_masked_dqn_zip_loads_as_a_masked_dqn(tmp_path):
    env = GoLiteEnv(size=5, opponent="random", illegal="pass", history=1)
    model = MaskableDQN("MlpPolicy", env, learning_starts=10, buffer_size=100, seed=0,
                        policy_kwargs={"net_arch": [16]}, device="cpu")
    model.save(tmp_path / "dqn.zip")
    loaded = load_model(tmp_path / "dqn.zip")
    assert isinstance(loaded, MaskableDQN) and uses_masks(type(loaded))
    player = make_player(str(tmp_path / "dqn.zip"), deterministic=True)
    game = GoGame(5)
    for move in (0, 1, 2, 3, 4, 5, 6):  # fill part of the board: the masked argmax must still pick a legal point
        game.play(move)
    for _ in range(20):
        action = player.select(game, None, game.legal_mask())
        assert game.legal_mask()[action]


def test_saved_policy_plays_matches_and_gtp(tmp_path):
    env = GoLiteEnv(size=5, opponent="random", history=2)
    model = small_ppo(env)
    path = tmp_path / "policy.zip"
    model.save(path)
    player = make_player(str(path), deterministic=True)
    assert isinstance(player, PolicyPlayer) and player.history == 2
    result = run_match(player, RandomPlayer(), size=5, games=2, out_dir=tmp_path / "m", seed=0)
    assert result.games == 2
    engine = GtpEngine(player, size=5, fixed_size=True)
    assert engine.handle("boardsize 7").startswith("? unacceptable size")
    assert engine.handle("genmove b").startswith("= ")
    with pytest.raises(UserError, match="5x5"):
        run_match(player, RandomPlayer(), size=7, games=1, out_dir=tmp_path / "m7")


def test_policy_opponent_inside_env(tmp_path):
    model = small_ppo(GoLiteEnv(size=5, history=1))
    path = tmp_path / "p.zip"
    model.save(path)
    env = GoLiteEnv(size=5, opponent=f"policy:{path}", agent_color="white", history=1)
    _obs, info = env.reset(seed=1)
    assert env.game.moves == 1 and np.flatnonzero(info["action_mask"]).size == 25


def test_unloadable_model_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot load"):
        make_player(str(bad))
    with pytest.raises(UserError, match="no model"):
        make_player(f"policy:{tmp_path / 'missing'}")


def test_warm_start_copies_the_earlier_policy(tmp_path):

    source = small_ppo(GoLiteEnv(size=5, history=1))
    path = tmp_path / "stage1.zip"
    source.save(path)
    learner = MaskablePPO("MlpPolicy", GoLiteEnv(size=5, history=1), n_steps=64, batch_size=64, n_epochs=1, seed=1,
                          learning_rate=0.0, policy_kwargs={"net_arch": [32]}, device="cpu")
    callback = WarmStart(str(path))
    learner.learn(total_timesteps=64, callback=callback)
    assert callback.loaded
    for key, value in source.policy.state_dict().items():
        torch.testing.assert_close(learner.policy.state_dict()[key], value)


def test_warm_start_refuses_another_architecture_or_a_missing_run(tmp_path):

    path = tmp_path / "stage1.zip"
    small_ppo(GoLiteEnv(size=5, history=1)).save(path)
    wider = MaskablePPO("MlpPolicy", GoLiteEnv(size=5, history=1), n_steps=64, batch_size=64, n_epochs=1,
                        policy_kwargs={"net_arch": [48]}, device="cpu")
    with pytest.raises(UserError, match="different policy architecture"):
        wider.learn(total_timesteps=64, callback=WarmStart(str(path)))
    with pytest.raises(UserError, match="train it first"):
        wider.learn(total_timesteps=64, callback=WarmStart(str(tmp_path / "missing")))


def test_a_warm_start_from_a_missing_run_fails_before_a_run_directory_exists(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert run_main(["train", "--preset", "golite7-maskable_ppo-heuristic-nodraw", "--out", "run"]) == 2
    assert not (tmp_path / "run").exists()
