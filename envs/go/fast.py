"""The compiled Go core (``_fastgo``, built from ``_fastgo.c`` at ``pip install``) as numpy-friendly helpers.

``Board`` plays the exact rules of :class:`GoGame` on a padded array (cross-checked move for move in
``tests/test_go_fast.py``) and runs light-policy playouts; ``Tree`` is the UCT/RAVE search that
:mod:`rllab.envs.go.mcts` drives. A checkout whose extension was not built gets one clear error instead of an
``ImportError`` deep inside a match.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rllab.core.errors import UserError
from rllab.envs.go.engine import GoGame

try:
    from rllab.envs.go import _fastgo
except ImportError:  # the C extension was not built (an old install, or a source tree without `pip install -e .`)
    _fastgo = None

BUILD_HINT = "the compiled Go core (rllab/envs/go/_fastgo.c) is not built: run `pip install -e .` (needs a C compiler)"


def core() -> Any:
    """The ``_fastgo`` module, or a :class:`UserError` saying how to build it."""
    if _fastgo is None:
        raise UserError(BUILD_HINT)
    return _fastgo


def available() -> bool:
    return _fastgo is not None


def new_board(size: int, komi: float, max_moves: int | None = None) -> Any:
    """An empty compiled board (``max_moves`` defaults to 2·N², like :class:`GoGame`)."""
    return core().Board(size, komi, -1 if max_moves is None else max_moves)


def board_from_game(game: GoGame) -> Any:
    """The same position as ``game`` (history replayed, so superko and ko agree), as a compiled board."""
    board = new_board(game.size, game.komi, game.max_moves)
    for action in game.history:
        board.play(action)
    return board


def legal_mask(board: Any) -> np.ndarray:
    """Boolean mask over the N²+1 actions (pass last), like :meth:`GoGame.legal_mask`."""
    return np.frombuffer(board.legal_mask(), dtype=np.uint8).astype(bool)


def colors(board: Any) -> np.ndarray:
    """(N, N) uint8 board: 0 empty, 1 black, 2 white (row 0 = the bottom row)."""
    n = board.size
    return np.frombuffer(board.colors(), dtype=np.uint8).reshape(n, n)
