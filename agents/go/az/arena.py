"""Evaluation games for a training run: a net against another net or against any player spec, many games at once.

Every game is played on one :class:`BatchedGo` (the net's searches are batched over the games where it is to move)
and mirrored on a :class:`GoGame`, which checks every move with the exact engine and is what other players (a GTP
engine, the heuristic, ``mcts``) read. The first side is Black in even games and White in odd ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

from rllab.agents.go.az.search import Evaluator, SearchConfig, TreeSearch, engine_state
from rllab.core.errors import UserError
from rllab.envs.go.batched import BatchedGo
from rllab.envs.go.engine import BLACK, GoGame
from rllab.envs.go.player import RESIGN, Player
from rllab.envs.go.player_specs import make_player


def elo_difference(score: float, games: int) -> float:
    """Elo gap implied by a score rate over ``games`` games (logistic model, 400 points = 10:1 odds).

    The score is clipped to [1/(2n), 1 - 1/(2n)], so 0% or 100% of n games stays finite.
    """
    eps = 0.5 / max(games, 1)
    s = min(max(score, eps), 1 - eps)
    return 400.0 * math.log10(s / (1 - s))


@dataclass
class ArenaResult:
    """The first side's results; ``by_colour[c] = [wins, draws, games]`` with the first side playing colour c."""

    wins: int = 0
    draws: int = 0
    games: int = 0
    by_colour: list[list[int]] = field(default_factory=lambda: [[0, 0, 0], [0, 0, 0]])

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / self.games if self.games else math.nan

    def colour_score(self, colour: int) -> float:
        wins, draws, games = self.by_colour[colour]
        return (wins + 0.5 * draws) / games if games else math.nan

    @property
    def elo(self) -> float:
        return elo_difference(self.score, self.games)


class _NetSide:
    def __init__(self, evaluator: Evaluator, engine: BatchedGo, config: SearchConfig, half: int, device,
                 noise: bool):
        self.search = TreeSearch(evaluator, engine.size, engine.komi, engine.max_moves, half, config, device)
        self.noise = noise

    def moves(self, engine: BatchedGo, games: torch.Tensor, mirrors: list[GoGame], rng: np.random.Generator):
        return self.search.run(engine_state(engine, games), rng, noise=self.noise).action


class _PlayerSide:
    def __init__(self, players: list[Player]):
        self.players = players

    def moves(self, engine: BatchedGo, games: torch.Tensor, mirrors: list[GoGame], rng: np.random.Generator):
        actions = torch.full((len(games),), engine.points, dtype=torch.long)
        for j, g in enumerate(games.tolist()):
            game = mirrors[g]
            if not game.over:
                actions[j] = self.players[g].select(game, None, game.legal_mask())
        return actions


def play_arena(first: Evaluator, second: Evaluator | str, games: int, size: int, komi: float, config: SearchConfig,
               seed: int, device: str | torch.device = "cpu", noise: bool = True) -> ArenaResult:
    """``games`` games (even) between a net and another net or a player spec; the first side's results.

    ``noise`` keeps the nets' Gumbel / Dirichlet root noise on, so two nets do not replay one game over and over.
    """
    if games < 2 or games % 2:
        raise UserError(f"evaluation games must be even and >= 2, got {games}")
    rng = np.random.default_rng(seed)
    engine = BatchedGo(games, size, komi, device=device)
    mirrors = [GoGame(size, komi) for _ in range(games)]
    halves = (torch.arange(0, games, 2, device=engine.device), torch.arange(1, games, 2, device=engine.device))
    net_a = _NetSide(first, engine, config, games // 2, device, noise)
    players: list[Player] = []
    if isinstance(second, str):
        try:
            for game in mirrors:
                players.append(make_player(second))
                players[-1].reset(game, np.random.default_rng(rng.integers(1 << 62)))
        except BaseException:
            for player in players:
                player.close()
            raise
        side_b: _NetSide | _PlayerSide = _PlayerSide(players)
    else:
        side_b = _NetSide(second, engine, config, games // 2, device, noise)
    try:
        ply = 0
        while not bool(engine.done.all()):
            # Ply parity is the colour to move in every unfinished game: the first side moves in the even games
            # (where it is Black) on even plies.
            mine, theirs = (halves[0], halves[1]) if ply % 2 == 0 else (halves[1], halves[0])
            actions = torch.full((games,), engine.points, dtype=torch.long, device=engine.device)
            actions[mine] = net_a.moves(engine, mine, mirrors, rng).to(engine.device)
            actions[theirs] = side_b.moves(engine, theirs, mirrors, rng).to(engine.device)
            _step(engine, mirrors, actions)
            ply += 1
    finally:
        for player in players:
            player.close()
    return _tally(mirrors)


def _step(engine: BatchedGo, mirrors: list[GoGame], actions: torch.Tensor) -> None:
    """One move in every unfinished game, on both engines; a resignation ends the mirror and the batched game."""
    resigned = []
    for g, action in enumerate(actions.tolist()):
        game = mirrors[g]
        if game.over:
            continue
        if action == RESIGN:
            game.resign()
            resigned.append(g)
        else:
            game.play(action)
    engine.step(torch.where(actions >= 0, actions, engine.points), check=False)
    if resigned:
        engine.done[resigned] = True
    over = torch.tensor([m.over for m in mirrors], device=engine.device)
    if not torch.equal(over, engine.done):
        raise RuntimeError("batched and single-game engines disagree on which games are over")


def _tally(mirrors: list[GoGame]) -> ArenaResult:
    result = ArenaResult()
    for g, game in enumerate(mirrors):
        colour = BLACK if g % 2 == 0 else 1 - BLACK
        outcome = game.outcome() * (1 if colour == BLACK else -1)
        result.games += 1
        result.by_colour[colour][2] += 1
        if outcome > 0:
            result.wins += 1
            result.by_colour[colour][0] += 1
        elif outcome == 0:
            result.draws += 1
            result.by_colour[colour][1] += 1
    return result
