"""The RAM observation (obs="ram"): decoding synthetic RAM images, and agreement with the screen on real frames."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import rllab.envs  # noqa: F401  (registers rllab/SuperMario-v0)
from rllab.core.errors import UserError
from rllab.envs.mario.env import SuperMarioEnv, mario_available
from rllab.envs.mario.tiles import (
    BEHIND,
    COLS,
    ENEMY,
    FRAME_SIZE,
    GRID_SIZE,
    MARIO,
    ROWS,
    SOLID,
    RamStack,
    ram_frame,
    render_grid,
)

needs_mario = pytest.mark.skipif(not mario_available(), reason="needs the [mario] extra: run `rllab setup mario`")
RIGHT, NOOP = 1, 0  # in the "simple" action set
GOOMBA_FACE = (240, 208, 176)  # the Goomba's light brown; between the blocks (y < 160) and the floor only it has it


def synthetic_ram(mario_x: int = 200, mario_y: int = 176, head: int = 40) -> np.ndarray:
    """Mario standing at level x ``mario_x`` (screen y ``mario_y``), level decoded up to column ``head``."""
    ram = np.zeros(2048, np.uint8)
    ram[0x6D], ram[0x86] = divmod(mario_x, 256)
    ram[0xCE], ram[0xB5] = mario_y, 1
    ram[0x725], ram[0x726] = divmod(head, 16)
    return ram


def set_tile(ram: np.ndarray, column: int, row: int, value: int = 0x54) -> None:
    """Level column ``column`` lives in ring column ``column % 32``: page ``(column // 16) % 2``."""
    ram[0x500 + ((column // 16) % 2) * 208 + row * 16 + column % 16] = value


def grid_of(ram: np.ndarray) -> np.ndarray:
    return ram_frame(ram)[:GRID_SIZE].reshape(ROWS, COLS)


def test_grid_is_level_aligned_around_mario() -> None:
    ram = synthetic_ram(mario_x=200)  # Mario's column: (200 + 8) // 16 = 13, so the window starts at column 9
    set_tile(ram, 9, 12)
    set_tile(ram, 24, 5)
    set_tile(ram, 30, 0)  # column 25 is the window's last
    grid = grid_of(ram)
    assert grid[12, 0] == SOLID and grid[5, 15] == SOLID
    assert grid[10, BEHIND] == MARIO  # screen y 176 + 24 -> row (200 - 32) // 16 = 10
    assert (grid == SOLID).sum() == 2 and (grid == MARIO).sum() == 1


def test_columns_the_game_has_not_decoded_are_empty() -> None:
    ram = synthetic_ram(mario_x=200, head=20)  # columns >= 20 still hold the previous lap of the ring
    set_tile(ram, 19, 11)
    set_tile(ram, 20, 11)
    grid = grid_of(ram)
    assert grid[11, 19 - 9] == SOLID and grid[11, 20 - 9] == 0


def test_enemies_and_a_big_mario() -> None:
    ram = synthetic_ram(mario_x=200)
    ram[0x756] = 1  # big: two rows
    ram[0x0F + 2] = 1  # enemy slot 2 active at level x 312, screen y 184 (drawn 192-207)
    ram[0x6E + 2], ram[0x87 + 2], ram[0xCF + 2], ram[0xB6 + 2] = 1, 56, 184, 1
    ram[0x0F + 3] = 0  # an inactive slot is ignored even with coordinates
    ram[0x87 + 3], ram[0xCF + 3], ram[0xB6 + 3] = 220, 100, 1
    grid = grid_of(ram)
    assert grid[10, (312 + 8) // 16 - 9] == ENEMY and (grid == ENEMY).sum() == 1
    assert grid[9, BEHIND] == MARIO and grid[10, BEHIND] == MARIO


def test_scalars_speed_ground_powerup_and_a_fall_out_of_the_screen() -> None:
    ram = synthetic_ram(mario_x=200)
    ram[0x57], ram[0x9F], ram[0x1D], ram[0x756] = 40, 256 - 5, 1, 2  # full run right, rising, airborne, fire
    scalars = ram_frame(ram)[GRID_SIZE:]
    assert scalars[:4].tolist() == [1.0, -1.0, 0.0, 1.0]
    assert scalars[4] == pytest.approx((208 % 16) / 16) and scalars[5] == pytest.approx(176 / 240)
    ram[0xB5] = 2  # below the screen: in a pit
    assert (grid_of(ram) == MARIO).sum() == 0 and ram_frame(ram)[-1] > 1


def test_stack_keeps_the_newest_frame_last_and_returns_copies() -> None:
    stack = RamStack(3)
    first = stack.fill(synthetic_ram(mario_x=200))
    assert first.shape == (3 * FRAME_SIZE,) and first.dtype == np.float32
    moved = stack.push(synthetic_ram(mario_x=204))
    frames = moved.reshape(3, FRAME_SIZE)
    assert np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[1], frames[2])
    stack.push(synthetic_ram(mario_x=232))
    assert np.array_equal(moved.reshape(3, FRAME_SIZE)[2], frames[2])  # an earlier observation never changes


def test_render_grid_draws_every_cell() -> None:
    ram = synthetic_ram()
    set_tile(ram, 9, 12)
    picture = render_grid(ram_frame(ram)).splitlines()
    assert len(picture) == ROWS and all(len(line) == COLS for line in picture)
    assert picture[12][0] == "#" and picture[10][BEHIND] == "M"


@needs_mario
@pytest.mark.mario
def test_unknown_observation_mode_lists_the_choices() -> None:
    with pytest.raises(UserError, match="unknown observation mode.*'rgb'.*valid: pixels, ram"):
        gym.make("rllab/SuperMario-v0", obs="rgb")


@needs_mario
@pytest.mark.mario
def test_first_goomba_shows_where_the_screen_shows_it() -> None:
    env = SuperMarioEnv(obs="ram", noop_max=0, render_mode="rgb_array")
    try:
        obs, _ = env.reset(seed=0)
        assert env.observation_space.shape == (4 * FRAME_SIZE,) and env.observation_space.contains(obs)
        for action in [RIGHT] * 25 + [NOOP] * 10:  # run up to the first Goomba and wait for it
            obs, *_ = env.step(action)
        grid = obs[-FRAME_SIZE:][:GRID_SIZE].reshape(ROWS, COLS)
        frame = env.render()
        face_y, face_x = np.nonzero((frame[160:208] == GOOMBA_FACE).all(axis=-1))
        face_y += 160
        assert len(face_x) > 10
        ram = env.unwrapped._nes.ram
        screen_left = int(ram[0x71A]) * 256 + int(ram[0x71C])
        mario_column = (int(ram[0x6D]) * 256 + int(ram[0x86]) + 8) // 16
        column = (screen_left + int(face_x.mean())) // 16 - (mario_column - BEHIND)
        row = (int(face_y.mean()) - 32) // 16
        assert grid[row, column] == ENEMY and (grid == ENEMY).sum() == 1
        assert grid[row, BEHIND] == MARIO  # Mario and the Goomba both stand on the ground row above the floor
        assert (grid[11:] == SOLID).all()  # the two floor rows
    finally:
        env.close()


@needs_mario
@pytest.mark.mario
def test_ram_mode_skips_pixels_but_plays_the_same_game() -> None:
    pixels = SuperMarioEnv(noop_max=0)
    ram = SuperMarioEnv(obs="ram", noop_max=0)
    try:
        pixels.reset(seed=0)
        ram.reset(seed=0)
        for _ in range(20):
            a = pixels.step(RIGHT)
            b = ram.step(RIGHT)
            assert a[1:4] == b[1:4] and a[4]["x_pos"] == b[4]["x_pos"]
        ram._grab = None  # any pixel work in RAM mode would now fail
        ram.step(RIGHT)
        ram.reset(seed=1)
    finally:
        pixels.close()
        ram.close()
