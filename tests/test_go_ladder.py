"""The rated ladder: Bradley-Terry fit, round robin with resume, reports, dead engines, bad input; match resume."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
import stat
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_main

from rllab.core.errors import UserError
from rllab.envs.go.players import HeuristicPlayer, RandomPlayer
from rllab.lab.go_ladder import ELO_PER_UNIT, _terminate_as_interrupt, bradley_terry, run_ladder
from rllab.lab.go_match import MatchLog, match_specs, read_games, run_match
from rllab.lab.go_parallel import GameTask, OrderedWriter


def test_bradley_terry_recovers_known_strengths():
    rng = np.random.default_rng(0)
    true = np.array([0.0, 1.0, 2.5])
    pairs = {}
    for i in range(3):
        for j in range(i + 1, 3):
            games = 4000
            p = 1 / (1 + math.exp(true[j] - true[i]))
            pairs[(i, j)] = [float(rng.binomial(games, p)), games]
    theta, se = bradley_terry(3, pairs, anchor=0)
    assert theta[0] == 0 and se[0] == 0
    assert np.allclose(theta, true, atol=0.12)
    assert 0 < se[1] < 0.06 and 0 < se[2] < 0.08
    # a different anchor shifts every strength by the same amount
    theta2, _ = bradley_terry(3, pairs, anchor=1)
    assert np.allclose(theta2 - theta2[0], theta - theta[0], atol=1e-6)


def test_bradley_terry_stays_finite_on_sweeps_and_flags_unconnected_players():
    pairs = {(0, 1): [10.0, 10], (0, 2): [0.0, 0], (1, 2): [0.0, 0]}  # player 2 never played
    theta, se = bradley_terry(3, pairs, anchor=1)
    assert np.isfinite(theta[0]) and theta[0] > 2  # 10-0 with one virtual draw: large but finite
    assert np.isnan(theta[2]) and np.isnan(se[2])
    assert ELO_PER_UNIT == pytest.approx(173.72, abs=0.01)


def test_ladder_round_robin_reports_and_resume(tmp_path):
    out = tmp_path / "ladder"
    players = ["random", "heuristic", "mcts:sims=40"]
    seen = []
    result = run_ladder(players, 5, 2, out, seed=3, on_game=lambda done, total, label: seen.append((done, total)))
    assert result.games == result.planned == 6
    assert seen[-1] == (6, 6)
    pair_dirs = sorted((out / "pairs").iterdir())
    assert len(pair_dirs) == 3
    first = {d.name: read_games(d) for d in pair_dirs}
    assert all(len(r) == 2 for r in first.values())
    for records in first.values():  # colours alternate within each pair
        assert records[0]["black"] == records[1]["white"]
    assert (out / "ladder.png").stat().st_size > 1000
    md = (out / "ladder.md").read_text()
    assert "| rank | player | Elo |" in md and "`mcts:sims=40`" in md and "as Black" in md
    rows = list(csv.DictReader((out / "ladder.csv").open()))
    assert {r["player"] for r in rows} == set(players)
    anchor = next(r for r in rows if r["player"] == "random")
    assert float(anchor["elo"]) == 0.0  # no gnugo:1 here, so the first player is the anchor
    assert sum(int(r["games"]) for r in rows) == 12  # 6 games, two players each
    assert sum(int(r["black_games"]) for r in rows) == 6
    assert json.loads((out / "status.json").read_text())["state"] == "finished"

    # rerun with more games per pair: the finished games stay, two more per pair are played
    result = run_ladder(players, 5, 4, out, seed=3)
    assert result.games == 12
    for d in pair_dirs:
        records = read_games(d)
        assert len(records) == 4 and records[:2] == first[d.name]

    # the same directory with other players or another size is refused
    with pytest.raises(UserError, match="different config"):
        run_ladder(["random", "heuristic"], 5, 4, out, seed=3)
    with pytest.raises(UserError, match="different config"):
        run_ladder(players, 7, 4, out, seed=3)


@pytest.mark.parametrize("players,games,anchor,message", [
    (["random", "heuristic"], 0, None, "--games must be at least 1"),
    (["random"], 2, None, "at least two players"),
    (["random", "random"], 2, None, "listed twice"),
    (["random", "heuristic"], 2, "gnugo:1", "anchor 'gnugo:1' is not one of the players"),
    (["random", "mcts:sims=-1"], 2, None, "sims must be >= 1"),
    (["random", "mcts:bogus=1"], 2, None, "unknown option 'bogus'"),
    (["random", "nosuchplayer"], 2, None, "unknown player"),
])
def test_ladder_bad_input_is_one_clear_error(tmp_path, players, games, anchor, message):
    with pytest.raises(UserError, match=message):
        run_ladder(players, 5, games, tmp_path / "l", anchor=anchor)
    assert not (tmp_path / "l" / "pairs").exists()


def _dying_engine(tmp_path: Path, commands: int) -> str:
    """A minimal GTP engine that always passes and exits without answering after ``commands`` commands (plain
    Python, so it starts in milliseconds)."""
    script = tmp_path / "dying_engine.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        for n, line in enumerate(sys.stdin):
            if n >= {commands}:
                sys.exit(3)
            word = line.split()[0] if line.split() else ""
            answer = "pass" if word == "genmove" else ("0" if word == "final_score" else "")
            sys.stdout.write(f"= {{answer}}\\n\\n")
            sys.stdout.flush()
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"gtp:{sys.executable} {script}"


def test_ladder_keeps_finished_games_when_an_engine_dies(tmp_path):
    out = tmp_path / "ladder"
    dying = _dying_engine(tmp_path, commands=150)
    with pytest.raises(UserError, match="ladder stopped.*died.*rerun the same command"):
        run_ladder(["random", "heuristic", dying], 5, 20, out)
    played = {d.name: len(read_games(d)) for d in (out / "pairs").iterdir()}
    assert played["00-01_random_vs_heuristic"] >= 2
    assert 0 < sum(played.values()) < 60
    assert "Stopped early" in (out / "ladder.md").read_text()
    assert json.loads((out / "status.json").read_text())["state"] == "failed"


def test_ladder_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    code = run_main(["go", "ladder", "--players", "random,heuristic", "--size", "5", "--games", "2", "--out",
                     str(out)])
    assert code == 0
    assert "ladder.md" in capsys.readouterr().out
    assert (out / "ladder.csv").exists()
    assert run_main(["go", "ladder", "--players", "random,heuristic", "--games", "0", "--out", str(out)]) != 0
    assert "--games must be at least 1" in capsys.readouterr().err


def test_resumed_match_plays_the_games_an_unbroken_one_would(tmp_path):
    whole = run_match(RandomPlayer(), HeuristicPlayer(), 5, 6, tmp_path / "whole", seed=7)
    run_match(RandomPlayer(), HeuristicPlayer(), 5, 3, tmp_path / "parts", seed=7)
    resumed = run_match(RandomPlayer(), HeuristicPlayer(), 5, 6, tmp_path / "parts", seed=7, resume=True)
    assert resumed.games == 6 and resumed.wins == whole.wins and resumed.draws == whole.draws
    keys = ("game", "black", "white", "result", "moves")
    strip = [{k: r[k] for k in keys} for r in read_games(tmp_path / "whole")]
    assert [{k: r[k] for k in keys} for r in read_games(tmp_path / "parts")] == strip


def test_resume_tolerates_a_torn_last_line_and_rejects_a_foreign_log(tmp_path):
    out = tmp_path / "m"
    run_match(RandomPlayer(), RandomPlayer(), 5, 2, out, seed=1)
    log = out / "games.jsonl"
    log.write_text(log.read_text() + '{"game": 3, "bla')  # killed while writing game 3
    assert len(read_games(out)) == 2
    result = run_match(RandomPlayer(), RandomPlayer(), 5, 3, out, seed=1, resume=True)
    assert result.games == 3 and len(read_games(out)) == 3
    log.write_text('{"game": 5, "outcome": 1}\n')
    with pytest.raises(UserError, match="not game 1 of this match"):
        read_games(out)


def test_match_records_seconds_per_colour(tmp_path):
    run_match(RandomPlayer(), HeuristicPlayer(), 5, 2, tmp_path, seed=0)
    record = read_games(tmp_path)[0]
    assert record["black_seconds"] >= 0 and record["white_seconds"] >= 0 and record["outcome"] in (-1, 0, 1)


def test_match_resume_needs_the_out_directory(capsys):
    assert run_main(["match", "--black", "random", "--white", "random", "--resume"]) != 0
    assert "--resume needs the --out directory" in capsys.readouterr().err


def test_sigterm_stops_a_ladder_like_ctrl_c():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), _terminate_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
    assert signal.getsignal(signal.SIGTERM) is before


GAME_KEYS = ("game", "black", "white", "result", "moves", "outcome", "sgf")


def _games(out: Path) -> list[dict]:
    return [{k: r[k] for k in GAME_KEYS} for r in read_games(out)]


def test_a_parallel_match_writes_the_games_a_serial_one_does(tmp_path):
    serial = match_specs("mcts:sims=30", "heuristic", 5, 5, tmp_path / "serial", seed=2)
    seen = []
    parallel = match_specs("mcts:sims=30", "heuristic", 5, 5, tmp_path / "parallel", seed=2, jobs=2,
                           on_game=lambda i, r: seen.append(r.games))
    assert parallel.summary() | {"ci95": 0} == serial.summary() | {"ci95": 0}
    assert _games(tmp_path / "parallel") == _games(tmp_path / "serial")
    assert seen == [1, 2, 3, 4, 5]  # progress in game order, one call per game
    for record in read_games(tmp_path / "serial"):
        sgf = record["sgf"]
        assert (tmp_path / "parallel" / sgf).read_text() == (tmp_path / "serial" / sgf).read_text()
    assert json.loads((tmp_path / "parallel" / "summary.json").read_text())["games"] == 5
    again = match_specs("mcts:sims=30", "heuristic", 5, 5, tmp_path / "parallel", seed=2, jobs=2, resume=True)
    assert again.games == 5 and _games(tmp_path / "parallel") == _games(tmp_path / "serial")


def test_a_parallel_ladder_plays_the_games_of_a_serial_one(tmp_path):
    players = ["random", "heuristic", "mcts:sims=20"]
    serial = run_ladder(players, 5, 3, tmp_path / "serial", seed=1)
    seen = []
    parallel = run_ladder(players, 5, 3, tmp_path / "parallel", seed=1, jobs=2,
                          on_game=lambda done, total, label: seen.append(done))
    assert parallel.pairs == serial.pairs
    for pair in sorted((tmp_path / "serial" / "pairs").iterdir()):
        assert _games(tmp_path / "parallel" / "pairs" / pair.name) == _games(pair)
    assert seen == list(range(10))


def test_ordered_writer_holds_back_a_game_that_finished_early(tmp_path):
    log = MatchLog(tmp_path, ("a", "b"), resume=False)
    writer = OrderedWriter({tmp_path: log})

    def task(index: int) -> GameTask:
        return GameTask("a", "b", 5, 24.5, 0, index, tmp_path)

    def record(index: int) -> dict:
        (tmp_path / f"g{index}.sgf").write_text("(;)")
        return {"game": index + 1, "outcome": 1, "sgf": f"g{index}.sgf"}

    assert writer.add(task(1), record(1)) == []
    assert writer.add(task(2), record(2)) == []
    assert [r["game"] for r in writer.add(task(0), record(0))] == [1, 2, 3]
    assert writer.add(task(4), record(4)) == []
    writer.discard_waiting()  # game 4 (index 3) never finished: game 5 is dropped and will be replayed
    assert [r["game"] for r in read_games(tmp_path)] == [1, 2, 3]
    assert not (tmp_path / "g4.sgf").exists() and (tmp_path / "g2.sgf").exists()


def test_a_parallel_ladder_keeps_finished_games_when_an_engine_dies(tmp_path):
    out = tmp_path / "ladder"
    dying = _dying_engine(tmp_path, commands=150)
    with pytest.raises(UserError, match="ladder stopped.*game.*rerun the same command"):
        run_ladder(["random", "heuristic", dying], 5, 20, out, jobs=2)
    played = {d.name: read_games(d) for d in (out / "pairs").iterdir()}
    assert 0 < sum(len(r) for r in played.values()) < 60
    for records in played.values():  # each log is whole games in order, with their SGFs
        assert [r["game"] for r in records] == list(range(1, len(records) + 1))
        assert all((out / "pairs" / d / r["sgf"]).exists() for d, rs in played.items() for r in rs)
    assert json.loads((out / "status.json").read_text())["state"] == "failed"


@pytest.mark.parametrize("command", [
    ["match", "--black", "random", "--white", "random", "--jobs", "0"],
    ["go", "ladder", "--players", "random,heuristic", "--jobs", "0"],
])
def test_jobs_below_one_is_a_clear_error(command, tmp_path, capsys):
    assert run_main([*command, "--out", str(tmp_path / "x")]) != 0
    assert "--jobs must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x" / "pairs").exists()
