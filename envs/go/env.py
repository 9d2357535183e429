"""``rllab/GoLite-v0``: small-board Go as a Gymnasium env (single-agent with an opponent, or two-player).

Single-agent (``opponent`` = a player spec): the agent plays one colour (fixed, or alternating between episodes)
and the opponent's reply happens inside ``step``. Two-player (``opponent=None``): every ``step`` is one move of
the side to move, the observation is from the next side to move and the reward belongs to the player who just
moved, so self-play loops and external harnesses can drive whole games through the standard API.

Observation: uint8 planes (2k+1, N, N) from the side to move, AlphaGo Zero style: own stones at t, t-1, ...,
t-k+1, then the opponent's, then a colour plane (1 when Black is to move). Actions: ``row*N + col`` (row 0 =
GTP row 1), pass = N². ``action_masks()`` serves sb3-contrib's MaskablePPO; ``info["action_mask"]`` too.

Reward: +1/0/-1 at the end from the agent's view (Tromp-Taylor with komi; a superko repetition is a draw), plus an
optional potential-based shaping term ``shaping_scale * (Phi(s') - Phi(s))`` (see ``SHAPINGS``), so a shaped
return is the outcome plus the change of Phi over the game. ``draw_reward`` (default 0) replaces the 0 of a drawn
game in the reward only. The final ``info`` carries the unshaped metrics
``win`` (1/0), ``outcome`` (+1/0/-1), ``margin`` (area margin minus komi, agent's view) and ``moves``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from rllab.core.errors import UserError, choices_hint
from rllab.envs.go.board_image import board_image
from rllab.envs.go.engine import BLACK, WHITE, GoGame, default_komi, geometry
from rllab.envs.go.player import RESIGN, Player
from rllab.envs.go.player_specs import make_player
from rllab.envs.go.sgf import save_game

ILLEGAL_MODES = ("raise", "lose", "pass")
COLORS = ("black", "white", "alternate", "random")


def _margin(game: GoGame) -> float:
    return game.area_delta() - game.komi


def _captures(game: GoGame) -> float:
    b, w = game.captures
    return float(b - w)


def _territory(game: GoGame) -> float:
    """Influence estimate: stones plus empty points that one colour reaches first within 3 steps."""
    geo = game.geo
    black, white = game.stones
    empty = geo.full & ~(black | white)
    reach_b, reach_w = black, white
    for _ in range(3):
        grow_b = geo.dilate(reach_b) & empty & ~reach_b & ~reach_w
        grow_w = geo.dilate(reach_w) & empty & ~reach_b & ~reach_w
        contested = grow_b & grow_w
        reach_b |= grow_b & ~contested
        reach_w |= grow_w & ~contested
    return float(reach_b.bit_count() - reach_w.bit_count()) - game.komi


# Potentials from Black's view, scaled by 1/N² in the env so that shaping stays within [-1, 1] per game.
SHAPINGS: dict[str, Callable[[GoGame], float]] = {
    "score_margin": _margin,
    "captures": _captures,
    "territory": _territory,
}


def _frame_rows(history: int, newest: int, to_play: int) -> np.ndarray:
    """Rows of the env's frame ring that make :func:`stack_planes`'s layout when ``newest`` is the latest frame."""
    frames = [(newest - t) % history for t in range(history)]
    rows = [2 * f + to_play for f in frames] + [2 * f + 1 - to_play for f in frames]
    rows.append(2 * history + 1 if to_play == BLACK else 2 * history)
    return np.array(rows, dtype=np.intp)


class GoLiteEnv(gym.Env):
    """Go on an N x N board with OpenSpiel's rules; see the module docstring.

    ``engine_factory(size, komi, max_moves)`` builds the rules engine (default :class:`GoGame`); the benchmark
    passes an OpenSpiel adapter so that both engines run through this very class.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "rgb_array"], "render_fps": 2}

    def __init__(self, size: int = 7, komi: float | None = None, opponent: str | Player | None = "random",
                 agent_color: str = "alternate", history: int = 4, illegal: str = "lose",
                 shaping: str | None = None, shaping_scale: float = 1.0, max_moves: int | None = None,
                 render_mode: str | None = None, sgf_dir: str | os.PathLike[str] | None = None,
                 opponent_deterministic: bool = False, draw_reward: float = 0.0,
                 engine_factory: Callable[[int, float, int | None], Any] | None = None):
        geo = geometry(size)
        self.size = geo.size
        self.komi = float(default_komi(self.size) if komi is None else komi)
        if not isinstance(history, int) or history < 1:
            raise UserError(f"history must be an integer >= 1, got {history!r}")
        if illegal not in ILLEGAL_MODES:
            raise UserError(f"illegal={illegal!r} is not a mode; {choices_hint(ILLEGAL_MODES)}")
        if agent_color not in COLORS:
            raise UserError(f"agent_color={agent_color!r}; {choices_hint(COLORS)}")
        if shaping is not None and shaping not in SHAPINGS:
            raise UserError(f"unknown shaping {shaping!r}; {choices_hint(SHAPINGS)}")
        if isinstance(draw_reward, bool) or not isinstance(draw_reward, (int, float)) or not -1 <= draw_reward <= 1:
            raise UserError(f"draw_reward must be a number in [-1, 1], got {draw_reward!r}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise UserError(f"render_mode={render_mode!r}; {choices_hint(self.metadata['render_modes'])}")
        self.history = history
        self.illegal = illegal
        self.agent_color = agent_color
        self.shaping = shaping
        self.shaping_scale = float(shaping_scale) / geo.points
        self.draw_reward = float(draw_reward)
        self.max_moves = max_moves
        self.render_mode = render_mode
        self.sgf_dir = Path(sgf_dir) if sgf_dir is not None else None
        self.opponent: Player | None = (None if opponent is None
                                        else make_player(opponent, deterministic=opponent_deterministic))
        self._engine_factory = engine_factory or GoGame
        n = self.size
        self.observation_space = spaces.Box(0, 1, shape=(2 * history + 1, n, n), dtype=np.uint8)
        self.action_space = spaces.Discrete(geo.points + 1)
        self.game: Any = None
        # History ring: frame h holds (black, white) in rows 2h, 2h+1; then a zero plane and a ones plane. An
        # observation is one ``take`` with a precomputed row order per (side to move, newest frame), so a move
        # writes one frame instead of shifting the whole history.
        self._frames = np.zeros((2 * history + 2, n, n), dtype=np.uint8)
        self._frames[2 * history + 1] = 1
        self._newest = 0
        self._rows = tuple(tuple(_frame_rows(history, newest, to_play) for newest in range(history))
                           for to_play in (BLACK, WHITE))
        self._n_actions = geo.points + 1
        self._mask = np.zeros(geo.points + 1, dtype=bool)
        self._me = BLACK
        self._episodes = 0
        self._potential = 0.0
        self._done = True
        self._forfeit = False

    # -- Gymnasium API ---------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is not None:
            # A seeded reset fixes the colour (even seed: Black first), so episodes are reproducible and
            # evaluations that seed episode i with seed + i still alternate colours.
            self._episodes = seed % 2
        self.game = self._engine_factory(self.size, self.komi, self.max_moves)
        self._frames[:2 * self.history] = 0
        self._newest = 0
        self._done = False
        self._forfeit = False
        self._me = self._pick_color()
        self._episodes += 1
        if self.opponent is not None:
            self.opponent.reset(self.game, np.random.default_rng(self.np_random.integers(2**63)))
            if self._me != self.game.to_play:
                self._opponent_move()
        self._potential = self._phi()
        self._mask = self.game.legal_mask()
        return self._observation(), {"action_mask": self._mask, "agent_color": self._me}

    def step(self, action: Any):
        if self._done:
            raise UserError("step() called on a finished game; call reset() first")
        if type(action) is not int or not 0 <= action < self._n_actions:
            action = self._check_action(action)
        game = self.game
        mover = game.to_play if self.opponent is None else self._me
        if not self._mask[action]:
            if self.illegal == "raise":
                raise UserError(f"illegal move {game.action_to_gtp(action)} (action {action}): occupied, suicide "
                                "or ko; use action_masks() or illegal='lose'/'pass'")
            if self.illegal == "lose":
                self._forfeit = True
                self._done = True
                return self._finish(mover, outcome=-1)
            action = game.pass_action
        self._play(action)
        if self.opponent is not None and not game.over:
            self._opponent_move()
        self._mask = game.legal_mask()
        reward = 0.0
        if self.shaping is not None:
            phi = self._phi()
            reward = (phi - self._potential) * (1 if mover == self._me else -1)
            self._potential = phi
        if game.over:
            self._done = True
            outcome = game.outcome() * (1 if mover == BLACK else -1)
            return self._finish(mover, outcome, reward)
        return self._observation(), reward, False, False, {"action_mask": self._mask}

    def action_masks(self) -> np.ndarray:
        """Legal actions of the side to move (all False once the game is over)."""
        return self._mask.copy()

    def render(self):
        if self.render_mode is None or self.game is None:
            return None
        if self.render_mode == "ansi":
            return self._text()
        return self._rgb()

    def close(self) -> None:
        if self.opponent is not None:
            self.opponent.close()

    # -- hooks used by self-play and tools ------------------------------------------------------------------
    def set_opponent(self, opponent: str | Player | None) -> None:
        """Replace the opponent (takes effect at the next reset)."""
        if self.opponent is not None:
            self.opponent.close()
        self.opponent = None if opponent is None else make_player(opponent)

    def add_snapshot(self, policy: Any, keep: int | None = None) -> None:
        """Give a frozen copy of the learner to a ``self`` opponent (called by the self-play callback)."""
        if self.opponent is not None and hasattr(self.opponent, "add_snapshot"):
            self.opponent.add_snapshot(policy, keep)

    def observation_for(self, to_play: int) -> np.ndarray:
        """The plane stack from ``to_play``'s view of the current history."""
        return self._frames.take(self._rows[to_play][self._newest], axis=0)

    def save_sgf(self, path: str | os.PathLike[str]) -> Path:
        """Write the current game as SGF (players named by colour role)."""
        names = self._player_names()
        return save_game(path, self.game, black=names[BLACK], white=names[WHITE], forfeit=self._forfeit_loser())

    # -- internals ---------------------------------------------------------------------------------------------
    def _pick_color(self) -> int:
        if self.agent_color == "black":
            return BLACK
        if self.agent_color == "white":
            return WHITE
        if self.agent_color == "alternate":
            return self._episodes % 2
        return int(self.np_random.integers(2))

    def _check_action(self, action: Any) -> int:
        if isinstance(action, np.ndarray) and action.shape in ((), (1,)):
            action = action.reshape(()).item() if np.issubdtype(action.dtype, np.integer) else action
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
            raise UserError(f"action must be an integer (numpy or Python int), got {type(action).__name__} "
                            f"{action!r}")
        if not 0 <= action <= self.size * self.size:
            raise UserError(f"action {action} out of range 0..{self.size * self.size} (pass = {self.size ** 2})")
        return int(action)

    def _play(self, action: int) -> None:
        self.game.apply(action)
        newest = self._newest = (self._newest + 1) % self.history
        self._frames[2 * newest:2 * newest + 2] = self.game.planes()

    def _opponent_move(self) -> None:
        game = self.game
        mask = game.legal_mask()
        obs = self.observation_for(game.to_play) if self.opponent.needs_observation else None
        action = self.opponent.select(game, obs, mask)
        if action == RESIGN:
            game.resign()
            return
        if not (0 <= action < len(mask)) or not mask[action]:
            raise UserError(f"opponent {self.opponent.name} chose an illegal move {game.action_to_gtp(action)}")
        self._play(action)

    def _observation(self) -> np.ndarray:
        return self.observation_for(self.game.to_play if self.opponent is None else self._me)

    def _phi(self) -> float:
        if self.shaping is None:
            return 0.0
        value = SHAPINGS[self.shaping](self.game) * self.shaping_scale
        return value if self._me == BLACK else -value

    def _finish(self, mover: int, outcome: int, reward: float = 0.0):
        game = self.game
        self._mask = np.zeros_like(self._mask)
        perspective = self._me if self.opponent is not None else mover
        margin = _margin(game) * (1 if perspective == BLACK else -1)
        info = {"action_mask": self._mask, "win": float(outcome > 0), "outcome": float(outcome),
                "margin": float(margin), "moves": float(game.moves), "agent_color": perspective,
                "superko": bool(getattr(game, "superko", False)), "forfeit": self._forfeit}
        if self.sgf_dir is not None:
            info["sgf"] = str(self.save_sgf(self.sgf_dir / f"game-{os.getpid()}-{self._episodes:06d}.sgf"))
        # A draw is worth ``draw_reward`` to the learner (e.g. -1 so that forcing a superko repetition in a lost
        # position is no better than losing); ``outcome`` and ``win`` above stay the unshaped result.
        base = float(outcome) if outcome != 0 else self.draw_reward
        return self._observation(), base + reward, True, False, info

    def _forfeit_loser(self) -> int | None:
        if not self._forfeit:
            return None
        return self._me if self.opponent is not None else self.game.to_play

    def _player_names(self) -> dict[int, str]:
        if self.opponent is None:
            return {BLACK: "rllab", WHITE: "rllab"}
        return {self._me: "agent", 1 - self._me: self.opponent.name}

    def _text(self) -> str:
        game = self.game
        side = "Black" if game.to_play == BLACK else "White"
        status = "game over" if game.over else f"{side} to play"
        return f"{game.to_text()}\nmove {game.moves}, komi {game.komi}, {status}\n"

    def _rgb(self) -> np.ndarray:
        return board_image(self.game)
