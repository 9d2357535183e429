"""SGF records of games (via sgfmill): write every finished game, read a record back into a :class:`GoGame`.

Results follow SGF: ``B+3.5``, ``W+R`` (resignation), ``B+F`` (forfeit by an illegal move), ``0`` (draw, e.g.
a positional-superko repetition, noted in the comment). sgfmill's coordinates are (row, col) with row 0 at the
bottom, like our action numbering.
"""

from __future__ import annotations

import os
from pathlib import Path

from sgfmill import sgf

from rllab.core import atomic
from rllab.core.errors import UserError
from rllab.envs.go.engine import BLACK, GoGame, default_komi


def result_string(game: GoGame, forfeit: int | None = None) -> str:
    """SGF ``RE`` value for a finished game (``forfeit`` = the colour that lost by an illegal move)."""
    if forfeit is not None:
        return "W+F" if forfeit == BLACK else "B+F"
    if not game.over:
        return "?"
    if game.resigned >= 0:
        return "W+R" if game.resigned == BLACK else "B+R"
    if game.superko:
        return "0"
    score = game.score()
    return "0" if score == 0 else f"{'B' if score > 0 else 'W'}+{abs(score):g}"


def to_sgf(game: GoGame, black: str = "black", white: str = "white", forfeit: int | None = None) -> bytes:
    """The game as SGF bytes (FF[4], GM[1], Tromp-Taylor area scoring noted in RU)."""
    record = sgf.Sgf_game(size=game.size)
    root = record.get_root()
    root.set("KM", game.komi)
    root.set("PB", black)
    root.set("PW", white)
    root.set("RU", "Tromp-Taylor (area, simple ko, positional superko ends the game as a draw)")
    root.set("RE", result_string(game, forfeit))
    if game.superko:
        root.set("C", "Game ended by a whole-board repetition (positional superko): draw.")
    for i, action in enumerate(game.history):
        node = record.extend_main_sequence()
        color = "b" if i % 2 == 0 else "w"
        node.set_move(color, None if action == game.pass_action else divmod(action, game.size))
    return record.serialise()


def save_game(path: str | os.PathLike[str], game: GoGame, black: str = "black", white: str = "white",
              forfeit: int | None = None) -> Path:
    path = Path(path)
    atomic.write_bytes(path, to_sgf(game, black, white, forfeit))
    return path


def load_game(source: str | os.PathLike[str] | bytes, max_moves: int | None = None) -> GoGame:
    """Replay an SGF record (main line) with our rules; malformed or illegal records raise :class:`UserError`."""
    if isinstance(source, bytes):
        data, where = source, "SGF data"
    else:
        path = Path(source)
        if not path.is_file():
            raise UserError(f"SGF file not found: {path}")
        data, where = path.read_bytes(), str(path)
    try:
        record = sgf.Sgf_game.from_bytes(data)
    except ValueError as exc:
        raise UserError(f"malformed SGF in {where}: {exc}") from None
    size = record.get_size()
    try:
        komi = record.get_komi()
    except ValueError:
        raise UserError(f"malformed SGF in {where}: bad KM value") from None
    root = record.get_root()
    if root.has_property("AB") or root.has_property("AW") or root.has_property("HA"):
        raise UserError(f"{where}: setup stones / handicap are not supported (Go-lite starts from an empty board)")
    game = GoGame(size, komi if root.has_property("KM") else default_komi(size), max_moves)
    for number, node in enumerate(record.get_main_sequence()[1:], start=1):
        try:
            color, point = node.get_move()
        except ValueError as exc:
            raise UserError(f"malformed SGF in {where}: move {number}: {exc}") from None
        if color is None:
            continue
        expected = "b" if game.to_play == BLACK else "w"
        if color != expected:
            raise UserError(f"{where}: move {number} is by {color.upper()} but {expected.upper()} is to play")
        if game.over:
            raise UserError(f"{where}: move {number} comes after the game ended")
        action = game.pass_action if point is None else point[0] * size + point[1]
        if point is not None and not (0 <= point[0] < size and 0 <= point[1] < size):
            raise UserError(f"{where}: move {number} is off the board")
        if not game.is_legal(action):
            raise UserError(f"{where}: move {number} ({game.action_to_gtp(action)}) is illegal under our rules")
        game.play(action)
    return game

