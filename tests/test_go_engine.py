"""Go-lite rules engine: OpenSpiel agreement, ko/suicide/superko/scoring cases, bad input."""

from __future__ import annotations

import pytest

from rllab.core.errors import UserError
from rllab.envs.go.engine import BLACK, WHITE, GoGame, default_komi
from rllab.lab.bench.go_rules import crosscheck

pytest.importorskip("pyspiel")


def play_gtp(game: GoGame, *vertices: str) -> None:
    for v in vertices:
        game.play(game.gtp_to_action(v))


@pytest.mark.parametrize("size", [5, 7, 9])
def test_matches_openspiel_legal_sets_and_returns(size):
    result = crosscheck(size, games=50, seed=size)
    assert result.games == 50
    assert result.positions > 50 * size
    assert result.differences == 0, result.examples
    assert result.capped_games > 0  # the no-pass half of the games reaches the 2N² cap


def test_superko_draws_match_openspiel_on_tiny_boards():
    result = crosscheck(2, games=200, seed=0)
    assert result.differences == 0, result.examples
    assert result.superko_games > 0


def test_default_komi_per_size():
    assert [default_komi(n) for n in (5, 7, 9, 13)] == [24.5, 8.5, 7.5, 7.5]
    assert GoGame(7).komi == 8.5
    assert GoGame(7, komi=9).komi == 9.0
    assert GoGame(9).max_moves == 162


def test_capture_removes_stones_and_counts():
    g = GoGame(5)
    play_gtp(g, "A2", "A1", "B1")                    # black B1 takes white A1's last liberty
    assert g.color_at(g.gtp_to_action("A1")) == -1
    assert g.captures == (1, 0)
    assert g.is_legal(g.gtp_to_action("A1")) is False  # white A1 again would be suicide


def test_suicide_is_illegal_but_capturing_is_legal():
    g = GoGame(5)
    play_gtp(g, "A2", "pass", "B1")                  # white to play: A1 would be suicide
    assert not g.is_legal(g.gtp_to_action("A1"))
    with pytest.raises(UserError, match="illegal"):
        g.play(g.gtp_to_action("A1"))


def test_simple_ko_bans_immediate_retake_only():
    g = GoGame(5)
    # Black: B3 C2 C4; White: C3 D2 D4 E3 -> black D3 captures C3, white may not retake at C3 at once.
    play_gtp(g, "B3", "C3", "C2", "D2", "C4", "D4", "pass", "E3", "D3")
    c3 = g.gtp_to_action("C3")
    assert g.color_at(c3) == -1 and g.ko == c3
    assert not g.is_legal(c3)
    play_gtp(g, "A5", "A4")                          # a move elsewhere by each side lifts the ban
    assert g.is_legal(c3)


def test_two_passes_end_and_score_tromp_taylor():
    g = GoGame(5, komi=0.5)
    play_gtp(g, "C3", "pass", "pass")
    assert g.over and g.area_delta() == 25 and g.outcome() == 1
    assert g.returns() == (1.0, -1.0)
    with pytest.raises(UserError, match="over"):
        g.play(0)


def test_clone_is_independent():
    g = GoGame(7)
    play_gtp(g, "D4", "C3")
    c = g.clone()
    play_gtp(c, "E5")
    assert g.moves == 2 and c.moves == 3
    assert g.color_at(g.gtp_to_action("E5")) == -1
    assert g.legal_actions() != c.legal_actions()


def test_planes_and_mask_shapes():
    g = GoGame(5)
    play_gtp(g, "A1")
    planes = g.planes()
    assert planes.shape == (2, 5, 5) and planes[BLACK, 0, 0] == 1 and planes[WHITE].sum() == 0
    mask = g.legal_mask()
    assert mask.dtype == bool and mask.shape == (26,) and not mask[0] and mask[25]


@pytest.mark.parametrize("size", [1, 20, "7", 7.0, True])
def test_bad_board_sizes(size):
    with pytest.raises(UserError, match="board size"):
        GoGame(size)


@pytest.mark.parametrize("action", [-1, 26, 2.0, "3", None, True])
def test_bad_actions(action):
    with pytest.raises(UserError, match="action"):
        GoGame(5).play(action)


@pytest.mark.parametrize("vertex", ["Z1", "A0", "A6", "I3", "", "11", "A"])
def test_bad_vertices(vertex):
    with pytest.raises(UserError):
        GoGame(5).gtp_to_action(vertex)


def test_max_moves_validation_and_cap():
    with pytest.raises(UserError, match="max_moves"):
        GoGame(5, max_moves=1)
    g = GoGame(5, max_moves=3)
    play_gtp(g, "A1", "B1", "C1")
    assert g.over and not g.superko


def test_resign_decides_outcome():
    g = GoGame(5)
    play_gtp(g, "C3")
    g.resign()                                        # white resigns
    assert g.over and g.outcome() == 1


def test_repeats_position_predicts_superko_exactly():
    import random

    rng = random.Random(0)
    repeats = 0
    for _ in range(120):
        g = GoGame(3)
        while not g.over:
            for a in g.legal_actions()[:-1]:
                after = g.clone()
                after.apply(a)
                assert g.repeats_position(a) == after.superko
                repeats += after.superko
            g.play(rng.choice(g.legal_actions()))
    assert repeats > 0
