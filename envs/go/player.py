"""The player interface: anything that picks a move for the side to move (in the env, a match, a GTP engine).

The env calls ``reset(game, rng)`` at the start of each game and ``select(game, observation, mask)`` whenever it is
the player's turn. ``observation`` is the AlphaGo-Zero plane stack from the side to move (built only for players
whose ``needs_observation`` is true), ``mask`` the boolean legal mask. Players only read the game.
"""

from __future__ import annotations

import numpy as np

from rllab.envs.go.engine import GoGame

RESIGN = -1  # what a player returns to resign


class Player:
    """Base class: a stateless player needs only ``select``."""

    name = "player"
    needs_observation = False

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.rng = rng

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        raise NotImplementedError

    def close(self) -> None:
        """Release external resources (a GTP process); a no-op for in-process players."""
