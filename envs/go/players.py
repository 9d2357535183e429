"""Players that need no training of their own: uniform random, a greedy one-ply heuristic, a frozen policy, and the
self-play pool of frozen learner snapshots. External engines (GNU Go) are in :mod:`rllab.envs.go.gtp_client`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame, bits
from rllab.envs.go.planes import observation_from_game
from rllab.envs.go.player import Player


class RandomPlayer(Player):
    """Uniform over the legal moves, pass included (the usual baseline; OpenSpiel's random bot does the same)."""

    name = "random"

    def __init__(self) -> None:
        self.rng = np.random.default_rng()

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        legal = np.flatnonzero(mask)
        return int(legal[self.rng.integers(len(legal))])


class HeuristicPlayer(RandomPlayer):
    """Greedy one-ply rules: capture the most stones, save own groups in atari, avoid self-atari and own eyes,
    and avoid recreating an earlier position (which would end the game as a superko draw).

    Ties break at random. It passes only when every board move would fill its own eye or put itself in atari,
    so under Tromp-Taylor scoring it keeps playing until the board is settled.
    """

    name = "heuristic"

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        me = game.to_play
        own, opp = game.stones[me], game.stones[1 - me]
        geo = game.geo
        # Liberties of own groups in atari: playing there may save them.
        atari_points = geo.dilate(game.atari_stones(me)) & game.empty
        empty = game.empty
        opp_atari = game.atari_stones(1 - me)
        best, best_score = [], -1e9
        for p in bits(game.legal_bits() & geo.full):
            nbrs = geo.neighbour_bits[p]
            if (nbrs & empty).bit_count() >= 3 and not nbrs & opp_atari:
                captured, libs = 0, 3        # cannot capture, keeps >= 3 liberties: skip the look-ahead
            else:
                captured, libs = game.move_effect(p)
            score = 10.0 * captured
            if atari_points >> p & 1 and libs >= 2:
                score += 8.0
            if libs == 1 and not captured:
                score -= 6.0
            if not nbrs & ~own and not captured:   # filling an own eye
                score -= 20.0
            if libs >= 3:
                score += 0.5
            if game.repeats_position(p):
                score -= 15.0
            score += 0.25 * (nbrs & opp).bit_count()
            if score > best_score + 1e-9:
                best, best_score = [p], score
            elif abs(score - best_score) <= 1e-9:
                best.append(p)
        if not best or best_score < -5.0:
            return game.pass_action
        return int(best[self.rng.integers(len(best))])


class PolicyPlayer(Player):
    """A frozen SB3 policy (MaskablePPO uses the mask; other algorithms' illegal picks become a pass)."""

    needs_observation = True

    def __init__(self, policy: Any, deterministic: bool = False, name: str = "policy"):
        self.policy = policy
        self.deterministic = deterministic
        self.name = name
        self.rng = np.random.default_rng()
        self.obs_shape = tuple(policy.observation_space.shape)
        self.history = (self.obs_shape[0] - 1) // 2

    def check_size(self, size: int) -> None:
        """Refuse a board the policy was not trained on (its input layer fixes the size)."""
        if self.obs_shape[1:] != (size, size):
            raise UserError(f"policy {self.name} plays {self.obs_shape[1]}x{self.obs_shape[2]} boards, "
                            f"not {size}x{size}")

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.check_size(game.size)
        self.rng = rng

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        if observation is None or observation.shape != self.obs_shape:
            observation = observation_from_game(game, self.history)
        action = predict_masked(self.policy, observation, mask, self.deterministic)
        return action if mask[action] else game.pass_action


class SelfPlayPool(Player):
    """Plays frozen snapshots of the learner: one drawn uniformly per game from the newest ``keep``.

    Until the first snapshot arrives (see :class:`agents.go_selfplay.SelfPlaySnapshots`) it plays at random.
    """

    needs_observation = True
    name = "self"

    def __init__(self, keep: int = 5):
        self.keep = keep
        self.snapshots: list[Any] = []
        self.current: Any = None
        self._random = RandomPlayer()
        self.rng = np.random.default_rng()

    def add_snapshot(self, policy: Any, keep: int | None = None) -> None:
        if keep is not None:
            self.keep = keep
        self.snapshots = (self.snapshots + [policy])[-self.keep:]

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.rng = rng
        self._random.rng = rng
        self.current = self.snapshots[rng.integers(len(self.snapshots))] if self.snapshots else None

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        if self.current is None:
            return self._random.select(game, observation, mask)
        action = predict_masked(self.current, observation, mask, deterministic=False)
        return action if mask[action] else game.pass_action


def predict_masked(policy: Any, observation: np.ndarray, mask: np.ndarray, deterministic: bool) -> int:
    """``policy.predict`` with the mask when the policy takes one (sb3-contrib's maskable policies)."""
    try:
        action, _ = policy.predict(observation, action_masks=mask, deterministic=deterministic)
    except TypeError:
        action, _ = policy.predict(observation, deterministic=deterministic)
    return int(np.asarray(action).reshape(-1)[0])
