"""Go-lite's two-player game as a PettingZoo ``AECEnv`` (the optional ``[pettingzoo]`` extra).

Agents ``black_0`` and ``white_0`` take turns. ``observe(agent)`` is a dict: ``"observation"``, the AlphaGo Zero
planes of :mod:`rllab.envs.go.planes` from that agent's view ((2k+1, N, N) uint8: own stones over the last k
positions, the opponent's, then a plane of ones when the agent plays Black), and ``"action_mask"``, int8 over the
N²+1 actions (pass last), all zero when it is not the agent's turn or the game is over. Rewards are +1/-1 to the
winner/loser when the game ends (0 each for a superko draw); an illegal action is a :class:`UserError`, not a
silent loss. The rules, komi and move cap are :class:`GoGame`'s, and the board size is per instance (PettingZoo's
own ``go_v5`` keeps it in module globals).

Only code that asks for PettingZoo imports this module, so the package works without the extra.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from rllab.core.errors import UserError
from rllab.envs.go.engine import BLACK, GoGame, geometry
from rllab.envs.go.planes import stack_planes

try:
    from pettingzoo import AECEnv
    from pettingzoo.utils import AgentSelector
except ImportError as exc:  # the optional extra is missing
    raise UserError("the PettingZoo env needs the [pettingzoo] extra: pip install 'rllab[pettingzoo]'") from exc

AGENTS = ("black_0", "white_0")


class GoAECEnv(AECEnv):
    """Two-player Go-lite for PettingZoo; see the module docstring for observations, masks and rewards."""

    metadata = {"render_modes": ["ansi"], "name": "rllab_go_v0", "is_parallelizable": False}

    def __init__(self, size: int = 7, komi: float | None = None, history: int = 4, max_moves: int | None = None,
                 render_mode: str | None = None):
        super().__init__()
        geometry(size)  # a clear error for a bad size
        if not isinstance(history, int) or history < 1:
            raise UserError(f"history must be an integer >= 1, got {history!r}")
        if render_mode not in (None, *self.metadata["render_modes"]):
            raise UserError(f"render_mode must be one of {self.metadata['render_modes']} or None, got {render_mode!r}")
        self.size, self.komi, self.history, self.max_moves = size, komi, history, max_moves
        self.render_mode = render_mode
        self.possible_agents = list(AGENTS)
        n = size * size
        obs = spaces.Dict({"observation": spaces.Box(0, 1, (2 * history + 1, size, size), np.uint8),
                           "action_mask": spaces.Box(0, 1, (n + 1,), np.int8)})
        self._observation_spaces = {a: obs for a in AGENTS}
        self._action_spaces = {a: spaces.Discrete(n + 1) for a in AGENTS}
        self.game = GoGame(size, komi, max_moves)
        self._frames = np.zeros((history, 2, size, size), dtype=np.uint8)
        self._selector = AgentSelector(self.possible_agents)

    def observation_space(self, agent: str) -> spaces.Space:
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self._action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> None:
        self.game = GoGame(self.size, self.komi, self.max_moves)
        self._frames[:] = 0
        self.agents = self.possible_agents[:]
        self.rewards = dict.fromkeys(self.agents, 0.0)
        self._cumulative_rewards = dict.fromkeys(self.agents, 0.0)
        self.terminations = dict.fromkeys(self.agents, False)
        self.truncations = dict.fromkeys(self.agents, False)
        self.infos: dict[str, dict[str, Any]] = {a: {} for a in self.agents}
        self._selector.reinit(self.agents)
        self.agent_selection = self._selector.reset()

    def observe(self, agent: str) -> dict[str, np.ndarray]:
        color = AGENTS.index(agent)
        mask = np.zeros(self.size * self.size + 1, dtype=np.int8)
        if agent == self.agent_selection and not self.game.over:
            mask[:] = self.game.legal_mask()
        return {"observation": stack_planes(self._frames, color), "action_mask": mask}

    def step(self, action: Any) -> None:
        agent = self.agent_selection
        if self.terminations[agent] or self.truncations[agent]:
            self._was_dead_step(action)
            return
        game = self.game
        if not isinstance(action, (int, np.integer)) or not game.is_legal(int(action)):
            raise UserError(f"illegal action {action!r} for {agent} at move {game.moves + 1} (use the action_mask)")
        self._cumulative_rewards[agent] = 0.0
        game.apply(int(action))
        self._frames[1:] = self._frames[:-1]
        self._frames[0] = game.planes()
        self.rewards = dict.fromkeys(self.agents, 0.0)
        if game.over:
            outcome = game.outcome()
            self.rewards = {"black_0": float(outcome), "white_0": float(-outcome)}
            self.terminations = dict.fromkeys(self.agents, True)
            for a in self.agents:
                self.infos[a] = {"outcome": outcome if a == AGENTS[BLACK] else -outcome, "moves": game.moves,
                                 "superko": game.superko}
        self.agent_selection = self._selector.next()
        self._accumulate_rewards()

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            side = "black" if self.game.to_play == BLACK else "white"
            return self.game.to_text() + f"\n{side if not self.game.over else 'nobody'} to play"
        return None

    def close(self) -> None:
        """Nothing to release (no window, no external process)."""


def env(**kwargs: Any) -> GoAECEnv:
    """PettingZoo-style constructor: ``env(size=7)``."""
    return GoAECEnv(**kwargs)
