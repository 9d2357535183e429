"""``openspiel-mcts``: OpenSpiel's C++ MCTS bot with random rollouts, as a baseline player.

The bot runs inside ``pyspiel`` (an optional dependency, imported when the first game starts) on OpenSpiel's own
``go`` game, whose rules and action numbering are ours (0 differences in ``rllab bench go-rules``). Settings follow
OpenSpiel's MCTS example: UCT constant 2, one uniform random rollout per leaf, MCTS-Solver on. A budget in seconds
uses the bot's wall-clock limit, so ``openspiel-mcts:time=5`` and ``mcts:time=5`` think equally long.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame
from rllab.envs.go.player import Player

SPEC_KEYS = ("sims", "time", "uct", "rollouts")
DEFAULT_SIMS = 1000
MAX_MEMORY_MB = 1000


class OpenSpielMctsPlayer(Player):
    """Rebuilds OpenSpiel's state from the game history every move (the bot keeps no tree between moves)."""

    def __init__(self, sims: int | None = None, seconds: float | None = None, uct: float = 2.0, rollouts: int = 1,
                 name: str = "openspiel-mcts"):
        self.sims = sims if sims is not None else (0 if seconds else DEFAULT_SIMS)
        self.seconds = seconds or 0.0
        self.uct, self.rollouts, self.name = uct, rollouts, name
        self.rng = np.random.default_rng()
        self._key: tuple[int, float, int] | None = None
        self._game: Any = None
        self._bot: Any = None

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.rng = rng
        self._key = None

    def _ensure(self, game: GoGame) -> None:
        key = (game.size, game.komi, game.max_moves)
        if key == self._key:
            return
        try:
            import pyspiel
        except ImportError:
            raise UserError("openspiel-mcts needs open-spiel (pip install open-spiel)") from None
        self._game = pyspiel.load_game("go", {"board_size": game.size, "komi": float(game.komi),
                                              "max_game_length": game.max_moves})
        seed = int(self.rng.integers(1 << 31))
        evaluator = pyspiel.RandomRolloutEvaluator(self.rollouts, seed)
        self._bot = pyspiel.MCTSBot(self._game, evaluator, self.uct, self.sims or 10**9, MAX_MEMORY_MB, True, seed,
                                    False, pyspiel.ChildSelectionPolicy.UCT, self.seconds or -1.0)
        self._key = key

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        self._ensure(game)
        state = self._game.new_initial_state()
        for action in game.history:
            state.apply_action(action)
        return int(self._bot.step(state))


def openspiel_mcts_player(spec: Any, deterministic: bool) -> Player:
    """Factory for the player-spec registry: ``openspiel-mcts[:sims=N][:time=S][:uct=C][:rollouts=R]``."""
    if spec.arg:
        raise UserError(f"player {spec.text!r}: openspiel-mcts takes key=value options ({', '.join(SPEC_KEYS)})")
    spec.check_options(SPEC_KEYS)
    seconds = spec.option("time", float, None, low=0.001)
    if seconds is not None and not np.isfinite(seconds):
        raise UserError(f"player {spec.text!r}: time must be a finite number of seconds")
    return OpenSpielMctsPlayer(sims=spec.option("sims", int, None, low=1), seconds=seconds,
                               uct=spec.option("uct", float, 2.0, low=0),
                               rollouts=spec.option("rollouts", int, 1, low=1), name=spec.text)
