"""Matches between two players with alternating colours, SGF per game and a win rate with a 95% CI.

Results are appended to ``games.jsonl`` after every game and ``summary.json`` is rewritten, so a match whose
external engine dies still records the games already played, and ``resume=True`` continues a match from its
``games.jsonl`` (every game has its own seed, so a resumed match plays the games an unbroken one would have).
Each record holds the seconds each colour spent thinking. When a player is a GTP engine, its own ``final_score``
of each finished game is recorded next to ours (a cross-check of our Tromp-Taylor count; GNU Go runs with
``--chinese-rules --capture-all-dead`` so the two should agree).
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame, default_komi
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


def play_game(black: Player, white: Player, size: int, komi: float, rng: np.random.Generator,
              clock: list[float] | None = None) -> GoGame:
    """One game; an illegal move by a player raises :class:`UserError` naming it. ``clock`` (two floats) gets the
    seconds each colour spent choosing its moves added to it."""
    game = GoGame(size, komi)
    players = (black, white)
    for player in players:
        player.reset(game, np.random.default_rng(rng.integers(1 << 62)))
    while not game.over:
        player = players[game.to_play]
        mask = game.legal_mask()
        start = time.perf_counter()
        action = player.select(game, None, mask)
        if clock is not None:
            clock[game.to_play] += time.perf_counter() - start
        if action == RESIGN:
            game.resign()
            break
        if not (0 <= action < len(mask)) or not mask[action]:
            raise UserError(f"{player.name} played an illegal move {game.action_to_gtp(action)} "
                            f"at move {game.moves + 1}")
        game.apply(action)
    return game


def _count(result: MatchResult, record: dict[str, Any]) -> None:
    """Add one finished game (a ``games.jsonl`` record) to the totals."""
    outcome = record["outcome"]
    if outcome == 0:
        result.draws += 1
    else:
        first_is_black = record["game"] % 2 == 1
        result.wins[0 if (outcome > 0) == first_is_black else 1] += 1
    if "gtp_final_score" in record:
        result.score_checks += 1
        result.score_agreements += record["score_agrees"]
    result.games += 1


def read_games(out_dir: Path) -> list[dict[str, Any]]:
    """The finished games of a match directory (``games.jsonl``), oldest first; [] when there is none yet."""
    log = out_dir / "games.jsonl"
    if not log.exists():
        return []
    records: list[dict[str, Any]] = []
    lines = log.read_text().splitlines()
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines):  # a last line cut short by a kill: that game is simply played again
                break
            raise UserError(f"{log}: line {n} is not JSON; remove the line or the directory") from None
        if "outcome" not in record or record.get("game") != len(records) + 1:
            raise UserError(f"{log}: line {n} is not game {len(records) + 1} of this match; use a new --out")
        records.append(record)
    return records


class MatchLog:
    """A match directory's ``games.jsonl`` and ``summary.json``, extended one finished game at a time.

    Each game is fsynced before the summary is rewritten, so a kill loses at most the game being played.
    """

    def __init__(self, out_dir: Path, names: tuple[str, str], resume: bool) -> None:
        out_dir.mkdir(parents=True, exist_ok=True)
        self.out_dir = out_dir
        self.result = MatchResult(names)
        self._log = out_dir / "games.jsonl"
        done = read_games(out_dir) if resume else []
        for record in done:
            _count(self.result, record)
        atomic.write_text(self._log, "".join(json.dumps(record) + "\n" for record in done))

    @property
    def played(self) -> int:
        return self.result.games

    def add(self, record: dict[str, Any]) -> None:
        """Append the next game (its ``game`` number must follow the last one)."""
        if record["game"] != self.result.games + 1:
            raise ValueError(f"game {record['game']} added after game {self.result.games}")
        _count(self.result, record)
        with open(self._log, "a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        self.write_summary()

    def write_summary(self) -> None:
        atomic.write_json(self.out_dir / "summary.json", self.result.summary())


def play_record(first: Player, second: Player, size: int, komi: float, seed: int, index: int,
                out_dir: Path) -> dict[str, Any]:
    """Play game ``index`` (0-based; ``first`` is Black in even ones), save its SGF and return its record.

    The game's randomness comes from ``(seed, index)`` alone, so a game is the same whichever process plays it
    and whatever was played before. Raises :class:`GtpError` when an engine dies.
    """
    black, white = (first, second) if index % 2 == 0 else (second, first)
    clock = [0.0, 0.0]
    game = play_game(black, white, size, komi, np.random.default_rng([seed, index]), clock)
    record: dict[str, Any] = {"game": index + 1, "black": black.name, "white": white.name,
                              "result": result_string(game), "outcome": game.outcome(), "moves": game.moves,
                              "superko": game.superko, "black_seconds": round(clock[0], 3),
                              "white_seconds": round(clock[1], 3)}
    engine = next((p for p in (black, white) if isinstance(p, GtpPlayer)), None)
    if engine is not None and game.resigned < 0 and not game.superko:
        try:
            theirs = engine.final_score(game)
            record["gtp_final_score"] = theirs
            record["score_agrees"] = math.isclose(parse_score(theirs), game.score())
        except GtpError as exc:
            record["gtp_final_score_error"] = str(exc)
    sgf_path = save_game(out_dir / f"game-{index + 1:04d}.sgf", game, black=black.name, white=white.name)
    record["sgf"] = sgf_path.name
    return record


def run_match(first: Player, second: Player, size: int, games: int, out_dir: Path, komi: float | None = None,
              seed: int = 0, on_game: Callable[[int, MatchResult], None] | None = None,
              resume: bool = False) -> MatchResult:
    """``first`` plays Black in odd-numbered games and White in the others; writes SGFs, ``games.jsonl`` and
    ``summary.json``. With ``resume`` the games already in ``out_dir/games.jsonl`` count and the match continues
    up to ``games``. :func:`rllab.lab.go_parallel.run_match_parallel` plays the same games in several processes.
    """
    if games < 1:
        raise UserError("--games must be at least 1")
    komi = default_komi(size) if komi is None else komi
    log = MatchLog(out_dir, (first.name, second.name), resume)
    for i in range(log.played, games):
        try:
            record = play_record(first, second, size, komi, seed, i, out_dir)
        except GtpError as exc:
            log.result.aborted = f"game {i + 1}: {exc}"
            break
        log.add(record)
        if on_game is not None:
            on_game(i, log.result)
    log.write_summary()
    return log.result


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
                on_game: Callable[[int, MatchResult], None] | None = None, resume: bool = False,
                jobs: int = 1) -> MatchResult:
    """:func:`run_match` between two player specs, ``jobs`` games at a time; the board size defaults to a trained
    player's own size."""
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
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
        if jobs == 1:
            return run_match(first, second, size, games, out, komi=komi, seed=seed, on_game=on_game, resume=resume)
        names = (first.name, second.name)
    finally:
        first.close()
        second.close()
    from rllab.lab.go_parallel import run_match_parallel

    return run_match_parallel(black, white, names, size, games, out, jobs, komi=komi, seed=seed,
                              deterministic=deterministic, on_game=on_game, resume=resume)
