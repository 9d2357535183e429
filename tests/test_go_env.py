"""rllab/GoLite-v0: API checks, masks, colours, illegal-move modes, shaping, rendering, SGF, bad input."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import rllab.envs  # noqa: F401  (registers rllab/GoLite-v0)
from rllab.core.errors import UserError
from rllab.envs.go import board_image
from rllab.envs.go.engine import BLACK, WHITE, GoGame
from rllab.envs.go.env import SHAPINGS, GoLiteEnv
from rllab.envs.go.planes import observation_from_game
from rllab.envs.go.player import Player
from rllab.envs.go.players import HeuristicPlayer
from rllab.envs.go.sgf import load_game


def play_out(env: GoLiteEnv, rng: np.random.Generator, seed: int):
    _, info = env.reset(seed=seed)
    total, done, steps = 0.0, False, 0
    while not done:
        legal = np.flatnonzero(info["action_mask"])
        _, reward, done, _, info = env.step(int(rng.choice(legal)))
        total += reward
        steps += 1
    return total, info, steps


@pytest.mark.parametrize("kwargs", [{"size": 5}, {"size": 5, "opponent": None, "render_mode": "rgb_array"},
                                    {"size": 7, "opponent": "heuristic", "shaping": "territory",
                                     "render_mode": "ansi"}])
def test_gymnasium_and_sb3_env_checkers(kwargs):
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("rllab/GoLite-v0", **kwargs).unwrapped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check_env(env, skip_render_check=False)
        sb3_check_env(env)


def test_observation_layout_and_mask():
    env = GoLiteEnv(size=5, opponent=None, history=3)
    obs, info = env.reset(seed=0)
    assert obs.shape == (7, 5, 5) and obs.dtype == np.uint8
    assert obs[6].all() and not obs[:6].any()           # Black to move, empty board
    mask = env.action_masks()
    assert mask.dtype == bool and mask.shape == (26,) and mask.all()
    np.testing.assert_array_equal(mask, info["action_mask"])
    obs, reward, done, _, info = env.step(12)            # Black C3
    assert not obs[6].any()                               # White to move
    assert obs[3, 2, 2] == 1 and obs[0].sum() == 0        # opponent plane (Black) at t holds the stone
    assert not info["action_mask"][12] and reward == 0 and not done
    obs, *_ = env.step(0)                                 # White A1
    assert obs[0, 2, 2] == 1 and obs[1, 2, 2] == 1        # own stone now and at t-1
    assert obs[3, 0, 0] == 1 and obs[4, 0, 0] == 0        # White A1 is new at t
    np.testing.assert_array_equal(obs, observation_from_game(env.game, 3))


def test_seeded_reset_fixes_colour_and_white_agent_moves_second():
    env = GoLiteEnv(size=5, opponent="random", agent_color="alternate")
    _, info = env.reset(seed=4)
    assert info["agent_color"] == BLACK and env.game.moves == 0
    _, info = env.reset(seed=5)
    assert info["agent_color"] == WHITE and env.game.moves == 1
    _, info = env.reset()
    assert info["agent_color"] == BLACK
    env_w = GoLiteEnv(size=5, agent_color="white")
    obs, _ = env_w.reset(seed=0)
    assert not obs[-1].any()                               # colour plane: White to move


def test_episode_reports_unshaped_metrics():
    env = GoLiteEnv(size=5, opponent="random")
    rng = np.random.default_rng(0)
    for seed in range(6):
        total, info, _ = play_out(env, rng, seed)
        assert info["outcome"] in (-1.0, 0.0, 1.0)
        assert info["win"] == float(info["outcome"] > 0)
        assert total == info["outcome"]                    # no shaping: reward = outcome at the end
        assert info["moves"] >= 1 and not info["action_mask"].any()


def test_score_margin_shaping_telescopes_to_the_final_margin():
    env = GoLiteEnv(size=5, opponent="random", agent_color="black", shaping="score_margin", shaping_scale=1.0)
    total, info, _ = play_out(env, np.random.default_rng(1), seed=0)
    start = -env.komi / 25
    assert total == pytest.approx(info["outcome"] + info["margin"] / 25 - start)


def test_illegal_move_modes():
    env = GoLiteEnv(size=5, opponent=None, illegal="raise")
    env.reset(seed=0)
    env.step(0)
    with pytest.raises(UserError, match="illegal move A1"):
        env.step(0)
    env = GoLiteEnv(size=5, opponent="random", illegal="lose", agent_color="black")
    env.reset(seed=0)
    env.step(0)
    occupied = 0
    _, reward, done, _, info = env.step(occupied)
    assert done and reward == -1.0 and info["win"] == 0.0 and info["forfeit"]
    env = GoLiteEnv(size=5, opponent=None, illegal="pass")
    env.reset(seed=0)
    env.step(0)
    env.step(1)
    env.step(0)                                            # occupied -> played as a pass
    assert env.game.history[-1] == 25


@pytest.mark.parametrize("action", [26, -1, 2.5, "3", None, np.array([1, 2]), np.float32(1.0)])
def test_bad_actions_are_clear_errors(action):
    env = GoLiteEnv(size=5)
    env.reset(seed=0)
    with pytest.raises(UserError, match="action"):
        env.step(action)


def test_numpy_integer_actions_accepted():
    env = GoLiteEnv(size=5, opponent=None)
    env.reset(seed=0)
    env.step(np.int64(3))
    env.step(np.array(4))
    assert env.game.history == [3, 4]


def test_step_after_end_and_before_reset():
    env = GoLiteEnv(size=5, opponent=None)
    with pytest.raises(UserError, match="reset"):
        env.step(0)
    env.reset(seed=0)
    env.step(25)
    _, _, done, _, _ = env.step(25)
    assert done
    with pytest.raises(UserError, match="reset"):
        env.step(25)


@pytest.mark.parametrize("kwargs, match", [({"opponent": "grandmaster"}, "unknown player .grandmaster."),
                                           ({"illegal": "ignore"}, "illegal"),
                                           ({"agent_color": "red"}, "agent_color"),
                                           ({"shaping": "vibes"}, "shaping"),
                                           ({"history": 0}, "history"),
                                           ({"draw_reward": "-1"}, "draw_reward"),
                                           ({"draw_reward": -2.0}, "draw_reward"),
                                           ({"size": 25}, "board size"),
                                           ({"render_mode": "human"}, "render_mode"),
                                           ({"opponent": "gtp:/nonexistent/gnugo"}, "not found")])
def test_bad_config(kwargs, match):
    with pytest.raises(UserError, match=match):
        GoLiteEnv(**{"size": 5, **kwargs})


def test_draw_reward_changes_only_the_reward_of_a_superko_draw():
    env = GoLiteEnv(size=2, opponent=None, draw_reward=-0.5)   # tiny board: random play repeats positions
    rng = np.random.default_rng(0)
    draws = 0
    for seed in range(40):
        total, info, _ = play_out(env, rng, seed)
        if info["superko"]:
            draws += 1
            assert total == -0.5 and info["outcome"] == 0.0 and info["win"] == 0.0
        else:
            assert total == info["outcome"] != 0.0
    assert draws > 0


def test_frame_ring_matches_a_replayed_observation():
    env = GoLiteEnv(size=7, opponent=None, history=4)
    rng = np.random.default_rng(3)
    _, info = env.reset(seed=0)
    done, checked = False, 0
    while not done:
        obs, _, done, _, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        np.testing.assert_array_equal(obs, observation_from_game(env.game, 4))
        checked += 1
    assert checked > 8


def test_two_player_rewards_go_to_the_mover():
    env = GoLiteEnv(size=5, opponent=None, komi=0.5)
    env.reset(seed=0)
    env.step(12)
    env.step(25)
    _, reward, done, _, info = env.step(25)               # Black passes second: Black owns the board
    assert done and reward == 1.0 and info["agent_color"] == BLACK and info["win"] == 1.0


def test_render_modes():
    env = GoLiteEnv(size=5, opponent=None, render_mode="ansi")
    env.reset(seed=0)
    env.step(0)
    assert "X . . . ." in env.render() and "White to play" in env.render()
    env = GoLiteEnv(size=5, opponent=None, render_mode="rgb_array")
    env.reset(seed=0)
    env.step(12)                                          # C3, the centre
    img = env.render()
    side = 2 * board_image.MARGIN + 4 * board_image.CELL
    assert img.shape == (side + board_image.CAPTION, side, 3) and img.dtype == np.uint8
    x, y = board_image.MARGIN + 2 * board_image.CELL, board_image.MARGIN + 2 * board_image.CELL
    assert tuple(img[y, x]) == (15, 15, 15)               # the black stone at C3
    assert tuple(img[y, x + 6]) == board_image.LAST_MOVE  # ringed as the last move
    env.step(0)
    img = env.render()
    assert tuple(img[y, x + 6]) != board_image.LAST_MOVE  # the ring moved to A1
    assert (img[side:] != board_image.WOOD).any()         # the caption is written
    assert board_image.caption(env.game) == "move 2, Black to play"
    env.step(env.game.pass_action)
    assert board_image.caption(env.game) == "move 3, White to play (B passed)"
    env.step(env.game.pass_action)
    assert board_image.caption(env.game).startswith("move 4, result ")


def test_finished_games_saved_as_sgf(tmp_path):
    env = GoLiteEnv(size=5, opponent="heuristic", sgf_dir=tmp_path)
    _, info, _ = play_out(env, np.random.default_rng(2), seed=0)
    path = tmp_path / info["sgf"].split("/")[-1]
    replayed = load_game(path)
    assert replayed.history == env.game.history and replayed.over
    assert replayed.outcome() * (1 if info["agent_color"] == BLACK else -1) == info["outcome"]


def test_heuristic_beats_random():
    env = GoLiteEnv(size=7, opponent="random")
    player = HeuristicPlayer()
    wins = 0
    for seed in range(10):
        _, info = env.reset(seed=seed)
        player.reset(env.game, np.random.default_rng(seed))
        done = False
        while not done:
            _, _, done, _, info = env.step(player.select(env.game, None, env.action_masks()))
        wins += info["win"]
    assert wins >= 9


class Scripted(Player):
    """Plays a fixed list of moves (for hand-built positions)."""

    name = "scripted"

    def __init__(self, moves: list[int]):
        self.moves = list(moves)

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.queue = list(self.moves)

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        return self.queue.pop(0)


def test_shaping_potentials_by_hand():
    game = GoGame(5, komi=0.5)
    game.play(12)                                           # one black stone in the centre
    # within 3 steps of the centre: every point but the 4 corners -> 21 for Black, 0 for White, minus komi
    assert SHAPINGS["territory"](game) == pytest.approx(21 - 0.5)
    assert SHAPINGS["captures"](game) == 0.0
    capture = GoGame(5, komi=0.5)
    for move in (1, 0, 5):                                  # Black takes the white corner stone
        capture.play(move)
    assert capture.captures == (1, 0) and SHAPINGS["captures"](capture) == 1.0


def test_shaping_is_from_the_agents_side_for_white():
    shaping, black_delta = "captures", 1.0                  # one white stone captured
    env = GoLiteEnv(size=5, opponent=Scripted([1, 5, 24]), agent_color="white", shaping=shaping, komi=0.5)
    env.reset(seed=1)                                       # odd seed: the agent is White, Black has played 1
    _, reward, *_ = env.step(0)                             # White plays the corner; Black captures it
    assert reward == pytest.approx(-black_delta / 25)       # Black's gain is the White agent's loss
    black = GoLiteEnv(size=5, opponent=Scripted([0, 24]), agent_color="black", shaping=shaping, komi=0.5)
    black.reset(seed=0)
    black.step(1)
    _, reward, *_ = black.step(5)                           # the same capture by a Black agent
    assert reward == pytest.approx(black_delta / 25)
