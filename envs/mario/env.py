"""``rllab/SuperMario-v0``: Super Mario Bros on the real NES emulator (gym-super-mario-bros 9.1 + nes-py 9).

One env does what usually takes five wrappers (joypad actions, frame skip with max-pooling, grayscale,
resize, frame stack) plus the reward preset, because the emulator, not Python, should dominate a step: see
:mod:`envs.mario_wrappers` for why and ``rllab bench mario`` for the measured gain.

The emulator is deterministic and ignores the seed, so variety comes from random no-op starts and optional
sticky actions, both drawn from the seeded ``np_random``. Importing this module works without the
``[mario]`` extra; constructing the env then raises :class:`UserError` naming the install command.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import gymnasium as gym
import numpy as np

from rllab.core.config import unknown_name
from rllab.core.errors import UserError, choices_hint
from rllab.core.extras import MARIO_INSTALL_HINT
from rllab.envs.mario.curriculum import Curriculum, CurriculumPlan
from rllab.envs.mario.tiles import BOUND, RamStack
from rllab.envs.mario.wrappers import (
    SIGNALS,
    FrameStack,
    MarioRam,
    frame_signals,
    reward_preset,
)

ACTION_SETS = ("right_only", "simple", "complex")
OBS_MODES = ("pixels", "ram")
#: ``reset(options=EVALUATION)`` always starts at the level start (the curriculum is for training only).
EVALUATION = "evaluation"
_ACTION_LISTS = {"right_only": "RIGHT_ONLY", "simple": "SIMPLE_MOVEMENT", "complex": "COMPLEX_MOVEMENT"}
_BUTTONS = {"right": 0x80, "left": 0x40, "down": 0x20, "up": 0x10, "start": 0x08, "select": 0x04, "B": 0x02,
            "A": 0x01, "NOOP": 0x00}
_PACKAGE_COMPONENTS = ("progress", "time", "score", "coins", "powerup", "completion", "death")


def mario_available() -> bool:
    """True when gym-super-mario-bros and nes-py are importable."""
    try:
        return all(importlib.util.find_spec(m) is not None for m in ("gym_super_mario_bros", "nes_py"))
    except (ImportError, ValueError):  # ValueError: a module blocked in sys.modules
        return False


def action_buttons(actions: str) -> list[list[str]]:
    """The joypad button combinations of an action set (gym-super-mario-bros' lists; needs the [mario] extra)."""
    if actions not in ACTION_SETS:
        raise UserError(f"unknown action set {actions!r}; {choices_hint(ACTION_SETS)}")
    import gym_super_mario_bros.actions as action_lists

    return getattr(action_lists, _ACTION_LISTS[actions])


def _stage_error(text: str) -> UserError:
    return UserError(f"unknown stage {text}; valid: WORLD-STAGE with world 1-8 and stage 1-4, e.g. 1-1 or 4-1")


def parse_stage(text: str) -> tuple[int, int]:
    """``"1-1"`` -> ``(1, 1)``; anything that is not a stage of Super Mario Bros is one clear error."""
    world, _, stage = str(text).partition("-")
    if not (world.isdigit() and stage.isdigit() and 1 <= int(world) <= 8 and 1 <= int(stage) <= 4):
        raise _stage_error(repr(text))
    return int(world), int(stage)


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise UserError(f"{name} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise UserError(f"{name} must be in {bounds}, got {value}")
    return int(value)


class SuperMarioEnv(gym.Env):
    """Super Mario Bros with preprocessing and a named reward preset.

    Observation, ``obs="pixels"``: ``uint8`` ``(frame_stack * C, H, W)``, channel-first (C = 1 gray or 3
    colour), which SB3's ``CnnPolicy`` takes as is. ``obs="ram"``: ``float32`` ``(frame_stack * 214,)`` for an
    MLP, read from the NES RAM with no pixel work at all; per stacked frame, oldest first, a 13 x 16 tile grid
    (rows = the 13 metatile rows of the playfield top to bottom, columns = level columns from 4 left of Mario's
    to 11 right of it; cell 1 solid tile, -1 enemy, 2 Mario, 0 empty or not yet decoded), then 6 scalars: x speed
    / 40, y speed / 5, on ground (0/1), power-up / 2, Mario's x inside his tile / 16, his screen y / 240 (see
    :mod:`rllab.envs.mario.tiles`). Episode: one stage from its start, ending on the flag or on death
    (``world=None, stage=None`` plays the whole game with 3 lives instead, ending on game over, or on each
    lost life with ``end_on_life_loss``). ``reward_scale`` multiplies the preset's reward (0.1 keeps PPO's value
    loss from swamping the policy gradient in the shared CNN, as uvipen's /10 does). ``stall_limit`` truncates an
    episode after that many agent steps without a new maximum x (an agent pinned against a pipe otherwise waits
    ~2,000 steps for the clock). The final ``info`` carries ``x_pos_max`` and ``flag_get``, the unshaped task
    metrics, ``start_x`` (where the episode started) and ``ret_<component>`` episode sums of every reward
    component.

    ``curriculum`` (a mapping, see :class:`~rllab.envs.mario.curriculum.CurriculumConfig`) starts some training
    episodes from emulator states along the stage; ``reset(options={"evaluation": True})`` ignores it and
    starts at the level start, as every evaluation does.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 60}

    def __init__(
        self,
        world: int | None = 1,
        stage: int | None = 1,
        actions: str = "simple",
        frame_skip: int = 4,
        max_pool: bool = True,
        grayscale: bool = True,
        resize: int | tuple[int, int] | None = 84,
        frame_stack: int = 4,
        reward: str = "classic",
        reward_scale: float = 1.0,
        end_on_life_loss: bool = False,
        sticky_prob: float = 0.0,
        noop_max: int = 30,
        stall_limit: int | None = None,
        obs: str = "pixels",
        curriculum: dict[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        if not mario_available():
            raise UserError(f"Super Mario Bros needs gym-super-mario-bros and nes-py: {MARIO_INSTALL_HINT}")
        if (world is None) != (stage is None):
            raise UserError("give both world and stage (one stage) or neither (the whole game)")
        if world is not None:
            world, stage = _check_int("world", world, 0), _check_int("stage", stage, 0)
            if not (1 <= world <= 8 and 1 <= stage <= 4):
                raise _stage_error(f"{world}-{stage}")
        if actions not in ACTION_SETS:
            raise UserError(f"unknown action set {actions!r}; {choices_hint(ACTION_SETS)}")
        if obs not in OBS_MODES:
            raise unknown_name("observation mode (obs)", str(obs), OBS_MODES)
        self.frame_skip = _check_int("frame_skip", frame_skip, 1)
        frame_stack = _check_int("frame_stack", frame_stack, 1)
        self.noop_max = _check_int("noop_max", noop_max, 0)
        self.stall_limit = None if stall_limit is None else _check_int("stall_limit", stall_limit, 1)
        if isinstance(sticky_prob, bool) or not isinstance(sticky_prob, (int, float)) or not 0 <= sticky_prob < 1:
            raise UserError(f"sticky_prob must be a number in [0, 1), got {sticky_prob!r}")
        self.sticky_prob = float(sticky_prob)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise UserError(f"unknown render_mode {render_mode!r}; {choices_hint(self.metadata['render_modes'])}")
        if isinstance(resize, (int, np.integer)) and not isinstance(resize, bool):
            resize = (int(resize), int(resize))
        if resize is not None and not (
            isinstance(resize, (tuple, list)) and len(resize) == 2
            and all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 8 for s in resize)
        ):
            raise UserError(f"resize must be None, an int or (height, width) of at least 8, got {resize!r}")
        if isinstance(reward_scale, bool) or not isinstance(reward_scale, (int, float)) or reward_scale <= 0:
            raise UserError(f"reward_scale must be a positive number, got {reward_scale!r}")
        self.reward_scale = float(reward_scale)
        self.reward_name = reward
        self._preset = reward_preset(reward)
        self.end_on_life_loss = bool(end_on_life_loss)
        self.max_pool = bool(max_pool)
        self.grayscale = bool(grayscale)
        self.render_mode = render_mode
        self.metadata = {**self.metadata, "render_fps": 60 // self.frame_skip}

        plan = None if curriculum is None else CurriculumPlan.check(curriculum, world, stage)

        import gym_super_mario_bros

        self.world, self.stage = world, stage
        target = None if world is None else (world, stage)
        self._nes = gym_super_mario_bros.SuperMarioBrosEnv(target=target)
        self._emu = self._nes._env
        buttons = action_buttons(actions)
        self._bytes = [sum(_BUTTONS[b] for b in combo) for combo in buttons]
        self.action_meanings = [" ".join(combo) for combo in buttons]
        self.action_space = gym.spaces.Discrete(len(self._bytes))
        if obs == "ram":
            self._frames = None
            self._ram_stack = RamStack(frame_stack)
            self.observation_space = gym.spaces.Box(-BOUND, BOUND, (self._ram_stack.size,),
                                                    dtype=np.float32)
        else:
            self._frames = FrameStack(frame_stack, tuple(resize) if resize is not None else None, self.grayscale)
            self.observation_space = gym.spaces.Box(0, 255, self._frames.buffer.shape, dtype=np.uint8)
        self._component_names = (*(SIGNALS if self._preset is not None else _PACKAGE_COMPONENTS), "clip")
        self._closed = False
        self._needs_reset = True
        self._last_byte = 0
        try:
            self.curriculum = None if plan is None else Curriculum.build(plan, self)
        except BaseException:
            self.close()
            raise

    # -- internals ---------------------------------------------------------------------------------------

    def _ram(self) -> MarioRam:
        return MarioRam.read(self._nes.ram.tobytes())

    def _grab(self) -> np.ndarray:
        """A copy of the current screen (native grayscale or RGB): the emulator reuses its buffer."""
        if self.grayscale:
            return self._emu.copy_screen_grayscale()
        return self._emu.copy_screen_rgb()

    def _terminal(self, ram: MarioRam, lives_at_start: int) -> bool:
        if self.world is not None:
            return ram.dying or ram.dead or ram.flag
        if ram.life == 0xFF:  # game over: the counter goes 2, 1, 0, then 255
            return True
        return self.end_on_life_loss and (ram.dying or ram.dead or ram.life < lives_at_start)

    def _action_byte(self, action: Any) -> int:
        if isinstance(action, np.ndarray) and action.ndim == 0:
            action = action.item()
        if isinstance(action, bool) or not isinstance(action, (int, np.integer)):
            raise UserError(f"action must be an integer in [0, {self.action_space.n}), got {action!r}")
        if not 0 <= action < self.action_space.n:
            raise UserError(f"action {action} out of range [0, {self.action_space.n})")
        return self._bytes[int(action)]

    def _check_open(self) -> None:
        if self._closed:
            raise UserError("this SuperMario env is closed; create a new one with gymnasium.make")

    # -- the emulator as the curriculum sees it (rllab.envs.mario.curriculum.Emulator) ----------------------

    def advance_frame(self, byte: int) -> MarioRam:
        """One emulated frame exactly as :meth:`step` runs it (including the package's skips)."""
        self._emu.frame_advance(byte)
        ram = self._ram()
        if not self._terminal(ram, ram.life):
            self._nes._did_step(False)
        return ram

    def restart_level(self) -> MarioRam:
        self._nes.reset()
        return self._ram()

    def snapshot(self) -> Any:
        return self._nes.dump_state()

    def load_snapshot(self, snapshot: Any) -> MarioRam:
        self._nes.load_state(snapshot)
        self._nes._did_reset()  # the package's reward trackers start from the loaded state
        return self._ram()

    def _observe_start(self) -> np.ndarray:
        if self._frames is None:
            return self._ram_stack.fill(self._nes.ram)
        return self._frames.fill(self._grab())

    # -- gymnasium API -------------------------------------------------------------------------------------

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        self._check_open()
        super().reset(seed=seed)
        evaluation = bool(options and options.get(EVALUATION))
        start = None if evaluation or self.curriculum is None else self.curriculum.choose(self.np_random)
        noop_max = self.noop_max
        if start is None:
            self._nes.reset()
        else:
            self.load_snapshot(start[1])
            noop_max = self.curriculum.config.noop_max
        noops = int(self.np_random.integers(0, noop_max + 1)) if noop_max else 0
        for _ in range(noops * self.frame_skip):
            self._emu.frame_advance(0)
            self._nes._did_step(False)
        self._nes._did_reset()  # resync the package's reward trackers after the no-ops
        self._ram_now = self._ram()
        if self._terminal(self._ram_now, self._ram_now.life):  # an enemy reached Mario during the no-ops
            return self.reset(options=options)
        self._lives_at_start = self._ram_now.life
        self._x_max = self._start_x = self._ram_now.x
        ram = self._ram_now
        self._stall_x, self._stall_place, self._stalled = ram.x, (ram.world, ram.stage, ram.life), 0
        self._death_counted = False
        self._last_byte = 0
        self._episode = {name: 0.0 for name in self._component_names}
        self._needs_reset = False
        return self._observe_start(), self._info(self._ram_now, {})

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        self._check_open()
        byte = self._action_byte(action)
        if self._needs_reset:
            raise UserError("the episode is over; call reset() before step()")
        nes, emu, preset = self._nes, self._emu, self._preset
        components: dict[str, float] = {}
        reward = 0.0
        frames: list[np.ndarray] = []
        terminated = False
        prev = self._ram_now
        pixels = self._frames is not None
        first_pooled = self.frame_skip - (2 if self.max_pool else 1)
        for i in range(self.frame_skip):
            if self.sticky_prob and self.np_random.random() < self.sticky_prob:
                byte_now = self._last_byte
            else:
                byte_now = byte
            self._last_byte = byte_now
            emu.frame_advance(byte_now)
            cur = self._ram()
            if preset is None:
                reward += self._package_reward(components)
            else:
                signals = frame_signals(prev, cur, self._death_counted)
                reward += preset.frame_reward(signals, components)
            if cur.dying or cur.dead:
                self._death_counted = True
            elif self._death_counted and cur.life != prev.life:
                self._death_counted = False
            self._x_max = max(self._x_max, cur.x)
            terminated = self._terminal(cur, self._lives_at_start)
            if pixels and (i >= first_pooled or terminated):
                frames.append(self._grab())
            if terminated:
                break
            # The package's skips (death animation, pipes, black screens between lives). As in the classic
            # reward, the next frame's deltas are taken from the state before these skipped frames.
            nes._did_step(False)
            prev = cur
        if self.reward_scale != 1.0:
            reward *= self.reward_scale
            components = {name: value * self.reward_scale for name, value in components.items()}
        self._ram_now = cur
        place = (cur.world, cur.stage, cur.life)
        if cur.x > self._stall_x or place != self._stall_place:  # progress, or a new stage or life
            self._stall_x, self._stall_place, self._stalled = cur.x, place, 0
        else:
            self._stalled += 1
        truncated = not terminated and self.stall_limit is not None and self._stalled >= self.stall_limit
        self._needs_reset = terminated or truncated
        for name, value in components.items():
            self._episode[name] = self._episode.get(name, 0.0) + value
        if self.curriculum is not None:
            self.curriculum.steps += 1
        obs = self._frames.push(frames) if pixels else self._ram_stack.push(self._nes.ram)
        return obs, float(reward), terminated, truncated, self._info(cur, components)

    def _package_reward(self, components: dict[str, float]) -> float:
        """gym-super-mario-bros 9.x's reward for the frame just emulated, clipped to +-15 as the package does."""
        nes = self._nes
        total = nes._get_reward()
        for name, value in nes._last_reward_components.items():
            components[name] = components.get(name, 0.0) + value
        clipped = float(np.clip(total, -15.0, 15.0))
        if clipped != total:
            components["clip"] = components.get("clip", 0.0) + clipped - total
        return clipped

    def _info(self, ram: MarioRam, components: dict[str, float]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "x_pos": ram.x,
            "x_pos_max": self._x_max,
            "start_x": self._start_x,
            "y_pos": ram.y,
            "flag_get": int(ram.flag),
            "death": int(ram.dying or ram.dead),
            "time": ram.clock,
            "coins": ram.coins,
            "score": ram.score,
            "life": ram.life,
            "world": ram.world,
            "stage": ram.stage,
            "status": ram.status_name,
            "reward_components": components,
        }
        for name, value in self._episode.items():
            info[f"ret_{name}"] = value
        return info

    def render(self) -> np.ndarray | None:
        """The full-colour NES frame, (240, 256, 3) ``uint8``, in ``rgb_array`` mode (a fresh copy)."""
        self._check_open()
        if self.render_mode != "rgb_array":
            return None
        return self._emu.copy_screen_rgb()

    def get_action_meanings(self) -> list[str]:
        return list(self.action_meanings)

    def close(self) -> None:
        """Free the emulator; safe to call twice."""
        if not self._closed:
            self._nes.close()
            self._closed = True


def make_super_mario(**kwargs: Any) -> SuperMarioEnv:
    """Entry point of ``rllab/SuperMario-v0``; see :class:`SuperMarioEnv` for the keyword arguments."""
    return SuperMarioEnv(**kwargs)
