"""Matches between two players with alternating colours, SGF per game and a win rate with a 95% CI.

Results are appended to ``games.jsonl`` after every game and ``summary.json`` is rewritten, so a match whose
external engine dies still records the games already played. When a player is a GTP engine, its own
``final_score`` of each finished game is recorded next to ours (a cross-check of our Tromp-Taylor count; GNU Go
runs with ``--chinese-rules --capture-all-dead`` so the two should agree).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.envs.go.engine import BLACK, WHITE, GoGame, default_komi
from rllab.envs.go.gtp_client import GtpError, GtpPlayer, parse_score
from rllab.envs.go.player import RESIGN, Player
from rllab.envs.go.player_specs import make_player
from rllab.envs.go.sgf import result_string, save_game


def wilson_interval(successes: float, n: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval for a proportion (sensible at 0% and 100%, unlike the normal one)."""
    if n == 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


@dataclass
class MatchResult:
    names: tuple[str, str]
    wins: list[int] = field(default_factory=lambda: [0, 0])
    draws: int = 0
    games: int = 0
    score_checks: int = 0
    score_agreements: int = 0
    aborted: str | None = None

    @property
    def win_rate(self) -> float:
        """First player's score rate, draws counted as half a win."""
        return (self.wins[0] + 0.5 * self.draws) / self.games if self.games else math.nan

    def summary(self) -> dict[str, Any]:
        low, high = wilson_interval(self.wins[0] + 0.5 * self.draws, self.games)
        return {"players": list(self.names), "games": self.games, "wins": self.wins, "draws": self.draws,
                "win_rate": self.win_rate, "ci95": [low, high], "score_checks": self.score_checks,
                "score_agreements": self.score_agreements, "aborted": self.aborted}


def play_game(black: Player, white: Player, size: int, komi: float, rng: np.random.Generator) -> GoGame:
    """One game; an illegal move by a player raises :class:`UserError` naming it."""
    game = GoGame(size, komi)
    players = (black, white)
    for player in players:
        player.reset(game, np.random.default_rng(rng.integers(1 << 62)))
    while not game.over:
        player = players[game.to_play]
        mask = game.legal_mask()
        action = player.select(game, None, mask)
        if action == RESIGN:
            game.resign()
            break
        if not (0 <= action < len(mask)) or not mask[action]:
            raise UserError(f"{player.name} played an illegal move {game.action_to_gtp(action)} "
                            f"at move {game.moves + 1}")
        game.apply(action)
    return game


def run_match(first: Player, second: Player, size: int, games: int, out_dir: Path, komi: float | None = None,
              seed: int = 0, on_game: Callable[[int, MatchResult], None] | None = None) -> MatchResult:
    """``first`` plays Black in even games and White in odd ones; writes SGFs, ``games.jsonl``, ``summary.json``."""
    if games < 1:
        raise UserError("--games must be at least 1")
    komi = default_komi(size) if komi is None else komi
    out_dir.mkdir(parents=True, exist_ok=True)
    result = MatchResult((first.name, second.name))
    rng = np.random.default_rng(seed)
    log = out_dir / "games.jsonl"
    log.write_text("")
    for i in range(games):
        black, white = (first, second) if i % 2 == 0 else (second, first)
        try:
            game = play_game(black, white, size, komi, rng)
        except GtpError as exc:
            result.aborted = f"game {i + 1}: {exc}"
            break
        outcome = game.outcome()
        first_color = BLACK if i % 2 == 0 else WHITE
        record: dict[str, Any] = {"game": i + 1, "black": black.name, "white": white.name,
                                  "result": result_string(game), "moves": game.moves, "superko": game.superko}
        if outcome == 0:
            result.draws += 1
        else:
            winner_is_first = (outcome > 0) == (first_color == BLACK)
            result.wins[0 if winner_is_first else 1] += 1
        engine = next((p for p in (black, white) if isinstance(p, GtpPlayer)), None)
        if engine is not None and game.resigned < 0 and not game.superko:
            try:
                theirs = engine.final_score(game)
                record["gtp_final_score"] = theirs
                result.score_checks += 1
                result.score_agreements += math.isclose(parse_score(theirs), game.score())
            except GtpError as exc:
                record["gtp_final_score_error"] = str(exc)
        sgf_path = save_game(out_dir / f"game-{i + 1:04d}.sgf", game, black=black.name, white=white.name)
        record["sgf"] = sgf_path.name
        result.games += 1
        with open(log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        atomic.write_json(out_dir / "summary.json", result.summary())
        if on_game is not None:
            on_game(i, result)
    atomic.write_json(out_dir / "summary.json", result.summary())
    return result


def player_board_size(player: Player) -> int | None:
    """The board size a trained player was built for (its input layer fixes it), or None for any size."""
    shape = getattr(player, "obs_shape", None)
    return int(shape[1]) if shape else None


def open_player(spec: str, deterministic: bool) -> Player:
    """A player for a match or a GTP engine (``self`` is a training opponent, not a player one can face)."""
    if spec == "self":
        raise UserError("'self' is a training opponent; name a run directory instead")
    return make_player(spec, deterministic=deterministic)


def match_specs(black: str, white: str, size: int | None, games: int, out: Path, komi: float | None = None,
                seed: int = 0, deterministic: bool = True,
                on_game: Callable[[int, MatchResult], None] | None = None) -> MatchResult:
    """:func:`run_match` between two player specs; the board size defaults to a trained player's own size."""
    first = open_player(black, deterministic)
    try:
        second = open_player(white, deterministic)
    except UserError:
        first.close()
        raise
    try:
        trained = {s for s in (player_board_size(first), player_board_size(second)) if s is not None}
        if size is None:
            if len(trained) > 1:
                raise UserError(f"the two models play different board sizes ({sorted(trained)})")
            size = trained.pop() if trained else 7
        for player in (first, second):
            check = getattr(player, "check_size", None)
            if check is not None:
                check(size)
        return run_match(first, second, size, games, out, komi=komi, seed=seed, on_game=on_game)
    finally:
        first.close()
        second.close()
