"""The RAM observation of ``rllab/SuperMario-v0`` (``obs="ram"``): a tile grid around Mario plus a few scalars.

Why RAM: the game already keeps the level as a grid of 16x16 "metatiles" and the enemies as a handful of
coordinates, so an MLP can read them directly instead of a CNN learning to see them in pixels, and a step
skips every pixel copy. Published RAM-grid agents clear World 1-1 with SB3's MLP PPO (see docs/mario.md).

Sources in the 2 KiB work RAM (Super Mario Bros, NTSC):

- ``0x500-0x69F``: the metatile buffer, two 13-row x 16-column pages used as a ring of 32 level columns
  (level column ``c`` lives in column ``c % 32``); row ``r`` is drawn at screen y ``32 + 16 r``.
  ``0x725``/``0x726`` (page, column) is the next level column the game will decode, so the ring holds the 32
  columns before it (about 6 columns past the right screen edge).
- Mario: level x ``0x6D * 256 + 0x86``, y ``0xCE`` on vertical page ``0xB5`` (1 = on screen; his 32-pixel
  box, small Mario filling its lower half), x speed ``0x57`` (signed), y speed ``0x9F`` (signed), float state
  ``0x1D`` (0 = on the ground), power-up ``0x756`` (0 small, 1 big, 2 fire).
- Enemy slot ``i < 5``: active flag ``0x0F + i``, level x ``0x6E + i`` / ``0x87 + i``, y ``0xCF + i`` on
  vertical page ``0xB6 + i`` (a 16-pixel sprite drawn 8 pixels below y).
"""

from __future__ import annotations

import numpy as np

ROWS, COLS = 13, 16
#: Window columns left of Mario's column (the window is level-aligned and moves with Mario).
BEHIND = 4
EMPTY, SOLID, ENEMY, MARIO = 0.0, 1.0, -1.0, 2.0
#: Every value of the observation lies in [-BOUND, BOUND] (scalars are clipped to it).
BOUND = 8.0
SCALARS = ("x_speed", "y_speed", "on_ground", "powerup", "x_in_tile", "y_screen")
GRID_SIZE = ROWS * COLS
FRAME_SIZE = GRID_SIZE + len(SCALARS)

_TILES, _TILES_END = 0x500, 0x6A0
_X_PAGE, _X_PIXEL, _Y, _Y_PAGE = 0x6D, 0x86, 0xCE, 0xB5
_X_SPEED, _Y_SPEED, _FLOAT_STATE, _POWERUP = 0x57, 0x9F, 0x1D, 0x756
_DECODE_PAGE, _DECODE_COLUMN = 0x725, 0x726
_ENEMY_ACTIVE, _ENEMY_X_PAGE, _ENEMY_X_PIXEL, _ENEMY_Y, _ENEMY_Y_PAGE = 0x0F, 0x6E, 0x87, 0xCF, 0xB6
_ENEMIES = 5
_RUN_SPEED = 40.0  # |x speed| of a full run
_FALL_SPEED = 5.0


def _signed(byte: int) -> int:
    return byte - 256 if byte > 127 else byte


def screen_row(y_screen: int) -> int:
    """Grid row of a screen y (may fall outside ``0..ROWS-1`` above or below the playfield)."""
    return (y_screen - 32) // 16


def ram_frame(ram: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """One frame of the RAM observation: ``ROWS * COLS`` grid cells, row-major, then the :data:`SCALARS`.

    Grid cells: :data:`SOLID` for a non-empty metatile (ground, bricks, blocks, pipes, the flagpole),
    :data:`ENEMY` for an active enemy's centre, :data:`MARIO` for Mario (two rows when big), else
    :data:`EMPTY` (also for columns the game has not decoded yet). Column ``BEHIND`` is Mario's column.
    Scalars, each about in [-1, 1]: x and y speed, on-ground flag, power-up level / 2, Mario's x inside his
    tile / 16, and his screen y / 240 (beyond 1 while falling into a pit).
    """
    if out is None:
        out = np.empty(FRAME_SIZE, dtype=np.float32)
    grid = out[:GRID_SIZE].reshape(ROWS, COLS)
    mario_x = int(ram[_X_PAGE]) * 256 + int(ram[_X_PIXEL])
    mario_y = (int(ram[_Y_PAGE]) - 1) * 256 + int(ram[_Y])
    left = (mario_x + 8) // 16 - BEHIND
    columns = np.arange(left, left + COLS)
    head = int(ram[_DECODE_PAGE]) * 16 + int(ram[_DECODE_COLUMN])
    ring = ram[_TILES:_TILES_END].reshape(2, ROWS, 16).transpose(1, 0, 2).reshape(ROWS, 32)
    solid = ring[:, columns % 32] != 0
    solid &= ((columns >= max(head - 32, 0)) & (columns < head))[None, :]
    grid[:] = np.where(solid, SOLID, EMPTY)
    for i in range(_ENEMIES):
        if not ram[_ENEMY_ACTIVE + i]:
            continue
        ex = int(ram[_ENEMY_X_PAGE + i]) * 256 + int(ram[_ENEMY_X_PIXEL + i])
        ey = (int(ram[_ENEMY_Y_PAGE + i]) - 1) * 256 + int(ram[_ENEMY_Y + i]) + 16  # the sprite's centre
        row, col = screen_row(ey), (ex + 8) // 16 - left
        if 0 <= row < ROWS and 0 <= col < COLS:
            grid[row, col] = ENEMY
    big = ram[_POWERUP] > 0
    for y in (mario_y + 8, mario_y + 24) if big else (mario_y + 24,):
        row = screen_row(y)
        if 0 <= row < ROWS:
            grid[row, BEHIND] = MARIO
    scalars = out[GRID_SIZE:]
    scalars[0] = _signed(int(ram[_X_SPEED])) / _RUN_SPEED
    scalars[1] = _signed(int(ram[_Y_SPEED])) / _FALL_SPEED
    scalars[2] = 1.0 if ram[_FLOAT_STATE] == 0 else 0.0
    scalars[3] = min(int(ram[_POWERUP]), 2) / 2
    scalars[4] = ((mario_x + 8) % 16) / 16
    scalars[5] = mario_y / 240
    np.clip(scalars, -BOUND, BOUND, out=scalars)
    return out


class RamStack:
    """The last ``stack`` RAM frames, oldest first, as one flat ``float32`` vector for an MLP."""

    def __init__(self, stack: int) -> None:
        self.buffer = np.zeros((stack, FRAME_SIZE), dtype=np.float32)

    @property
    def size(self) -> int:
        return self.buffer.size

    def push(self, ram: np.ndarray) -> np.ndarray:
        self.buffer[:-1] = self.buffer[1:]
        ram_frame(ram, self.buffer[-1])
        return self.buffer.reshape(-1).copy()

    def fill(self, ram: np.ndarray) -> np.ndarray:
        ram_frame(ram, self.buffer[-1])
        self.buffer[:-1] = self.buffer[-1]
        return self.buffer.reshape(-1).copy()


def render_grid(obs_frame: np.ndarray) -> str:
    """A text picture of one frame's grid (``#`` solid, ``E`` enemy, ``M`` Mario): for docs and debugging."""
    glyphs = {EMPTY: ".", SOLID: "#", ENEMY: "E", MARIO: "M"}
    grid = obs_frame[:GRID_SIZE].reshape(ROWS, COLS)
    return "\n".join("".join(glyphs[float(v)] for v in row) for row in grid)
