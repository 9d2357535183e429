"""Environments for training and evaluation, built from a :class:`TrainConfig`: id, kwargs and wrappers."""

from __future__ import annotations

import inspect
import os
import re
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv

import rllab.envs
from rllab.agents.sb3.rollout_workers import RolloutWorkers
from rllab.core.config import unknown_name
from rllab.core.errors import UserError
from rllab.core.imports import import_object
from rllab.core.train_config import TrainConfig


def apply_wrappers(env: gym.Env, wrappers: list[Any]) -> gym.Env:
    """Wrap ``env`` with each ``"module:callable"`` or ``{"module:callable": {kwargs}}`` entry, in order."""
    for item in wrappers:
        if isinstance(item, str):
            env = import_object(item)(env)
        elif isinstance(item, dict) and len(item) == 1:
            ((spec, kwargs),) = item.items()
            env = import_object(spec)(env, **(kwargs or {}))
        else:
            raise UserError(f"bad wrapper entry {item!r}: use 'module:callable' or {{'module:callable': {{...}}}}")
    return env


def env_arguments(env_id: str) -> dict[str, inspect.Parameter]:
    """The keyword arguments ``gym.make(env_id, ...)`` passes to the environment, with their defaults."""
    try:
        spec = gym.spec(env_id)
    except gym.error.Error as exc:
        raise UserError(f"unknown env {env_id!r}: {exc}") from None
    entry = spec.entry_point
    target = import_object(entry) if isinstance(entry, str) else entry
    signature = inspect.signature(target)
    if all(p.kind == p.VAR_KEYWORD for p in signature.parameters.values()):   # a factory taking **kwargs
        returned = typing.get_type_hints(target).get("return")
        if isinstance(returned, type):
            signature = inspect.signature(returned)
    return {name: p for name, p in signature.parameters.items()
            if name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def _bad_kwarg(env_id: str, exc: TypeError) -> UserError:
    match = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
    if match:
        known = env_arguments(env_id)
        return unknown_name("env_kwargs key", match.group(1), known, env_id)
    return UserError(f"bad env_kwargs for {env_id!r}: {exc}")


def make_env(config: TrainConfig, render_mode: str | None = None) -> gym.Env:
    """One environment with the config's kwargs and wrappers (no Monitor)."""
    kwargs = dict(config.env_kwargs)
    if render_mode:
        kwargs["render_mode"] = render_mode
    try:
        env = gym.make(config.env, **kwargs)
    except gym.error.Error as exc:
        raise UserError(f"cannot make env {config.env!r}: {exc} (see `rllab envs`; ours: "
                        f"{', '.join(rllab.envs.REGISTERED_IDS)})") from None
    except TypeError as exc:
        raise _bad_kwarg(config.env, exc) from None
    return apply_wrappers(env, config.wrappers)


def make_vec_env(config: TrainConfig, monitor_dir: Path | None, append: bool = False) -> VecEnv:
    """The training VecEnv: ``n_envs`` copies, each under an SB3 Monitor logging the info keywords."""
    make_env(config).close()  # fail fast, in this process, on a bad id or kwargs

    def factory(rank: int) -> Callable[[], gym.Env]:
        def thunk() -> gym.Env:
            env = make_env(config)
            filename = str(monitor_dir / f"{rank}") if monitor_dir is not None else None
            return Monitor(env, filename=filename, info_keywords=tuple(config.eval.info_keywords),
                           override_existing=not append)

        return thunk

    fns = [factory(i) for i in range(config.n_envs)]
    vec: VecEnv
    if config.vec_env == "subproc":
        vec = SubprocVecEnv(fns, start_method="forkserver")
    elif config.vec_env == "workers":  # one process per core, each sampling its share of the envs
        vec = RolloutWorkers(fns, n_workers=min(config.n_envs, len(os.sched_getaffinity(0))))
    else:
        vec = DummyVecEnv(fns)
    vec.seed(config.seed)
    return vec
