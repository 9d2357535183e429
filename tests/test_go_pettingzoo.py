"""The two-player Go-lite game as a PettingZoo AECEnv (the [pettingzoo] extra)."""

from __future__ import annotations

import numpy as np
import pytest

from rllab.core.errors import UserError

pytest.importorskip("pettingzoo")

from pettingzoo.test import api_test

from rllab.envs.go.pettingzoo_env import GoAECEnv


@pytest.mark.parametrize("size", [5, 7])
def test_passes_pettingzoo_api_test(size):
    api_test(GoAECEnv(size=size, render_mode="ansi"), num_cycles=200)


def test_masks_observations_and_rewards_over_a_whole_game():
    env = GoAECEnv(size=5, history=2)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    assert env.agent_selection == "black_0"
    obs = env.observe("black_0")
    assert obs["observation"].shape == (5, 5, 5) and obs["observation"][-1].all()  # Black's colour plane
    assert obs["action_mask"].dtype == np.int8 and obs["action_mask"].sum() == 26
    assert env.observe("white_0")["action_mask"].sum() == 0  # not White's turn
    env.step(12)  # C3
    white = env.observe("white_0")
    assert white["observation"][2, 2, 2] == 1 and white["observation"][0].sum() == 0  # opponent plane, own empty
    assert white["action_mask"][12] == 0
    for _agent in env.agent_iter():
        obs, reward, terminated, truncated, info = env.last()
        if terminated or truncated:
            env.step(None)
            continue
        legal = np.flatnonzero(obs["action_mask"])
        env.step(int(legal[rng.integers(len(legal))]))
    assert env.agents == [] and env.game.over  # both agents left after the final step


def test_final_rewards_are_plus_minus_one():
    env = GoAECEnv(size=5)
    env.reset()
    env.step(25)  # Black passes
    env.step(25)  # White passes: the empty board scores komi for White
    assert env.terminations == {"black_0": True, "white_0": True}
    assert env.rewards == {"black_0": -1.0, "white_0": 1.0}
    _, reward, terminated, _, info = env.last()
    assert terminated and info["outcome"] == -1


def test_illegal_action_is_a_clear_error_and_sizes_are_per_instance():
    small, large = GoAECEnv(size=5), GoAECEnv(size=9)
    small.reset()
    large.reset()
    small.step(0)
    with pytest.raises(UserError, match="illegal action 0 for white_0"):
        small.step(0)
    large.step(80)  # a 9x9 point works next to a live 5x5 env
    assert large.observe("white_0")["action_mask"].shape == (82,)
    with pytest.raises(UserError, match="board size"):
        GoAECEnv(size=1)
    with pytest.raises(UserError, match="render_mode"):
        GoAECEnv(render_mode="human")
