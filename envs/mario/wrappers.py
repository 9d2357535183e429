"""Building blocks of ``rllab/SuperMario-v0``: RAM reads, reward presets and frame preprocessing.

They live apart from the env so each can be tested on its own, and they are plain Python (no emulator
import), so this module loads without the ``[mario]`` extra.

Why not gymnasium's wrapper chain: with frame skip 4 it builds an info dict and copies a full RGB frame on
every emulated frame, then converts RGB to gray with a numpy dot product (2-3 ms, as long as two emulated
frames). Here the skip loop reads a dozen RAM bytes per frame, grabs only the last two frames as the
emulator's native grayscale (a 30 us copy) and resizes once with OpenCV.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rllab.core.errors import UserError, choices_hint
from rllab.core.extras import MARIO_INSTALL_HINT

# RAM addresses (Super Mario Bros, NTSC), as read by gym-super-mario-bros 9.1.0.
_X_PAGE, _X_PIXEL = 0x6D, 0x86
_CLOCK = (0x7F8, 0x7F9, 0x7FA)
_SCORE = tuple(range(0x7DE, 0x7E4))
_COINS = (0x7ED, 0x7EE)
_PLAYER_STATE, _Y_VIEWPORT, _Y_PIXEL = 0x0E, 0xB5, 0x3B8
_STATUS, _LIFE, _WORLD, _STAGE = 0x756, 0x75A, 0x75F, 0x75C
_GAME_MODE, _FLOAT_STATE = 0x770, 0x1D
_ENEMY_TYPES = (0x16, 0x17, 0x18, 0x19, 0x1A)
_STAGE_OVER_ENEMIES = (0x2D, 0x31)  # Bowser, flagpole
_STATUS_NAMES = {0: "small", 1: "tall"}

# Larger per-frame jumps in x are warps (pipes, respawn, stage change), not running.
MAX_FRAME_DX = 5


@dataclass(frozen=True)
class MarioRam:
    """The game variables the rewards and the info dict need, decoded from one RAM snapshot."""

    x: int
    y: int
    clock: int
    score: int
    coins: int
    powerup: int
    status: int
    life: int
    world: int
    stage: int
    dying: bool
    dead: bool
    flag: bool

    @classmethod
    def read(cls, ram: bytes) -> MarioRam:
        """Decode from ``ram`` (a ``bytes`` copy of the 2 KiB work RAM: indexing bytes is 3x faster than numpy)."""
        state, viewport = ram[_PLAYER_STATE], ram[_Y_VIEWPORT]
        stage_over = False
        for address in _ENEMY_TYPES:
            if ram[address] in _STAGE_OVER_ENEMIES:
                stage_over = ram[_FLOAT_STATE] == 3
                break
        status = ram[_STATUS]
        y_pixel = ram[_Y_PIXEL]
        return cls(
            x=ram[_X_PAGE] * 256 + ram[_X_PIXEL],
            y=255 + (255 - y_pixel) if viewport < 1 else 255 - y_pixel,
            clock=ram[_CLOCK[0]] * 100 + ram[_CLOCK[1]] * 10 + ram[_CLOCK[2]],
            score=int("".join(str(ram[a]) for a in _SCORE)),
            coins=ram[_COINS[0]] * 10 + ram[_COINS[1]],
            powerup=min(status, 2),
            status=status,
            life=ram[_LIFE],
            world=ram[_WORLD] + 1,
            stage=ram[_STAGE] + 1,
            dying=state == 0x0B or viewport > 1,
            dead=state == 0x06,
            flag=ram[_GAME_MODE] == 2 or stage_over,
        )

    @property
    def status_name(self) -> str:
        return _STATUS_NAMES.get(self.status, "fireball")


SIGNALS = ("progress", "backtrack", "time", "death", "coins", "score", "flag", "powerup")


def frame_signals(prev: MarioRam, cur: MarioRam, death_counted: bool) -> dict[str, float]:
    """Unweighted per-frame reward signals between two consecutive frames.

    ``progress`` is the signed x change (0 on warps), ``backtrack`` its negative part, ``time`` the clock
    change (<= 0), ``death``/``flag`` are 1 on the frame they happen, the rest are increases of the counters.
    """
    dx = cur.x - prev.x
    if abs(dx) > MAX_FRAME_DX:
        dx = 0
    coins = cur.coins - prev.coins
    if coins < -50:  # the counter wraps from 99 to 0 (and awards a life)
        coins += 100
    return {
        "progress": float(dx),
        "backtrack": float(min(dx, 0)),
        "time": float(min(cur.clock - prev.clock, 0)),
        "death": 1.0 if (cur.dying or cur.dead) and not death_counted else 0.0,
        "coins": float(max(coins, 0)),
        "score": float(max(cur.score - prev.score, 0)),
        "flag": 1.0 if cur.flag and not prev.flag else 0.0,
        "powerup": float(cur.powerup - prev.powerup),
    }


@dataclass(frozen=True)
class RewardPreset:
    """A reward as weights on :data:`SIGNALS`.

    ``base`` terms are summed and clipped to +-``clip`` per frame (the classic definition); ``shaping`` terms
    are added outside the clip so a flag bonus of 50 is not clipped away; the total is multiplied by ``scale``.
    """

    description: str
    base: dict[str, float] = field(default_factory=dict)
    shaping: dict[str, float] = field(default_factory=dict)
    clip: float | None = 15.0
    scale: float = 1.0

    def frame_reward(self, signals: dict[str, float], components: dict[str, float]) -> float:
        """Reward of one frame; adds each signal's weighted share (and the clipping) into ``components``."""
        base = 0.0
        for name, weight in self.base.items():
            value = weight * signals[name]
            base += value
            components[name] = components.get(name, 0.0) + value * self.scale
        if self.clip is not None and abs(base) > self.clip:
            clipped = float(np.clip(base, -self.clip, self.clip))
            components["clip"] = components.get("clip", 0.0) + (clipped - base) * self.scale
            base = clipped
        total = base
        for name, weight in self.shaping.items():
            value = weight * signals[name]
            total += value
            components[name] = components.get(name, 0.0) + value * self.scale
        return total * self.scale


_CLASSIC = {"progress": 1.0, "time": 1.0, "death": -25.0}
PACKAGE = "package"
REWARD_PRESETS: dict[str, RewardPreset] = {
    "classic": RewardPreset("x progress + clock penalty - 25 on death, clipped to +-15 (gym-super-mario-bros<=7.4)",
                            base=_CLASSIC),
    "coins": RewardPreset("classic + 5 per coin", base=_CLASSIC, shaping={"coins": 5.0}),
    "score": RewardPreset("classic + in-game score / 40", base=_CLASSIC, shaping={"score": 1 / 40}),
    "flag": RewardPreset("classic + 50 for reaching the flag", base=_CLASSIC, shaping={"flag": 50.0}),
    "backtrack": RewardPreset("classic, moving left costs double", base=_CLASSIC, shaping={"backtrack": 1.0}),
    "time": RewardPreset("classic with a 4x clock penalty (hurry)", base=_CLASSIC, shaping={"time": 3.0}),
    "uvipen": RewardPreset("(classic + score/40 + 50 flag - 50 death) / 10, as in uvipen's PPO that clears 31/32",
                           base=_CLASSIC, shaping={"score": 1 / 40, "flag": 50.0, "death": -50.0}, scale=0.1),
}
REWARD_CHOICES = (*REWARD_PRESETS, PACKAGE)


def reward_preset(name: str) -> RewardPreset | None:
    """The named preset; ``None`` for ``package`` (gym-super-mario-bros 9.x's own reward)."""
    if name == PACKAGE:
        return None
    if name not in REWARD_PRESETS:
        raise UserError(f"unknown Mario reward preset {name!r}; {choices_hint(REWARD_CHOICES)}")
    return REWARD_PRESETS[name]


class FrameStack:
    """Max-pool, grayscale/resize and stack frames into a channel-first ``uint8`` observation.

    Every frame is copied into the stack's own buffer: the emulator hands out one reused screen array, and
    stacking that view would give ``stack`` identical frames.
    """

    def __init__(self, stack: int, resize: tuple[int, int] | None, grayscale: bool) -> None:
        self.grayscale = grayscale
        self.resize = resize
        height, width = resize if resize is not None else (240, 256)
        channels = 1 if grayscale else 3
        self.channels = channels
        self.buffer = np.zeros((stack * channels, height, width), dtype=np.uint8)
        self._cv2: Any = None
        if resize is not None:
            try:
                import cv2
            except ImportError as exc:
                raise UserError(f"resizing Mario frames needs OpenCV: {MARIO_INSTALL_HINT}") from exc
            self._cv2 = cv2

    def _process(self, frame: np.ndarray) -> np.ndarray:
        """(H, W) or (H, W, 3) frame -> (C, h, w) in the output size."""
        if self._cv2 is not None:
            height, width = self.resize  # type: ignore[misc]
            frame = self._cv2.resize(frame, (width, height), interpolation=self._cv2.INTER_AREA)
        if frame.ndim == 2:
            return frame[None]
        return frame.transpose(2, 0, 1)

    def push(self, frames: list[np.ndarray]) -> np.ndarray:
        """Add the max over ``frames`` (the last one or two of a skip) and return a copy of the stack."""
        frame = frames[0] if len(frames) == 1 else np.maximum(frames[-2], frames[-1])
        c = self.channels
        self.buffer[:-c] = self.buffer[c:]
        self.buffer[-c:] = self._process(frame)
        return self.buffer.copy()

    def fill(self, frame: np.ndarray) -> np.ndarray:
        """Start an episode: every slot holds the first frame."""
        processed = self._process(frame)
        c = self.channels
        for i in range(0, self.buffer.shape[0], c):
            self.buffer[i:i + c] = processed
        return self.buffer.copy()


def standard_gymnasium_stack(env: Any, skip: int = 4, size: int = 84, stack: int = 4) -> Any:
    """Gymnasium's usual Atari-style chain (skip -> gray -> resize -> stack): the benchmark's baseline."""
    from gymnasium.wrappers import (
        FrameStackObservation,
        GrayscaleObservation,
        MaxAndSkipObservation,
        ResizeObservation,
    )

    env = MaxAndSkipObservation(env, skip=skip)
    env = GrayscaleObservation(env, keep_dim=False)
    env = ResizeObservation(env, (size, size))
    return FrameStackObservation(env, stack_size=stack)
