"""GTP engine and client, matches (incl. an engine dying mid-match), SGF I/O, GNU Go when installed."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rllab.cli.app import app
from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame
from rllab.envs.go.env import GoLiteEnv
from rllab.envs.go.gtp_client import GtpError, GtpPlayer, format_score, parse_score
from rllab.envs.go.gtp_engine import GtpEngine
from rllab.envs.go.player_specs import make_player
from rllab.envs.go.players import HeuristicPlayer, RandomPlayer
from rllab.envs.go.sgf import load_game, save_game, to_sgf
from rllab.lab.go_match import run_match, wilson_interval

GNUGO = shutil.which("gnugo") or ("/usr/games/gnugo" if os.path.exists("/usr/games/gnugo") else None)
ENGINE_CMD = f"{sys.executable} -m rllab.cli gtp --model random"


def answers(engine: GtpEngine, *lines: str) -> list[str]:
    return [engine.handle(line) for line in lines]


def test_gtp_engine_protocol_commands():
    engine = GtpEngine(RandomPlayer(), size=9)
    out = answers(engine, "protocol_version", "7 name", "known_command genmove", "known_command fly",
                  "boardsize 5", "komi 24.5", "play b C3", "genmove w", "final_score", "undo", "undo",
                  "showboard", "list_commands")
    assert out[0] == "= 2\n\n" and out[1] == "=7 rllab\n\n"
    assert out[2] == "= true\n\n" and out[3] == "= false\n\n"
    assert out[7].startswith("= ") and len(out[7].split()[1]) >= 2   # a vertex or pass
    assert out[8].startswith("= B+") or out[8].startswith("= W+")
    assert engine.game.moves == 0                                      # two undos
    assert "A B C D E" in out[11]
    assert all(cmd in out[12] for cmd in GtpEngine.COMMANDS)
    assert engine.handle("quit") == "=\n\n" and not engine.running


def test_play_places_either_colour_to_set_up_positions():
    engine = GtpEngine(RandomPlayer(), size=5)
    assert engine.handle("play w C3") == "=\n\n"                   # White first: Black passes in between
    assert engine.handle("play w C4") == "=\n\n"
    game = engine.game
    assert game.history == [game.pass_action, game.gtp_to_action("C3"), game.pass_action, game.gtp_to_action("C4")]
    assert engine.handle("play w C3").startswith("? illegal move")   # occupied, for either colour
    assert engine.handle("play b pass") == "=\n\n"
    assert engine.handle("play b A1").startswith("? illegal move (out of turn after a pass")
    assert not engine.game.over
    assert engine.handle("genmove w").startswith("= ")


@pytest.mark.parametrize("line, message", [
    ("fly", "unknown command"), ("boardsize", "syntax error"), ("boardsize 42", "unacceptable size"),
    ("boardsize x", "unacceptable size"), ("komi seven", "syntax error"), ("komi nan", "finite"),
    ("play b", "syntax error"), ("play purple A1", "invalid color"), ("play b Z99", "invalid vertex"),
    ("genmove x", "invalid color"), ("undo", "cannot undo"), ("12", "missing command"),
])
def test_gtp_engine_malformed_input_answers_question_mark(line, message):
    engine = GtpEngine(HeuristicPlayer(), size=5)
    response = engine.handle(line)
    assert response.startswith("?") and message in response and response.endswith("\n\n")
    assert engine.running


def test_gtp_engine_survives_garbage_and_rejects_illegal_moves():
    engine = GtpEngine(RandomPlayer(), size=5)
    for line in ["\x00\x01play b", "# only a comment", "   ", "play b A1 A2 A3", "genmove", "final_score extra",
                 "\tshowboard", "play b A1", "play w A1", "known_command"]:
        response = engine.handle(line)
        assert response is None or response[0] in "=?"
    assert engine.handle("play w A1").startswith("?")                 # occupied: illegal, not a crash
    assert engine.handle("   ") is None


def test_rllab_gtp_command_over_stdin():
    result = CliRunner().invoke(app, ["gtp", "--model", "heuristic", "--size", "5"],
                                input="boardsize 5\nplay b C3\ngenmove w\nfinal_score\nbogus\nquit\n")
    assert result.exit_code == 0
    lines = [ln for ln in result.output.split("\n") if ln]
    assert lines[0] == "=" and lines[2].startswith("= ") and lines[4] == "? unknown command"


def test_gtp_client_plays_our_engine_in_a_match(tmp_path):
    remote = make_player(f"gtp:{ENGINE_CMD}")
    try:
        result = run_match(HeuristicPlayer(), remote, size=5, games=2, out_dir=tmp_path, seed=0)
    finally:
        remote.close()
    assert result.games == 2 and result.score_checks == 2
    assert result.score_agreements == 2                                  # both count Tromp-Taylor
    assert len(list(tmp_path.glob("*.sgf"))) == 2
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["games"] == 2 and 0 <= summary["ci95"][0] <= summary["ci95"][1] <= 1


def test_missing_gtp_program_is_a_clear_error():
    with pytest.raises(UserError, match="GTP program not found"):
        make_player("gtp:/no/such/engine --mode gtp")
    with pytest.raises(UserError, match="command line"):
        make_player("gtp:'unbalanced")


def _dying_engine(tmp_path: Path, commands: int) -> str:
    """A GTP engine (ours) that exits without answering after ``commands`` commands."""
    script = tmp_path / "dying_engine.py"
    script.write_text(textwrap.dedent(f"""
        import sys
        from rllab.envs.go.gtp_engine import GtpEngine
        from rllab.envs.go.players import RandomPlayer
        engine = GtpEngine(RandomPlayer(), size=5)
        for n, line in enumerate(sys.stdin):
            if n >= {commands}:
                sys.exit(3)
            response = engine.handle(line)
            if response:
                sys.stdout.write(response)
                sys.stdout.flush()
    """))
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return f"gtp:{sys.executable} {script}"


def test_match_that_loses_its_engine_keeps_finished_games(tmp_path):
    out = tmp_path / "match"
    player = make_player(_dying_engine(tmp_path, commands=200))
    try:
        result = run_match(RandomPlayer(), player, size=5, games=50, out_dir=out, seed=1)
    finally:
        player.close()
    assert result.aborted and "died" in result.aborted
    assert 0 < result.games < 50
    lines = (out / "games.jsonl").read_text().splitlines()
    assert len(lines) == result.games == len(list(out.glob("*.sgf")))
    assert json.loads((out / "summary.json").read_text())["aborted"]


def test_match_cli_reports_ci_and_rejects_bad_specs(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["match", "--black", "heuristic", "--white", "random", "--size", "5",
                                 "--games", "4", "--out", str(tmp_path / "m")])
    assert result.exit_code == 0, result.output
    assert "95% CI" in result.output and (tmp_path / "m" / "game-0004.sgf").exists()
    bad = runner.invoke(app, ["match", "--black", "nobody", "--white", "random", "--games", "1"])
    assert bad.exit_code != 0
    assert isinstance(bad.exception, UserError) or "unknown opponent" in bad.output


def test_gtp_player_errors_on_rejected_command():
    player = GtpPlayer(ENGINE_CMD.split())
    try:
        with pytest.raises(GtpError, match="rejected"):
            player.client.send("boardsize 99")
        assert player.client.send("name") == "rllab"
    finally:
        player.close()


def test_engine_players_are_named_by_their_spec():
    """Game records must tell ``gnugo:1`` from ``gnugo:10``, so an engine player carries its spec, not argv[0]."""
    spec = f"gtp:{ENGINE_CMD}"
    player = make_player(spec)
    try:
        assert player.name == spec and player.client.name != spec
    finally:
        player.close()


def test_score_strings():
    assert parse_score("B+3.5") == 3.5 and parse_score("W+2") == -2 and parse_score("0") == 0
    assert format_score(-2.5) == "W+2.5" and format_score(0) == "0"
    with pytest.raises(GtpError):
        parse_score("X+1")
    low, high = wilson_interval(10, 10)
    assert high == 1.0 and 0.65 < low < 0.75


def test_sgf_roundtrip(tmp_path):
    game = GoGame(5)
    for v in ("C3", "D4", "pass", "B2", "pass", "pass"):
        game.play(game.gtp_to_action(v))
    path = save_game(tmp_path / "g.sgf", game, black="me", white="you")
    text = path.read_text()
    assert "PB[me]" in text and "KM[24.5]" in text and "RE[" in text
    again = load_game(path)
    assert again.history == game.history and again.over and again.score() == game.score()
    assert load_game(to_sgf(game)).history == game.history


@pytest.mark.parametrize("data, match", [
    (b"not sgf at all", "malformed SGF"),
    (b"(;GM[1]FF[4]SZ[5];B[cc];B[dd])", "is by B"),
    (b"(;GM[1]FF[4]SZ[5];B[cc];W[cc])", "illegal"),
    (b"(;GM[1]FF[4]SZ[5]AB[aa];W[cc])", "setup stones"),
    (b"(;GM[1]FF[4]SZ[5]KM[abc];B[cc])", "KM"),
    (b"(;GM[1]FF[4]SZ[25];B[cc])", "board size"),
])
def test_bad_sgf_input(data, match):
    with pytest.raises(UserError, match=match):
        load_game(data)


def test_missing_sgf_file(tmp_path):
    with pytest.raises(UserError, match="not found"):
        load_game(tmp_path / "nope.sgf")


@pytest.mark.skipif(GNUGO is None, reason="GNU Go is not installed (apt-get install gnugo)")
def test_gnugo_match_and_score_cross_check(tmp_path):
    gnugo = make_player("gnugo:1")
    try:
        result = run_match(HeuristicPlayer(), gnugo, size=5, games=2, out_dir=tmp_path, seed=0)
    finally:
        gnugo.close()
    assert result.games == 2
    assert result.score_checks >= 1                      # at least one game was scored by GNU Go too
    assert result.score_agreements == result.score_checks


def test_env_with_gtp_opponent_that_dies_raises_clear_error(tmp_path):

    env = GoLiteEnv(size=5, opponent=_dying_engine(tmp_path, commands=6), agent_color="black")
    try:
        env.reset(seed=0)                                       # boardsize, clear_board, komi, set_random_seed
        with pytest.raises(GtpError, match="died"):
            for _ in range(4):                                  # play + genmove each, engine quits on the 7th
                env.step(int(env.action_masks().nonzero()[0][0]))
    finally:
        env.close()
