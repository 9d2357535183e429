"""The compiled Go core and the ``mcts`` player: exact rules vs GoGame, playouts, search, specs, env/GTP use."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import run_main

from rllab.core.errors import UserError
from rllab.envs.go import fast
from rllab.envs.go.engine import GoGame
from rllab.envs.go.env import GoLiteEnv
from rllab.envs.go.gtp_engine import GtpEngine
from rllab.envs.go.mcts import MctsConfig, MctsPlayer
from rllab.envs.go.player import RESIGN
from rllab.envs.go.player_specs import make_player
from rllab.envs.go.players import RandomPlayer
from rllab.lab.bench.go_rules import crosscheck_fast
from rllab.lab.go_match import run_match


def play_gtp(game: GoGame, *vertices: str) -> None:
    for v in vertices:
        game.play(game.gtp_to_action(v))


@pytest.mark.parametrize("size,games", [(2, 300), (3, 200), (5, 60), (7, 30), (9, 20), (19, 2)])
def test_compiled_board_matches_gogame_move_for_move(size, games):
    result = crosscheck_fast(size, games, seed=100 + size)
    assert result.games == games
    assert result.differences == 0, result.examples
    assert result.capped_games > 0  # the no-pass half of the games runs into the 2N² cap
    if size <= 3:
        assert result.superko_games > 0  # positional-superko draws happen on tiny boards


def test_compiled_board_captures_ko_and_suicide():
    game = GoGame(5)
    # Black: B3 C2 C4; White: C3 D2 D4 E3 -> black D3 captures C3; white may not retake at once.
    play_gtp(game, "B3", "C3", "C2", "D2", "C4", "D4", "pass", "E3", "D3")
    board = fast.board_from_game(game)
    assert board.captures == game.captures == (1, 0)
    assert board.ko == game.ko == game.gtp_to_action("C3")
    assert not fast.legal_mask(board)[game.gtp_to_action("C3")]
    with pytest.raises(ValueError, match="illegal"):
        board.play(game.gtp_to_action("C3"))
    with pytest.raises(ValueError, match="action must be"):
        board.play(26)


def test_playouts_end_with_a_result_and_leave_the_board_alone():
    board = fast.new_board(9, 7.5)
    for light in (True, False):
        result, moves = board.playout(seed=3, light=light)
        assert result in (0.0, 0.5, 1.0) and moves > 20
    assert board.moves == 0 and fast.colors(board).sum() == 0
    assert board.playout(seed=5) == board.playout(seed=5)  # seeded
    wins, moves = board.playouts(200, seed=1)
    assert 0 < wins < 200 and moves > 200 * 20


def test_light_playouts_know_that_a_living_group_lives():
    # 5x5, White owns the right two columns with two eyes (E2, E4); Black owns the rest: with komi 0.5 Black wins
    # every light playout (nobody fills its own eyes), while uniform random playouts let Black lose now and then.
    game = GoGame(5, komi=0.5)
    black = ["A3", "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C3", "C4", "C5"]
    white = ["D1", "D2", "D3", "D4", "D5", "E1", "E3", "E5"]
    for b, w in zip(black, white + ["pass"] * (len(black) - len(white)), strict=True):
        play_gtp(game, b, w)
    board = fast.board_from_game(game)
    light, _ = board.playouts(300, seed=2, light=True)
    uniform, _ = board.playouts(300, seed=2, light=False)
    assert light == 300
    assert uniform < light


def test_shape_table_knows_a_hane_and_not_an_empty_board():
    game = GoGame(9)
    play_gtp(game, "E5", "E6")
    board = fast.board_from_game(game)
    # Black E5, White E6: Black D6 is the hane at the head of White's stone.
    assert fast.core().shape_at(board, game.gtp_to_action("D6"))
    assert not fast.core().shape_at(board, game.gtp_to_action("A9"))
    assert not fast.core().shape_match(0)  # all-empty neighbourhood


def test_search_captures_a_big_group_in_atari():
    game = GoGame(7, komi=0.5)
    # White's four stones on the C file are in atari at C5; Black to play.
    play_gtp(game, "B1", "C1", "B2", "C2", "B3", "C3", "B4", "C4", "D1", "G7", "D2", "G6", "D3", "G5", "D4", "G4")
    player = MctsPlayer(MctsConfig(sims=400, resign=0))
    player.reset(game, np.random.default_rng(0))
    assert player.select(game, None, game.legal_mask()) == game.gtp_to_action("C5")
    assert player.last_search["win_rate"] > 0.8


def test_search_passes_to_win_after_the_opponent_passes():
    # Black owns three columns with two eyes, White two columns with two eyes; White has just passed.
    game = GoGame(5, komi=0.5)
    black = ["A2", "A4", "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C3", "C4", "C5"]
    white = ["D1", "D2", "D3", "D4", "D5", "E1", "E3", "E5"]
    for b, w in zip(black, white + ["pass"] * (len(black) - len(white)), strict=True):
        play_gtp(game, b, w)
    assert game.history[-1] == game.pass_action and game.to_play == 0
    player = MctsPlayer(MctsConfig(sims=300))
    player.reset(game, np.random.default_rng(0))
    assert player.select(game, None, game.legal_mask()) == game.pass_action


def test_search_resigns_a_lost_game_and_respects_the_threshold():
    game = GoGame(5, komi=0.5)
    white = ["A2", "A4", "B1", "B2", "B3", "B4", "B5", "C1", "C2", "C3", "C4", "C5"]
    black = ["D1", "D2", "D3", "D4", "D5", "E1", "E3", "E5"]
    for b, w in zip(black + ["pass"] * (len(white) - len(black)), white, strict=True):
        play_gtp(game, b, w)
    assert game.to_play == 0  # Black, hopelessly behind
    for resign, expect_resign in ((0.1, True), (0.0, False)):
        player = MctsPlayer(MctsConfig(sims=400, resign=resign))
        player.reset(game, np.random.default_rng(0))
        action = player.select(game, None, game.legal_mask())
        assert (action == RESIGN) is expect_resign


def test_tree_is_reused_after_the_opponent_replies():
    game = GoGame(7)
    player = MctsPlayer(MctsConfig(sims=2000, early_stop=False))
    player.reset(game, np.random.default_rng(1))
    action = player.select(game, None, game.legal_mask())
    game.play(action)
    kept = player.tree.nodes
    assert kept > 1 and player.tree.root_visits > 0  # the subtree below our move survives
    reply = max(player.tree.root_stats(), key=lambda row: row[1])[0]
    game.play(reply)
    tree = player._sync(game)
    assert tree is player.tree and tree.root_visits > 0  # ... and the one below the reply, too


def test_a_game_that_does_not_continue_the_searched_one_gets_a_fresh_tree():
    game = GoGame(5)
    player = MctsPlayer(MctsConfig(sims=100))
    player.reset(game, np.random.default_rng(1))
    player.select(game, None, game.legal_mask())
    other = GoGame(5)
    play_gtp(other, "A1")
    tree = player._sync(other)
    assert tree.root_visits == 0 and tree.root_board().moves == 1


def test_mcts_self_play_on_tiny_boards_stays_legal(tmp_path):
    # 3x3 games run into superko repetitions and the move cap; every move must stay legal for GoGame.
    for seed in range(4):
        result = run_match(MctsPlayer(MctsConfig(sims=60)), MctsPlayer(MctsConfig(sims=60)), 3, 2,
                           out_dir=tmp_path / str(seed), seed=seed)
        assert result.games == 2


def test_mcts_beats_random(tmp_path):
    result = run_match(make_player("mcts:sims=300"), RandomPlayer(), 7, 4, tmp_path, seed=0)
    assert result.wins == [4, 0]


def test_evaluator_mode_uses_priors_and_values(tmp_path):
    calls = []

    def evaluator(board, moves):
        calls.append(len(moves))
        priors = np.ones(board.size * board.size + 1, dtype=np.float32)
        wins, _ = board.playouts(16, seed=len(calls))
        value = wins / 16 if board.to_play == 0 else 1 - wins / 16
        return priors, value

    player = MctsPlayer(MctsConfig(sims=200, puct=1.0, rave=0), evaluator=evaluator)
    game = GoGame(7, komi=0.5)
    play_gtp(game, "B1", "C1", "B2", "C2", "B3", "C3", "B4", "C4", "D1", "G7", "D2", "G6", "D3", "G5", "D4", "G4")
    player.reset(game, np.random.default_rng(0))
    assert player.select(game, None, game.legal_mask()) == game.gtp_to_action("C5")
    assert len(calls) > 50 and max(calls) > len(game.history)  # leaves below the root were evaluated


def test_tree_leaf_api_rejects_misuse():
    tree = fast.core().Tree(fast.new_board(5, 0.5))
    with pytest.raises(ValueError, match="no pending leaf"):
        tree.expand_leaf(None, 0.5)
    board, path = tree.select_leaf()
    assert path == [] and board.moves == 0
    with pytest.raises(ValueError, match="float32 array of 26"):
        tree.expand_leaf(np.ones(5, dtype=np.float32), 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tree.expand_leaf(None, 1.5)
    tree.expand_leaf(np.ones(26, dtype=np.float32), 0.5)
    assert tree.root_visits == 1 and len(tree.root_stats()) == 26
    with pytest.raises(ValueError, match="sims > 0 or seconds > 0"):
        tree.search()


@pytest.mark.parametrize("spec,message", [
    ("mcts:sims=-1", "sims must be >= 1"),
    ("mcts:sims=0", "sims must be >= 1"),
    ("mcts:sims=abc", "is not a int"),
    ("mcts:time=-2", "time must be >= 0.001"),
    ("mcts:time=inf", "finite"),
    ("mcts:simz=10", "unknown option 'simz'.*sims"),
    ("mcts:500", "key=value options"),
    ("mcts:resign=1", r"resign must be a win rate in \[0, 1\)"),
    ("mcts:reuse=maybe", "is not a flag"),
    ("openspiel-mcts:sims=-1", "sims must be >= 1"),
    ("openspiel-mcts:depth=3", "unknown option 'depth'"),
])
def test_bad_search_specs_are_one_clear_error(spec, message):
    with pytest.raises(UserError, match=message):
        make_player(spec)


def test_good_specs_build_the_configured_player():
    player = make_player("mcts:sims=123:time=2.5:resign=0:reuse=0:rave=0:light=0")
    assert isinstance(player, MctsPlayer)
    c = player.config
    assert (c.sims, c.time, c.resign, c.reuse, c.rave, c.light) == (123, 2.5, 0.0, False, 0.0, False)
    assert c.budget() == (123, 2.5)
    assert make_player("mcts:time=1").config.budget() == (0, 1.0)
    assert make_player("mcts").config.budget() == (2000, 0.0)


def test_mcts_as_env_opponent():
    env = GoLiteEnv(size=5, opponent="mcts:sims=30", agent_color="black")
    obs, info = env.reset(seed=0)
    done, steps = False, 0
    while not done:
        legal = np.flatnonzero(env.action_masks())
        obs, reward, done, _, info = env.step(int(legal[0]))
        steps += 1
    assert info["outcome"] in (-1, 0, 1) and steps > 1
    env.close()


def test_mcts_behind_gtp(capsys):
    engine = GtpEngine(make_player("mcts:sims=50"), size=5)
    assert engine.handle("boardsize 7").startswith("=")
    assert engine.handle("play b D4").startswith("=")
    reply = engine.handle("genmove w")
    assert reply.startswith("= ") and engine.game.moves == 2
    assert run_main(["gtp", "--model", "mcts:sims=-1"]) != 0
    assert "sims must be >= 1" in capsys.readouterr().err


def test_openspiel_mcts_plays_legal_moves():
    pytest.importorskip("pyspiel")
    player = make_player("openspiel-mcts:sims=30")
    game = GoGame(5)
    player.reset(game, np.random.default_rng(0))
    for _ in range(6):
        action = player.select(game, None, game.legal_mask())
        game.play(action)
    assert game.moves == 6


def test_missing_extension_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(fast, "_fastgo", None)
    with pytest.raises(UserError, match="pip install -e"):
        make_player("mcts:sims=10")


def test_playout_bench_rows_count_playouts_for_every_backend():
    pytest.importorskip("pyspiel")
    from rllab.lab.bench.go import PLAYOUT_BACKENDS, playout_rate

    for backend in PLAYOUT_BACKENDS:
        rate = playout_rate(backend, 5, 0.05)
        assert rate.unit == "playouts" and rate.moves > 0 and rate.per_cpu_s > 0
