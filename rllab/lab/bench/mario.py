"""Throughput of Super Mario Bros: the raw emulator, our env (pixels and RAM), gymnasium's standard wrapper stack,
the whole PPO training loop of two presets, and the cost of a curriculum start (snapshot load vs replay)."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rllab.agents import sb3
from rllab.core.errors import UserError, choices_hint
from rllab.core.extras import MARIO_INSTALL_HINT
from rllab.core.runs import RunDir
from rllab.core.train_config import build_config
from rllab.envs.mario.curriculum import CurriculumConfig, Route, load_route, replay, shipped_routes
from rllab.envs.mario.env import _ACTION_LISTS, ACTION_SETS, SuperMarioEnv, mario_available
from rllab.envs.mario.wrappers import standard_gymnasium_stack

#: The presets whose whole PPO loop the benchmark times: today's pixel preset and the RAM one.
TRAIN_PRESETS = ("mario-ppo-cpu", "mario-ram-ppo")
#: Loops ``--train-extra`` can add: a label -> (preset, overrides).
TRAIN_EXTRAS: dict[str, tuple[str, dict[str, Any]]] = {
    "mario-ram-ppo+lockstep": ("mario-ram-ppo", {"algo": "ppo", "vec_env": "subproc"}),  # SB3's loop, same envs
}


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
    ram = gym.make("rllab/SuperMario-v0", actions=actions, noop_max=0, obs="ram")
    return {"raw": (raw, 1), "ours": (ours, 4), "ours-ram": (ram, 4), "gymnasium": (standard, 4)}


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


def check_mario_bench(steps: int, actions: str, train_steps: int = 0, train_rounds: int = 1,
                      train_extra: tuple[str, ...] = ()) -> None:
    """One clear error for a bad argument or a missing emulator, before anything starts."""
    if steps < 3:
        raise UserError(f"--steps must be >= 3, got {steps}")
    if train_steps < 0:
        raise UserError(f"--train-steps must be >= 0, got {train_steps}")
    if train_rounds < 1:
        raise UserError(f"--train-rounds must be >= 1, got {train_rounds}")
    for name in train_extra:
        if name not in TRAIN_EXTRAS:
            raise UserError(f"unknown --train-extra {name!r}; {choices_hint(TRAIN_EXTRAS)}")
    if actions not in ACTION_SETS:
        raise UserError(f"unknown --actions {actions!r}; {choices_hint(ACTION_SETS)}")
    if not mario_available():
        raise UserError(f"the Mario benchmark needs the emulator: {MARIO_INSTALL_HINT}")


@dataclass
class TrainBench:
    """The whole ``rllab train`` loop of one preset (env workers, rollouts, PPO updates) for a few thousand steps."""

    preset: str
    steps: int
    wall_s: float
    n_envs: int
    vec_env: str
    policy: str

    @property
    def steps_per_s(self) -> float:
        return self.steps / max(self.wall_s, 1e-9)


def run_train_benchmark(steps: int, presets: tuple[str, ...] = TRAIN_PRESETS, rounds: int = 2,
                        on_preset: Callable[[str], None] | None = None) -> list[TrainBench]:
    """Train each preset (or :data:`TRAIN_EXTRAS` label) for ``steps`` steps (no evaluation, no checkpoint) in a
    throw-away run directory, alternating for ``rounds`` rounds so that a load spike on shared cores hits all.

    Wall-clock steps/s of ``model.learn`` as the trainer reports it, so env construction is left out. One
    :class:`TrainBench` per preset, summed over the rounds.
    """
    totals: dict[str, TrainBench] = {}
    with tempfile.TemporaryDirectory(prefix="rllab-bench-") as root:
        for round_ in range(rounds):
            for name in presets:
                preset, extra = TRAIN_EXTRAS.get(name, (name, {}))
                config = build_config(None, None, preset, {"steps": steps, "eval.freq": 0, "progress_bar": False,
                                                           "checkpoint.freq": 10 * steps, **extra})
                run = RunDir.create(Path(root) / f"{name}-{round_}", config.to_dict(), seed=config.seed,
                                    command=["bench", name])
                sb3.train(config, run, progress=False)
                status = run.status
                done = totals.setdefault(name, TrainBench(name, 0, 0.0, config.n_envs, config.vec_env, config.policy))
                done.steps += int(status["steps"])
                done.wall_s += float(status["train_seconds"])
                if on_preset is not None:
                    on_preset(name)
    return [totals[name] for name in presets]


@dataclass
class StartCost:
    """Seconds to put Mario at a curriculum point: loading a kept snapshot vs replaying the route to it."""

    points: int
    build_s: float
    load_s: float
    replay_s: float


def curriculum_start_cost(route: Route | None = None, loads: int = 200) -> StartCost:
    """Time a snapshot load and a replay to the farthest default point of the 1-1 route (mean per start)."""
    route = route or load_route(shipped_routes()["1-1"])
    env = SuperMarioEnv(world=route.world, stage=route.stage, obs="ram", noop_max=0)
    try:
        config = CurriculumConfig()
        points = list(range(config.spacing, route.end_x, config.spacing))
        started = time.perf_counter()
        states = replay(env, route, points, "the shipped route")
        build = time.perf_counter() - started
        started = time.perf_counter()
        for i in range(loads):
            env.load_snapshot(states[i % len(states)][1])
        load = (time.perf_counter() - started) / loads
        started = time.perf_counter()
        replay(env, route, points[-1:], "the shipped route")
        again = time.perf_counter() - started
    finally:
        env.close()
    return StartCost(len(points), build, load, again)
