"""Throughput of Super Mario Bros: the raw emulator, our env, and gymnasium's standard wrapper stack, interleaved."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np

from rllab.core.errors import UserError, choices_hint
from rllab.core.extras import MARIO_INSTALL_HINT
from rllab.envs.mario.env import _ACTION_LISTS, ACTION_SETS, mario_available
from rllab.envs.mario.wrappers import standard_gymnasium_stack


@dataclass
class BenchResult:
    """Throughput of one pipeline, summed over the interleaved rounds."""

    name: str
    agent_steps: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    obs_shape: tuple[int, ...] = ()

    @property
    def steps_per_s(self) -> float:
        return self.agent_steps / max(self.wall_s, 1e-9)

    @property
    def steps_per_cpu_s(self) -> float:
        return self.agent_steps / max(self.cpu_s, 1e-9)


def _pipelines(actions: str) -> dict[str, tuple[Any, int]]:
    """name -> (env, emulated frames per agent step); all three on World 1-1 with the same action set."""
    import gym_super_mario_bros  # noqa: F401  (registers SuperMarioBros-*)
    import gym_super_mario_bros.actions as action_lists
    from nes_py.wrappers import JoypadSpace


    buttons = getattr(action_lists, _ACTION_LISTS[actions])
    raw = JoypadSpace(gym.make("SuperMarioBros-1-1-v0"), buttons)
    standard = standard_gymnasium_stack(JoypadSpace(gym.make("SuperMarioBros-1-1-v0"), buttons))
    ours = gym.make("rllab/SuperMario-v0", actions=actions, noop_max=0)
    return {"raw": (raw, 1), "ours": (ours, 4), "gymnasium": (standard, 4)}


def run_benchmark(steps: int, actions: str, seed: int, rounds: int = 3,
                  on_round: Callable[[], None] | None = None) -> list[BenchResult]:
    """Random actions through each pipeline in interleaved rounds, so load spikes on a shared CPU hit all."""
    pipelines = _pipelines(actions)
    results = {name: BenchResult(name) for name in pipelines}
    try:
        for env, _ in pipelines.values():
            env.reset(seed=seed)
        for _ in range(rounds):
            for name, (env, skip) in pipelines.items():
                rng = np.random.default_rng(seed)
                n = env.action_space.n
                frames = steps * 4 // rounds
                t_wall, t_cpu = time.perf_counter(), time.process_time()
                for _ in range(frames // skip):
                    obs, _, terminated, truncated, _ = env.step(int(rng.integers(n)))
                    if terminated or truncated:
                        env.reset()
                result = results[name]
                result.wall_s += time.perf_counter() - t_wall
                result.cpu_s += time.process_time() - t_cpu
                result.agent_steps += frames // 4
                result.obs_shape = tuple(np.shape(obs))
            if on_round is not None:
                on_round()
    finally:
        for env, _ in pipelines.values():
            env.close()
    return list(results.values())


def check_mario_bench(steps: int, actions: str) -> None:
    """One clear error for a bad argument or a missing emulator, before anything starts."""
    if steps < 3:
        raise UserError(f"--steps must be >= 3, got {steps}")
    if actions not in ACTION_SETS:
        raise UserError(f"unknown --actions {actions!r}; {choices_hint(ACTION_SETS)}")
    if not mario_available():
        raise UserError(f"the Mario benchmark needs the emulator: {MARIO_INSTALL_HINT}")
