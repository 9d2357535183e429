"""A picture of a Go position for ``render_mode="rgb_array"`` and videos: wooden board, grid with star points,
GTP coordinates (A.., 1..), stones, a red ring on the last move, and a caption with the move number and the side to
move or the result."""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from rllab.envs.go.engine import BLACK, GTP_COLUMNS, WHITE, GoGame
from rllab.envs.go.sgf import result_string

CELL = 32
MARGIN = 28          # room for the coordinates around the grid
CAPTION = 24         # the strip below the board
WOOD = (220, 179, 92)
LAST_MOVE = (220, 30, 30)


def _point(row: int, col: int, n: int) -> tuple[int, int]:
    """Pixel centre of a point; row 0 (GTP row 1) at the bottom."""
    return MARGIN + col * CELL, MARGIN + (n - 1 - row) * CELL


def board_image(game: GoGame) -> np.ndarray:
    """``(H, W, 3)`` uint8 picture of ``game``'s current position."""
    n = game.size
    side = 2 * MARGIN + (n - 1) * CELL
    image = Image.new("RGB", (side, side + CAPTION), WOOD)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default()
    for i in range(n):
        x0, y0 = _point(0, i, n)
        x1, y1 = _point(n - 1, i, n)
        draw.line([(x0, y0), (x1, y1)], fill=(0, 0, 0), width=1)
        a0, b0 = _point(i, 0, n)
        a1, b1 = _point(i, n - 1, n)
        draw.line([(a0, b0), (a1, b1)], fill=(0, 0, 0), width=1)
        draw.text((x0 - 3, side - MARGIN + 8), GTP_COLUMNS[i], fill=(40, 25, 0), font=font)
        draw.text((a0 - MARGIN + 6, b0 - 6), str(i + 1), fill=(40, 25, 0), font=font)
    for row, col in _star_points(n):
        x, y = _point(row, col, n)
        draw.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(0, 0, 0))
    planes = game.planes()
    radius = int(CELL * 0.46)
    for color, fill, outline in ((BLACK, (15, 15, 15), (0, 0, 0)), (WHITE, (245, 245, 245), (60, 60, 60))):
        for row, col in zip(*np.nonzero(planes[color]), strict=True):
            x, y = _point(int(row), int(col), n)
            draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=fill, outline=outline)
    last = game.history[-1] if game.history else None
    if last is not None and last != game.pass_action:
        x, y = _point(*divmod(last, n), n)
        draw.ellipse([x - 7, y - 7, x + 7, y + 7], outline=LAST_MOVE, width=3)
    draw.text((MARGIN - 10, side + 5), caption(game), fill=(0, 0, 0), font=font)
    return np.asarray(image, dtype=np.uint8)


def caption(game: GoGame) -> str:
    """``move 12, White to play (B passed)`` or ``move 40, result B+3.5``."""
    if game.over:
        return f"move {game.moves}, result {result_string(game)}"
    side = "Black" if game.to_play == BLACK else "White"
    passed = "" if not game.history or game.history[-1] != game.pass_action else \
        f" ({'W' if game.to_play == BLACK else 'B'} passed)"
    return f"move {game.moves}, {side} to play{passed}"


def _star_points(n: int) -> list[tuple[int, int]]:
    if n < 7:
        return [(n // 2, n // 2)] if n % 2 else []
    edge = 2 if n < 13 else 3
    far = n - 1 - edge
    points = [(edge, edge), (edge, far), (far, edge), (far, far)]
    return points + [(n // 2, n // 2)] if n % 2 else points
