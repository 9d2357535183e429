"""Mario parts that need no emulator: RAM decoding, reward presets, the installer, video writing, missing extra."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from typer.testing import CliRunner

import rllab.envs  # noqa: F401  (registers rllab/SuperMario-v0)
from rllab.cli.app import app
from rllab.core.errors import UserError
from rllab.core.extras import MARIO_PACKAGES, install_mario, mario_pip_commands
from rllab.core.video import write_video
from rllab.envs.mario import env as mario
from rllab.envs.mario.wrappers import (
    REWARD_CHOICES,
    REWARD_PRESETS,
    SIGNALS,
    FrameStack,
    MarioRam,
    frame_signals,
    reward_preset,
)


def make_ram(**fields: int) -> bytes:
    """A 2 KiB RAM image with Mario alive and standing, plus the given ``address=value`` overrides."""
    ram = bytearray(2048)
    ram[0x0E] = 0x08  # player state: normal
    ram[0xB5] = 1  # in the viewport
    ram[0x7F8:0x7FB] = bytes([4, 0, 0])  # clock 400
    for name, value in fields.items():
        ram[int(name[1:], 16)] = value
    return bytes(ram)


def test_ram_decodes_position_clock_score_and_flag() -> None:
    ram = bytearray(make_ram(a6D=2, a86=17, a7ED=1, a7EE=3))
    ram[0x7DE:0x7E4] = bytes([0, 0, 1, 2, 5, 0])
    state = MarioRam.read(bytes(ram))
    assert (state.x, state.clock, state.coins, state.score) == (2 * 256 + 17, 400, 13, 1250)
    assert not state.flag and not state.dying and not state.dead
    assert MarioRam.read(make_ram(a16=0x31, a1D=3)).flag  # flagpole loaded and Mario sliding down it
    assert not MarioRam.read(make_ram(a16=0x31, a1D=0)).flag
    assert MarioRam.read(make_ram(a770=2)).flag  # end of world
    assert MarioRam.read(make_ram(a0E=0x0B)).dying
    assert MarioRam.read(make_ram(aB5=3)).dying  # fell into a hole
    assert MarioRam.read(make_ram(a0E=0x06)).dead


def test_signals_ignore_warps_and_count_death_once() -> None:
    prev = MarioRam.read(make_ram(a86=100))
    assert frame_signals(prev, MarioRam.read(make_ram(a86=103)), False)["progress"] == 3
    left = frame_signals(prev, MarioRam.read(make_ram(a86=98)), False)
    assert (left["progress"], left["backtrack"]) == (-2, -2)
    assert frame_signals(prev, MarioRam.read(make_ram(a86=200)), False)["progress"] == 0  # a pipe warp
    dying = MarioRam.read(make_ram(a86=100, a0E=0x0B))
    assert frame_signals(prev, dying, False)["death"] == 1
    assert frame_signals(prev, dying, True)["death"] == 0
    wrapped = frame_signals(MarioRam.read(make_ram(a7ED=9, a7EE=9)), MarioRam.read(make_ram(a7ED=0, a7EE=0)), False)
    assert wrapped["coins"] == 1  # 99 -> 00 is one coin, not -99


def test_classic_clips_the_death_frame_and_components_add_up() -> None:
    classic = REWARD_PRESETS["classic"]
    signals = dict.fromkeys(SIGNALS, 0.0) | {"progress": 3.0, "time": -1.0, "death": 1.0}
    components: dict[str, float] = {}
    reward = classic.frame_reward(signals, components)
    assert reward == -15.0  # 3 - 1 - 25 = -23, clipped to -15
    assert components == {"progress": 3.0, "time": -1.0, "death": -25.0, "clip": 8.0}
    assert sum(components.values()) == pytest.approx(reward)


def test_shaping_is_added_outside_the_clip_and_scaled() -> None:
    signals = dict.fromkeys(SIGNALS, 0.0) | {"progress": 2.0, "flag": 1.0}
    assert REWARD_PRESETS["flag"].frame_reward(signals, {}) == 52.0  # the flag bonus is not clipped to 15
    components: dict[str, float] = {}
    reward = REWARD_PRESETS["uvipen"].frame_reward(signals, components)
    assert reward == pytest.approx(5.2)
    assert sum(components.values()) == pytest.approx(reward)


def test_every_preset_is_named_and_unknown_ones_list_the_choices() -> None:
    assert {"classic", "package", "coins", "score", "flag", "backtrack", "time"} <= set(REWARD_CHOICES)
    assert reward_preset("package") is None
    with pytest.raises(UserError, match="valid: .*classic"):
        reward_preset("clasic")


def test_frame_stack_copies_frames_into_its_own_buffer() -> None:
    stack = FrameStack(stack=3, resize=None, grayscale=True)
    screen = np.zeros((240, 256), np.uint8)  # stands for the emulator's one reused screen buffer
    stack.fill(screen)
    for value in (1, 2):
        screen[:] = value
        obs = stack.push([screen])
    assert [int(frame[0, 0]) for frame in obs] == [0, 1, 2]
    screen[:] = 9
    assert int(obs[-1, 0, 0]) == 2  # a returned observation is not a view of anything the env reuses


def test_frame_stack_max_pools_the_last_two_frames_and_resizes() -> None:
    stack = FrameStack(stack=2, resize=(84, 84), grayscale=False)
    a = np.zeros((240, 256, 3), np.uint8)
    b = np.zeros((240, 256, 3), np.uint8)
    a[:, :128, 0] = 200  # left half red in one frame, right half green in the next: the pool has both
    b[:, 128:, 1] = 100
    stack.fill(a)
    obs = stack.push([a, b])
    assert obs.shape == (6, 84, 84)
    assert obs[3, 40, 10] == 200 and obs[4, 40, 70] == 100 and obs[4, 40, 10] == 0


def test_pip_commands_use_the_workaround_only_before_313() -> None:
    old = mario_pip_commands("py", (3, 11))
    assert len(old) == 2 and any(arg.startswith("numpy<2.5") for arg in old[0])
    assert old[1][-4:] == ["--no-deps", "--ignore-requires-python", *MARIO_PACKAGES]
    (new,) = mario_pip_commands("py", (3, 13))
    assert "--ignore-requires-python" not in new and set(MARIO_PACKAGES) <= set(new)


def test_install_stops_at_the_first_failing_pip_call() -> None:
    calls: list[list[str]] = []

    def failing_pip(cmd: list[str]) -> int:
        calls.append(cmd)
        return 1

    with pytest.raises(UserError, match="pip failed"):
        install_mario(failing_pip)
    assert len(calls) == 1


def test_setup_dry_run_prints_the_commands() -> None:

    result = CliRunner().invoke(app, ["setup", "mario", "--dry-run"])
    assert result.exit_code == 0
    assert "gym-super-mario-bros==9.1.0" in result.output and "nes-py==9.0.1" in result.output


def test_missing_extra_is_one_line_naming_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mario, "mario_available", lambda: False)
    with pytest.raises(UserError) as info:
        gym.make("rllab/SuperMario-v0")
    message = str(info.value)
    assert "rllab setup mario" in message and "\n" not in message


def test_gif_round_trip(tmp_path) -> None:
    from PIL import Image

    frames = [np.full((24, 32, 3), 40 * i, np.uint8) for i in range(5)]
    path = write_video(frames, tmp_path / "clip.gif", fps=10)
    with Image.open(path) as gif:
        assert gif.n_frames == 5 and gif.size == (32, 24)
        assert gif.info["duration"] == 100


def test_mp4_or_a_clear_hint(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    frames = [np.full((25, 31, 3), 10 * i, np.uint8) for i in range(8)]  # odd sizes get padded for H.264
    try:
        import imageio.v2 as imageio
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        with pytest.raises(UserError, match="pip install imageio imageio-ffmpeg"):
            write_video(frames, tmp_path / "clip.mp4")
        return
    path = write_video(frames, tmp_path / "clip.mp4", fps=15)
    with imageio.get_reader(path) as reader:
        assert reader.count_frames() == 8
        assert reader.get_data(0).shape == (26, 32, 3)
    monkeypatch.setitem(__import__("sys").modules, "imageio_ffmpeg", None)
    with pytest.raises(UserError, match="pip install imageio imageio-ffmpeg"):
        write_video(frames, tmp_path / "again.mp4")


@pytest.mark.parametrize(
    ("frames", "name", "match"),
    [
        ([], "a.gif", "no frames"),
        ([np.zeros((4, 4), np.uint8)], "a.gif", "expected uint8"),
        ([np.zeros((4, 4, 3), np.uint8), np.zeros((5, 4, 3), np.uint8)], "a.gif", "frame 1 has shape"),
        ([np.zeros((4, 4, 3), np.uint8)], "a.avi", "use .gif or .mp4"),
    ],
)
def test_bad_video_input(tmp_path, frames, name, match) -> None:
    with pytest.raises(UserError, match=match):
        write_video(frames, tmp_path / name)
