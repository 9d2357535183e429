"""The observation planes of Go-lite (AlphaGo Zero style), rebuilt from a game for players outside the env."""

from __future__ import annotations

import numpy as np

from rllab.envs.go.engine import BLACK, GoGame


def observation_from_game(game: GoGame, history: int) -> np.ndarray:
    """The env's plane stack for the side to move, rebuilt by replaying ``game`` (for GTP and match players)."""
    replay = GoGame(game.size, game.komi, game.max_moves)
    n = game.size
    planes = np.zeros((history, 2, n, n), dtype=np.uint8)
    start = max(0, len(game.history) - history)
    for i, action in enumerate(game.history):
        replay.apply(action)
        if i + 1 > start:
            planes[1:] = planes[:-1]
            planes[0] = replay.planes()
    return stack_planes(planes, game.to_play)


def stack_planes(planes: np.ndarray, to_play: int) -> np.ndarray:
    """(k, 2, N, N) history, newest first -> (2k+1, N, N): own, opponent, colour plane (1 = Black to move)."""
    k, _, n, _ = planes.shape
    obs = np.empty((2 * k + 1, n, n), dtype=np.uint8)
    obs[:k] = planes[:, to_play]
    obs[k:2 * k] = planes[:, 1 - to_play]
    obs[2 * k] = to_play == BLACK
    return obs
