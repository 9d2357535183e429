"""Go games played several at a time, one per worker process, for matches and ladders on multi-core machines.

A search player uses one core, so on N cores N games at once finish a series about N times sooner. Each worker
opens a player from its spec the first time it needs it and keeps it for later games (GNU Go stays one process,
a network is loaded once). Every game draws its randomness from ``(seed, game index)`` alone
(:func:`rllab.lab.go_match.play_record`), so ``jobs=4`` writes the same games as ``jobs=1`` for players without
time limits; the parent writes each match's ``games.jsonl`` in game order, holding back a game that finishes
before an earlier one. Workers are spawned (not forked), ignore Ctrl-C (the parent handles it) and run one torch
thread each. Time-limited players (``mcts:time=S``) think for wall-clock seconds, so more jobs than free cores
weakens them. A script that calls these functions needs the usual ``if __name__ == "__main__":`` guard, since
spawned workers import the script's main module.
"""

from __future__ import annotations

import multiprocessing
import signal
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rllab.core.device import limit_cpu_threads
from rllab.core.errors import UserError
from rllab.envs.go.engine import default_komi
from rllab.envs.go.gtp_client import GtpError
from rllab.envs.go.player import Player
from rllab.lab.go_match import MatchLog, MatchResult, open_player, play_record


@dataclass(frozen=True)
class GameTask:
    """One game of one match, as a worker needs it: the two specs and everything that fixes the game."""

    first: str
    second: str
    size: int
    komi: float
    seed: int
    index: int
    out_dir: Path
    deterministic: bool = True
    name_as_spec: bool = False


_players: dict[tuple[str, bool, bool], Player] = {}


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_cpu_threads(1)


def _worker_player(spec: str, deterministic: bool, name_as_spec: bool) -> Player:
    key = (spec, deterministic, name_as_spec)
    if key not in _players:
        player = open_player(spec, deterministic)
        if name_as_spec:
            player.name = spec
        _players[key] = player
    return _players[key]


def _play(task: GameTask) -> tuple[GameTask, str, Any]:
    """Runs in a worker: ``(task, "ok", record)``, ``(task, "engine", message)`` or ``(task, "error", exc)``."""
    try:
        first = _worker_player(task.first, task.deterministic, task.name_as_spec)
        second = _worker_player(task.second, task.deterministic, task.name_as_spec)
        return task, "ok", play_record(first, second, task.size, task.komi, task.seed, task.index, task.out_dir)
    except GtpError as exc:
        for key in [k for k in _players if k[0] in (task.first, task.second)]:
            _players.pop(key).close()  # a dead engine is reopened for the next game
        return task, "engine", str(exc)
    except Exception as exc:
        return task, "error", exc


class GamePool:
    """``jobs`` worker processes playing :class:`GameTask` s; use as a context manager (workers are killed on
    exit, so an interrupted series leaves no process behind)."""

    def __init__(self, jobs: int) -> None:
        if jobs < 1:
            raise UserError(f"--jobs must be at least 1, got {jobs}")
        self._pool = multiprocessing.get_context("spawn").Pool(jobs, initializer=_init_worker)

    def __enter__(self) -> GamePool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._pool.terminate()
        self._pool.join()

    def play(self, tasks: Iterable[GameTask]) -> Iterator[tuple[GameTask, str, Any]]:
        """Results in the order games finish; tasks start in the order given."""
        return self._pool.imap_unordered(_play, list(tasks), chunksize=1)


class OrderedWriter:
    """Writes finished games to their matches' logs in game order, holding back games that finished early."""

    def __init__(self, logs: dict[Path, MatchLog]) -> None:
        self.logs = logs
        self._waiting: dict[Path, dict[int, dict[str, Any]]] = {out: {} for out in logs}

    def add(self, task: GameTask, record: dict[str, Any]) -> list[dict[str, Any]]:
        """Store one game; return the records written now (possibly none, possibly several)."""
        waiting = self._waiting[task.out_dir]
        waiting[task.index] = record
        log = self.logs[task.out_dir]
        written = []
        while log.played in waiting:
            record = waiting.pop(log.played)
            log.add(record)
            written.append(record)
        return written

    def discard_waiting(self) -> None:
        """Forget games that finished after a game that did not (their SGFs too): a rerun plays them again."""
        for out, waiting in self._waiting.items():
            for record in waiting.values():
                (out / record["sgf"]).unlink(missing_ok=True)
            waiting.clear()


def play_tasks(pool: GamePool, tasks: list[GameTask], writer: OrderedWriter,
               on_record: Callable[[GameTask, dict[str, Any]], None] | None = None) -> tuple[GameTask, str] | None:
    """Play ``tasks`` and write them in order; returns the game and the reason when an engine died, else None.

    An error in a game (an illegal move, say) is raised here after the games before it are written.
    """
    try:
        for task, kind, payload in pool.play(tasks):
            if kind == "ok":
                for record in writer.add(task, payload):
                    if on_record is not None:
                        on_record(task, record)
            elif kind == "engine":
                return task, payload
            else:
                raise payload
        return None
    finally:
        writer.discard_waiting()


def run_match_parallel(first: str, second: str, names: tuple[str, str], size: int, games: int, out_dir: Path,
                       jobs: int, komi: float | None = None, seed: int = 0, deterministic: bool = True,
                       on_game: Callable[[int, MatchResult], None] | None = None,
                       resume: bool = False) -> MatchResult:
    """:func:`rllab.lab.go_match.run_match` between two player specs, ``jobs`` games at a time."""
    if games < 1:
        raise UserError("--games must be at least 1")
    komi = default_komi(size) if komi is None else komi
    log = MatchLog(out_dir, names, resume)
    tasks = [GameTask(first, second, size, komi, seed, i, out_dir, deterministic)
             for i in range(log.played, games)]

    def progress(task: GameTask, record: dict[str, Any]) -> None:
        if on_game is not None:
            on_game(record["game"] - 1, log.result)

    if tasks:
        with GamePool(min(jobs, len(tasks))) as pool:
            stopped = play_tasks(pool, tasks, OrderedWriter({out_dir: log}), progress)
        if stopped is not None:
            log.result.aborted = f"game {stopped[0].index + 1}: {stopped[1]}"
    log.write_summary()
    return log.result
