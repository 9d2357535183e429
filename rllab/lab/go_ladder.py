"""A rated round-robin ladder between Go players: every pair plays ``games`` games with alternating colours.

The ladder is a run directory (``config.yaml``, ``status.json``) with one match directory per pair under
``pairs/`` (SGFs and ``games.jsonl``, see :mod:`rllab.lab.go_match`). Games are played in rounds, two per pair
(one with each colour), so a ladder stopped at any point is balanced across pairs, and a rerun of the same command
continues from the games on disk (the same players, size, komi and seed; ``games`` may grow). When an engine dies
the finished games stay, the tables are written, and the error says to rerun.

Ratings: a Bradley-Terry model, P(i beats j) = 1 / (1 + exp(θj - θi)), fitted by Newton's method with one virtual
draw per pair that played (a weak prior that keeps a 100%-0% pair finite), shown on the Elo scale
(400/ln 10 per unit of θ) relative to the anchor player, whose rating is fixed. The 95% intervals are
±1.96 standard errors from the inverse of the log-likelihood's curvature with the anchor held fixed, so they are
intervals *relative to the anchor*. Draws count as half a win.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.core.runs import RunDir, slug
from rllab.envs.go.engine import MAX_SIZE, MIN_SIZE, default_komi
from rllab.envs.go.gtp_client import GtpError
from rllab.envs.go.player import Player
from rllab.lab.go_match import MatchLog, open_player, play_record, player_board_size, read_games, wilson_interval
from rllab.lab.go_parallel import GamePool, GameTask, OrderedWriter, play_tasks

ELO_PER_UNIT = 400 / math.log(10)
PRIOR_DRAWS = 1.0
CSV_FIELDS = ["rank", "player", "elo", "ci95_low", "ci95_high", "games", "wins", "draws", "losses", "score",
              "black_games", "black_score", "white_games", "white_score", "seconds_per_move"]


@dataclass
class Standing:
    """One player's totals over every pair, split by colour (scores count draws as half)."""

    player: str
    games: int = 0
    wins: int = 0
    draws: int = 0
    black_games: int = 0
    black_points: float = 0.0
    white_games: int = 0
    white_points: float = 0.0
    seconds: float = 0.0
    moves: int = 0
    elo: float = math.nan
    ci95: tuple[float, float] = (math.nan, math.nan)

    @property
    def losses(self) -> int:
        return self.games - self.wins - self.draws

    @property
    def score(self) -> float:
        return (self.wins + 0.5 * self.draws) / self.games if self.games else math.nan


@dataclass
class LadderResult:
    players: list[str]
    size: int
    komi: float
    games_per_pair: int
    anchor: str
    anchor_elo: float
    standings: list[Standing]
    # (i, j) with i < j -> [points of i, games]
    pairs: dict[tuple[int, int], list[float]] = field(default_factory=dict)
    aborted: str | None = None

    @property
    def games(self) -> int:
        return sum(int(g) for _, g in self.pairs.values())

    @property
    def planned(self) -> int:
        n = len(self.players)
        return self.games_per_pair * n * (n - 1) // 2


def bradley_terry(n_players: int, pairs: dict[tuple[int, int], list[float]], anchor: int,
                  prior: float = PRIOR_DRAWS) -> tuple[np.ndarray, np.ndarray]:
    """Strengths θ (anchor = 0) and their standard errors; NaN for players not connected to the anchor by games."""
    played = {k: v for k, v in pairs.items() if v[1] > 0}
    linked = {anchor}
    grew = True
    while grew:
        grew = False
        for i, j in played:
            if (i in linked) != (j in linked):
                linked |= {i, j}
                grew = True
    free = [i for i in sorted(linked) if i != anchor]
    theta = np.zeros(n_players)
    se = np.full(n_players, math.nan)
    se[anchor] = 0.0
    if not free:
        theta[[i for i in range(n_players) if i not in linked]] = math.nan
        return theta, se
    index = {p: k for k, p in enumerate(free)}
    cov = None
    for _ in range(200):
        grad = np.zeros(n_players)
        hess = np.zeros((n_players, n_players))
        for (i, j), (points, games) in played.items():
            if i not in linked:
                continue
            s, m = points + prior / 2, games + prior
            p = 1 / (1 + math.exp(theta[j] - theta[i]))
            grad[i] += s - m * p
            grad[j] -= s - m * p
            h = m * p * (1 - p)
            hess[i, i] += h
            hess[j, j] += h
            hess[i, j] -= h
            hess[j, i] -= h
        info = hess[np.ix_(free, free)]  # the negative Hessian (Fisher information) of the free strengths
        cov = np.linalg.inv(info)
        step = np.clip(cov @ grad[free], -3, 3)
        theta[free] += step
        if np.max(np.abs(step)) < 1e-10:
            break
    assert cov is not None
    for p in free:
        se[p] = math.sqrt(cov[index[p], index[p]])
    theta[[i for i in range(n_players) if i not in linked]] = math.nan
    return theta, se


def _tally(players: list[str], out: Path) -> tuple[list[Standing], dict[tuple[int, int], list[float]]]:
    """Totals per player and per pair from the pairs' ``games.jsonl`` files."""
    standings = [Standing(p) for p in players]
    pairs: dict[tuple[int, int], list[float]] = {}
    for i, j in _pair_indices(len(players)):
        points_i = 0.0
        records = read_games(_pair_dir(out, players, i, j))
        for r in records:
            first_black = r["game"] % 2 == 1
            black, white = (i, j) if first_black else (j, i)
            outcome = r["outcome"]
            black_points = 1.0 if outcome > 0 else (0.5 if outcome == 0 else 0.0)
            points_i += black_points if first_black else 1 - black_points
            for who, points, color in ((black, black_points, "black"), (white, 1 - black_points, "white")):
                s = standings[who]
                s.games += 1
                s.wins += points == 1.0
                s.draws += points == 0.5
                setattr(s, f"{color}_games", getattr(s, f"{color}_games") + 1)
                setattr(s, f"{color}_points", getattr(s, f"{color}_points") + points)
            standings[black].seconds += r.get("black_seconds", 0.0)
            standings[white].seconds += r.get("white_seconds", 0.0)
            standings[black].moves += (r["moves"] + 1) // 2
            standings[white].moves += r["moves"] // 2
        pairs[(i, j)] = [points_i, len(records)]
    return standings, pairs


def _pair_indices(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _pair_dir(out: Path, players: list[str], i: int, j: int) -> Path:
    return out / "pairs" / f"{i:02d}-{j:02d}_{slug(players[i])}_vs_{slug(players[j])}"


def standings_and_ratings(players: list[str], size: int, komi: float, games: int, out: Path, anchor: str,
                          anchor_elo: float = 0.0) -> LadderResult:
    """Read every pair's games and fit the ratings (no games are played)."""
    standings, pairs = _tally(players, out)
    theta, se = bradley_terry(len(players), pairs, players.index(anchor))
    for s, t, e in zip(standings, theta, se, strict=True):
        s.elo = anchor_elo + ELO_PER_UNIT * t
        s.ci95 = (s.elo - 1.96 * ELO_PER_UNIT * e, s.elo + 1.96 * ELO_PER_UNIT * e)
    return LadderResult(players, size, komi, games, anchor, anchor_elo, standings, pairs)


def _fmt(x: float, spec: str = ".0f") -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def _ranked(result: LadderResult) -> list[Standing]:
    return sorted(result.standings, key=lambda s: (-s.elo if not math.isnan(s.elo) else math.inf, s.player))


def _csv_rows(result: LadderResult) -> list[dict[str, Any]]:
    rows = []
    for rank, s in enumerate(_ranked(result), 1):
        rows.append({"rank": rank, "player": s.player, "elo": round(s.elo, 1), "ci95_low": round(s.ci95[0], 1),
                     "ci95_high": round(s.ci95[1], 1), "games": s.games, "wins": s.wins, "draws": s.draws,
                     "losses": s.losses, "score": round(s.score, 4),
                     "black_games": s.black_games,
                     "black_score": round(s.black_points / s.black_games, 4) if s.black_games else "",
                     "white_games": s.white_games,
                     "white_score": round(s.white_points / s.white_games, 4) if s.white_games else "",
                     "seconds_per_move": round(s.seconds / s.moves, 4) if s.moves else ""})
    return rows


def ladder_markdown(result: LadderResult) -> str:
    """``ladder.md``: ratings, scores by colour, the pair matrix and how to read them."""
    n = result.size
    lines = [f"# Go ladder, {n}x{n}, komi {result.komi:g}", "",
             f"{result.games} of {result.planned} games played ({result.games_per_pair} per pair, colours "
             f"alternating). Bradley-Terry ratings on the Elo scale, anchored at `{result.anchor}` = "
             f"{result.anchor_elo:g}; 95% intervals relative to the anchor; one virtual draw per pair as a prior; "
             "draws count half.", ""]
    if result.aborted:
        lines += [f"**Stopped early:** {result.aborted}. Rerun the same command to continue.", ""]
    lines += ["| rank | player | Elo | 95% CI | games | W-D-L | score | as Black | as White | ms/move |",
              "|---:|---|---:|---|---:|---|---:|---|---|---:|"]
    for rank, s in enumerate(_ranked(result), 1):
        black = f"{s.black_points / s.black_games:.0%} of {s.black_games}" if s.black_games else "–"
        white = f"{s.white_points / s.white_games:.0%} of {s.white_games}" if s.white_games else "–"
        spm = f"{1000 * s.seconds / s.moves:.1f}" if s.moves else "–"
        ci = "(anchor)" if s.player == result.anchor else f"{_fmt(s.ci95[0])} to {_fmt(s.ci95[1])}"
        lines.append(f"| {rank} | `{s.player}` | {_fmt(s.elo)} | {ci} | "
                     f"{s.games} | {s.wins}-{s.draws}-{s.losses} | {_fmt(s.score, '.1%')} | {black} | {white} | "
                     f"{spm} |")
    black_points = sum(s.black_points for s in result.standings)
    black_games = sum(s.black_games for s in result.standings)
    if black_games:
        low, high = wilson_interval(black_points, black_games)
        lines += ["", f"Black scored {black_points:g} of {black_games} games ({black_points / black_games:.1%}, "
                      f"95% CI {low:.1%}-{high:.1%})."]
    lines += ["", "## Pairs", "", "Score of the row player against the column player (games in brackets).", "",
              "| | " + " | ".join(f"`{p}`" for p in result.players) + " |",
              "|---|" + "---:|" * len(result.players)]
    for i, p in enumerate(result.players):
        cells = []
        for j in range(len(result.players)):
            if i == j:
                cells.append("")
                continue
            points, games = result.pairs.get((min(i, j), max(i, j)), [0.0, 0])
            mine = points if i < j else games - points
            cells.append(f"{mine / games:.0%} ({int(games)})" if games else "–")
        lines.append(f"| `{p}` | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _plot(result: LadderResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rated = [s for s in _ranked(result) if not math.isnan(s.elo)][::-1]
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rated) + 1.2))
    elo = [s.elo for s in rated]
    err = [[s.elo - s.ci95[0] for s in rated], [s.ci95[1] - s.elo for s in rated]]
    ax.errorbar(elo, range(len(rated)), xerr=err, fmt="o", capsize=4)
    ax.set_yticks(range(len(rated)), [s.player if len(s.player) <= 32 else s.player[:29] + "..." for s in rated])
    ax.axvline(result.anchor_elo, color="grey", lw=0.8, ls="--")
    ax.set_xlabel(f"Elo (anchor {result.anchor} = {result.anchor_elo:g}), 95% CI")
    ax.set_title(f"{result.size}x{result.size} ladder, {result.games} games")
    fig.tight_layout()
    atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=120))
    plt.close(fig)


def write_reports(result: LadderResult, out: Path) -> None:
    """``ladder.md``, ``ladder.csv`` and ``ladder.png`` in ``out``."""
    atomic.write_text(out / "ladder.md", ladder_markdown(result))
    atomic.write_csv(out / "ladder.csv", _csv_rows(result), CSV_FIELDS)
    _plot(result, out / "ladder.png")


def _check_players(players: list[str], anchor: str | None) -> str:
    if len(players) < 2:
        raise UserError(f"a ladder needs at least two players, got {players}")
    duplicates = sorted({p for p in players if players.count(p) > 1})
    if duplicates:
        raise UserError(f"player listed twice: {', '.join(duplicates)}")
    if anchor is None:
        return "gnugo:1" if "gnugo:1" in players else players[0]
    if anchor not in players:
        raise UserError(f"anchor {anchor!r} is not one of the players ({', '.join(players)})")
    return anchor


def run_ladder(players: list[str], size: int, games: int, out: Path, komi: float | None = None, seed: int = 0,
               anchor: str | None = None, anchor_elo: float = 0.0,
               on_game: Callable[[int, int, str], None] | None = None, jobs: int = 1) -> LadderResult:
    """Play (or continue) the round robin, ``jobs`` games at a time, and write the tables; ``on_game(done, total,
    pairing)`` after each game."""
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    if games < 1:
        raise UserError("--games must be at least 1 (games per pair)")
    if not isinstance(size, int) or not MIN_SIZE <= size <= MAX_SIZE:
        raise UserError(f"--size must be in {MIN_SIZE}..{MAX_SIZE}, got {size}")
    players = [p.strip() for p in players]
    anchor = _check_players(players, anchor)
    komi = default_komi(size) if komi is None else float(komi)
    opened: list[Player] = []
    try:
        for spec in players:  # every spec is checked before the first game
            player = open_player(spec, deterministic=True)
            opened.append(player)
            trained = player_board_size(player)
            if trained is not None and trained != size:
                raise UserError(f"player {spec!r} plays {trained}x{trained} boards, not {size}x{size}")
            player.name = spec
        run = RunDir.open_or_create(out, {"players": players, "size": size, "komi": komi, "seed": seed,
                                          "games_per_pair": games}, seed, ignore=("games_per_pair",))
        run.set_status("running", games_per_pair=games)
        try:
            with _terminate_as_interrupt():
                result = _play_rounds(opened, players, size, games, out, komi, seed, on_game, jobs)
        except KeyboardInterrupt:
            write_reports(standings_and_ratings(players, size, komi, games, out, anchor, anchor_elo), out)
            run.set_status("interrupted")
            raise
        final = standings_and_ratings(players, size, komi, games, out, anchor, anchor_elo)
        final.aborted = result
        write_reports(final, out)
        run.set_status("failed" if result else "finished", games=final.games, planned=final.planned)
        if result:
            raise UserError(f"ladder stopped: {result}; the {final.games} finished games are kept in {out} "
                            "(rerun the same command to continue)")
        return final
    finally:
        for player in opened:
            player.close()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM (``kill PID``, a stopped background job) ends the ladder like Ctrl-C: tables written, status set."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _pending_games(players: list[str], size: int, games: int, out: Path, komi: float,
                   seed: int) -> list[GameTask]:
    """Every game still to play, two per pair per round, so that a ladder stopped anywhere is balanced."""
    pairs = _pair_indices(len(players))
    next_game = {pair: len(read_games(_pair_dir(out, players, *pair))) for pair in pairs}
    tasks = []
    for target in range(2, games + 2, 2):
        target = min(target, games)
        for k, (i, j) in enumerate(pairs):
            for index in range(next_game[(i, j)], target):
                tasks.append(GameTask(players[i], players[j], size, komi, seed * 1_000_003 + k, index,
                                      _pair_dir(out, players, i, j), name_as_spec=True))
            next_game[(i, j)] = max(next_game[(i, j)], target)
    return tasks


def _play_rounds(opened: list[Player], players: list[str], size: int, games: int, out: Path, komi: float,
                 seed: int, on_game: Callable[[int, int, str], None] | None, jobs: int) -> str | None:
    """Play the pending games, ``jobs`` at a time; the reason when an engine died, else None."""
    tasks = _pending_games(players, size, games, out, komi, seed)
    total = games * len(_pair_indices(len(players)))
    played = total - len(tasks)
    writer = OrderedWriter({task.out_dir: MatchLog(task.out_dir, (task.first, task.second), resume=True)
                            for task in tasks})

    def count(task: GameTask, _record: dict[str, Any]) -> None:
        nonlocal played
        played += 1
        if on_game is not None:
            on_game(played, total, f"{task.first} vs {task.second}")

    if on_game is not None:
        on_game(played, total, "")
    if jobs > 1 and tasks:
        with GamePool(min(jobs, len(tasks))) as pool:
            stopped = play_tasks(pool, tasks, writer, count)
    else:
        stopped = _play_here(dict(zip(players, opened, strict=True)), tasks, writer, count)
    if stopped is None:
        return None
    task, reason = stopped
    return f"{task.first} vs {task.second}, game {task.index + 1}: {reason}"


def _play_here(by_spec: dict[str, Player], tasks: list[GameTask], writer: OrderedWriter,
               on_record: Callable[[GameTask, dict[str, Any]], None]) -> tuple[GameTask, str] | None:
    """The in-process counterpart of :func:`play_tasks`, with the players already open."""
    for task in tasks:
        try:
            record = play_record(by_spec[task.first], by_spec[task.second], task.size, task.komi, task.seed,
                                 task.index, task.out_dir)
        except GtpError as exc:
            return task, str(exc)
        for written in writer.add(task, record):
            on_record(task, written)
    return None
