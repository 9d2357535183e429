"""``mcts``: Monte-Carlo tree search with RAVE, heuristic priors and light playouts, as a :class:`Player`.

The search itself is the compiled ``Tree`` (:mod:`rllab.envs.go.fast`): UCT selection over visit statistics blended
with AMAF/RAVE statistics (Gelly & Silver 2011) and prior pseudo-visits from shape knowledge (captures, atari
escapes, self-atari, 3x3 shapes, distance to the last move, first lines in open areas), leaves expanded after
``expand`` visits, one light playout per simulation. The tree is kept between moves (the opponent's reply
descends into it) unless ``reuse`` is off or the game does not continue the one searched.

A network-guided search uses the same player: give :class:`MctsPlayer` an ``evaluator`` and each simulation asks
it for priors and a value at the leaf instead of running a playout (``c_puct`` then weighs the priors, AlphaZero
style). The budget, tree reuse, move choice and resignation stay the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame
from rllab.envs.go.fast import board_from_game, core
from rllab.envs.go.player import RESIGN, Player

# evaluator(leaf board, actions from the game's start to the leaf) -> (priors float32[N²+1] or None, value in [0, 1]
# for the leaf's side to move)
Evaluator = Callable[[Any, Sequence[int]], tuple[np.ndarray | None, float]]

DEFAULT_SIMS = 2000
MIN_RESIGN_VISITS = 200


@dataclass(frozen=True)
class MctsConfig:
    """Search settings; ``sims`` and ``time`` are per move, the search stops at whichever comes first."""

    sims: int | None = None            # simulations per move (default DEFAULT_SIMS when time is not set either)
    time: float | None = None          # seconds per move
    resign: float = 0.1                # resign when the chosen move's win rate is below this (0 = never)
    reuse: bool = True                 # keep the subtree between moves
    rave: float = 2000.0               # RAVE equivalence parameter (0 = plain UCT, no AMAF)
    uct: float = 0.0                   # UCB1 exploration constant (RAVE and priors explore by themselves)
    puct: float = 0.0                  # weight of policy priors (evaluator mode)
    fpu: float = 1.0                   # value of a child never visited and without prior
    priors: bool = True                # heuristic prior pseudo-visits at expansion
    light: bool = True                 # light playout policy (False: uniform random playouts, like OpenSpiel's)
    expand: int = 2                    # visits before a leaf gets children
    nodes: int = 2_000_000             # tree size cap (~36 bytes a node); past it leaves stop growing
    early_stop: bool = True            # stop when the best move can no longer change within the budget

    def budget(self) -> tuple[int, float]:
        sims = self.sims if self.sims is not None else (0 if self.time is not None else DEFAULT_SIMS)
        return sims, self.time or 0.0


class MctsPlayer(Player):
    """Picks the most visited root move after a UCT/RAVE search; resigns when even that move looks lost."""

    def __init__(self, config: MctsConfig | None = None, name: str = "mcts", evaluator: Evaluator | None = None):
        self.config = config or MctsConfig()
        self.name = name
        self.evaluator = evaluator
        self.rng = np.random.default_rng()
        self.tree: Any = None
        self._history: list[int] = []
        self._key: tuple[int, float, int] | None = None
        self.last_search: dict[str, Any] = {}

    def reset(self, game: GoGame, rng: np.random.Generator) -> None:
        self.rng = rng
        self.tree = None
        self._history = []
        self._key = None

    def select(self, game: GoGame, observation: np.ndarray | None, mask: np.ndarray) -> int:
        tree = self._sync(game)
        start = time.perf_counter()
        sims = self._search(tree, game)
        stats = tree.root_stats()
        best = max(stats, key=lambda row: (row[1], row[2]))
        action, visits, wins = int(best[0]), best[1], best[2]
        win_rate = wins / visits if visits else 0.5
        self.last_search = {"sims": sims, "seconds": time.perf_counter() - start, "win_rate": win_rate,
                            "nodes": tree.nodes, "visits": visits}
        if not mask[action]:  # the compiled board and GoGame disagree: a bug, never a player's choice
            raise RuntimeError(f"mcts picked {game.action_to_gtp(action)}, which GoGame says is illegal")
        if (self.config.resign > 0 and tree.root_visits >= MIN_RESIGN_VISITS and win_rate < self.config.resign):
            return RESIGN
        if self.config.reuse:
            tree.advance(action)
            self._history = [*game.history, action]
        else:
            self.tree = None
        return action

    def _sync(self, game: GoGame) -> Any:
        """The tree for ``game``'s position: the kept one advanced by the moves since, or a fresh one."""
        key = (game.size, game.komi, game.max_moves)
        history = game.history
        kept = len(self._history)
        if self.tree is not None and key == self._key and history[:kept] == self._history:
            for action in history[kept:]:
                self.tree.advance(action)
        else:
            c = self.config
            self.tree = core().Tree(board_from_game(game), seed=int(self.rng.integers(1 << 63)), max_nodes=c.nodes,
                                    c_uct=c.uct, c_puct=c.puct, rave_equiv=c.rave, fpu=c.fpu, expand_visits=c.expand,
                                    heuristic_priors=c.priors and self.evaluator is None, light=c.light)
            self._key = key
        self._history = list(history)
        return self.tree

    def _search(self, tree: Any, game: GoGame) -> int:
        sims, seconds = self.config.budget()
        if self.evaluator is None:
            return tree.search(sims=sims, seconds=seconds, early_stop=self.config.early_stop)
        deadline = time.perf_counter() + seconds if seconds else None
        done = 0
        while (not sims or done < sims) and (deadline is None or time.perf_counter() < deadline):
            leaf = tree.select_leaf()
            done += 1
            if leaf is None:  # a terminal position, already counted
                continue
            board, path = leaf
            priors, value = self.evaluator(board, [*game.history, *path])
            tree.expand_leaf(None if priors is None else np.ascontiguousarray(priors, dtype=np.float32), value)
        return done


SPEC_KEYS = ("sims", "time", "resign", "reuse", "rave", "uct", "priors", "light", "expand", "nodes")


def flag(raw: str) -> bool:
    """A 0/1 spec option (true/false, yes/no, on/off also work)."""
    if raw.lower() in ("1", "true", "yes", "on"):
        return True
    if raw.lower() in ("0", "false", "no", "off"):
        return False
    raise ValueError(raw)


def mcts_config_from_spec(spec: Any) -> MctsConfig:
    """``mcts[:sims=N][:time=S][:resign=R]...`` -> :class:`MctsConfig`, with one-line errors for bad values."""
    if spec.arg:
        raise UserError(f"player {spec.text!r}: mcts takes key=value options ({', '.join(SPEC_KEYS)}), "
                        f"e.g. mcts:sims=2000 or mcts:time=5")
    spec.check_options(SPEC_KEYS)
    config = MctsConfig()
    sims = spec.option("sims", int, None, low=1)
    seconds = spec.option("time", float, None, low=0.001)
    resign = spec.option("resign", float, config.resign, low=0)
    if resign >= 1:
        raise UserError(f"player {spec.text!r}: resign must be a win rate in [0, 1), got {resign:g}")
    if seconds is not None and not np.isfinite(seconds):
        raise UserError(f"player {spec.text!r}: time must be a finite number of seconds")
    return replace(config, sims=sims, time=seconds, resign=resign,
                   reuse=spec.option("reuse", flag, config.reuse),
                   rave=spec.option("rave", float, config.rave, low=0),
                   uct=spec.option("uct", float, config.uct, low=0),
                   priors=spec.option("priors", flag, config.priors),
                   light=spec.option("light", flag, config.light),
                   expand=spec.option("expand", int, config.expand, low=1),
                   nodes=spec.option("nodes", int, config.nodes, low=1000))


def mcts_player(spec: Any, deterministic: bool) -> Player:
    """Factory for the player-spec registry (the search is seeded per game, so ``deterministic`` is moot)."""
    config = mcts_config_from_spec(spec)
    core()  # a clear error now rather than at the first move
    return MctsPlayer(config, name=spec.text)
